import type { Statistics } from '@mcap/core';
import type { ReadLoss, RecordingChannel } from './recording-reader.ts';

interface SchemaInfo {
  name: string;
  encoding: string;
  text: string;
}

/** A message whose channel id has no Channel record, so it cannot be given a topic. */
export interface OrphanMessage {
  channelId: number;
  logTime: bigint;
  /** Length of the whole Message record, prefix included. */
  recordLength: number;
}

const utf8 = new TextDecoder('utf-8');

/**
 * The schemas and channels of one MCAP file, turned into `RecordingChannel`s. The first record
 * seen for an id wins, because rosbag2 and @mcap/core repeat the same records in the summary.
 */
export class McapChannelRegistry {
  readonly list: RecordingChannel[] = [];
  readonly #channels = new Map<number, RecordingChannel>();
  readonly #schemas = new Map<number, SchemaInfo>();
  #messageCounts: ReadonlyMap<number, bigint> | null = null;
  /** True when the per-channel counts add up to the total, so an absent channel has 0 messages. */
  #countsAreComplete = false;
  readonly #orphans: OrphanMessage[] = [];

  /** Takes per-channel message counts from the summary's Statistics record. */
  setStatistics(statistics: Statistics): void {
    this.#messageCounts = statistics.channelMessageCounts;
    let sum = 0n;
    for (const count of statistics.channelMessageCounts.values()) sum += count;
    this.#countsAreComplete = sum === statistics.messageCount;
    for (const channel of this.list) channel.declaredCount = this.#declaredCount(channel.id);
  }

  addSchema(id: number, name: string, encoding: string, data: Uint8Array): void {
    if (this.#schemas.has(id)) return;
    this.#schemas.set(id, { name, encoding, text: utf8.decode(data) });
  }

  addChannel(id: number, schemaId: number, topic: string, messageEncoding: string): void {
    if (this.#channels.has(id)) return;
    const schema = schemaId === 0 ? undefined : this.#schemas.get(schemaId);
    // NOTE: a channel whose Schema record is missing or comes later gets an empty type and no
    // definition. The MCAP specification requires the Schema record to come first.
    const channel: RecordingChannel = {
      id,
      topic,
      type: schema?.name ?? '',
      encoding: messageEncoding,
      definition: schema ? { encoding: schema.encoding, text: schema.text } : null,
      declaredCount: this.#declaredCount(id),
    };
    this.#channels.set(id, channel);
    this.list.push(channel);
  }

  channel(id: number): RecordingChannel | undefined {
    return this.#channels.get(id);
  }

  get orphanCount(): number {
    return this.#orphans.length;
  }

  clearOrphans(): void {
    this.#orphans.length = 0;
  }

  addOrphans(orphans: readonly OrphanMessage[]): void {
    for (const orphan of orphans) this.#orphans.push(orphan);
  }

  /** Returns the loss for messages without a Channel record, or null when there were none. */
  orphanLoss(file: string): ReadLoss | null {
    if (this.#orphans.length === 0) return null;
    let bytes = 0;
    let startTime = this.#orphans[0]!.logTime;
    let endTime = startTime;
    const ids = new Set<number>();
    for (const orphan of this.#orphans) {
      bytes += orphan.recordLength;
      ids.add(orphan.channelId);
      if (orphan.logTime < startTime) startTime = orphan.logTime;
      if (orphan.logTime > endTime) endTime = orphan.logTime;
    }
    const idList = [...ids].sort((a, b) => a - b).join(', ');
    return {
      file,
      bytes,
      messages: this.#orphans.length,
      startTime,
      endTime,
      reason:
        `${this.#orphans.length} messages refer to channel ids with no Channel record (${idList}), ` +
        'so they have no topic or type and were skipped.',
    };
  }

  #declaredCount(id: number): number | null {
    if (this.#messageCounts === null) return null;
    const count = this.#messageCounts.get(id);
    if (count !== undefined) return Number(count);
    return this.#countsAreComplete ? 0 : null;
  }
}
