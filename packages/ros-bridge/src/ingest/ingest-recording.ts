import { computeSampleId, sha256Hex, type LabelValue, type SampleRecord } from '@fieldloop/contracts';
import type { MessageDecoder } from '../decode/index.ts';
import { imageFromMessage } from '../image/ros-image.ts';
import { prepareEncodedImage, prepareRawImage } from '../image/prepare-image.ts';
import { describeMissingField, readField, type FieldPath } from '../mapping/field-path.ts';
import { applyTransforms, LabelTransformError, type LabelTransform } from '../mapping/label-transform.ts';
import { MappingError } from '../mapping/load-mapping.ts';
import type { Mapping } from '../mapping/mapping.ts';
import { TimeMatcher, type MatchedFrame } from '../mapping/time-matcher.ts';
import { recordingName } from '../recording/open-recording.ts';
import type { RawMessage, RecordingReader } from '../recording/recording-reader.ts';
import { lossesForReport, SkipLog, type SourceReport } from './ingest-report.ts';
import { TopicTally } from './read-recording.ts';
import type { SampleSink } from './sample-sink.ts';

/** Called after each message with the bytes read so far, for progress bars. */
export type ProgressCallback = (messagesRead: number) => void;

export interface IngestRecordingOptions {
  /** Null reads and decodes every message and only reports per topic. */
  mapping: Mapping | null;
  decoder: MessageDecoder;
  sink: SampleSink | null;
  onProgress?: ProgressCallback;
  /**
   * Stops reading once aborted. Frames still waiting for their labels are dropped rather than
   * emitted without them, so a later run that skips the samples emitted so far continues alike.
   */
  signal?: AbortSignal;
}

type Frame = { message: RawMessage; decoded: unknown };

function stampToNs(stamp: unknown): bigint | null {
  if (stamp === null || typeof stamp !== 'object') return null;
  const { sec, nanosec, nsec } = stamp as { sec?: unknown; nanosec?: unknown; nsec?: unknown };
  const nanos = nanosec ?? nsec;
  if (typeof sec !== 'number' || typeof nanos !== 'number') return null;
  return BigInt(sec) * 1_000_000_000n + BigInt(nanos);
}

function describe(message: RawMessage): string {
  return `${message.channel.topic} at log time ${message.logTime} in ${message.file}`;
}

/** Checks that every topic the mapping names exists in the recording, before any reading. */
function checkTopics(mapping: Mapping, reader: RecordingReader): void {
  const available = new Map(reader.channels().map((channel) => [channel.topic, channel.type]));
  const wanted = [
    mapping.image.topic,
    ...mapping.labels.map((label) => label.topic),
    ...mapping.tags.flatMap((tag) => (tag.kind === 'topic' ? [tag.topic] : [])),
  ].filter((topic): topic is string => topic !== null);
  const missing = wanted.filter((topic) => !available.has(topic));
  if (missing.length > 0) {
    const list = [...available.entries()].map(([topic, type]) => `${topic} (${type})`).join(', ');
    throw new MappingError(
      `mapping ${mapping.source} names ${missing.join(', ')}, which ${reader.path} does not contain; ` +
        `its topics are: ${list || 'none'}. Fix the topic names in the mapping.`,
    );
  }
}

/**
 * Reads a mapped field of a decoded message and applies its transforms. Raises a MappingError
 * that starts with `context` when the field does not exist or its value cannot become a label.
 */
function mappedValue(decoded: unknown, spec: { path: FieldPath; transforms: readonly LabelTransform[] }, context: string): LabelValue {
  const raw = readField(decoded, spec.path);
  if (raw === undefined) {
    const missing = describeMissingField(decoded, spec.path) ?? 'the field is undefined';
    throw new MappingError(`${context}: ${missing}. Fix the field in the mapping.`);
  }
  try {
    return applyTransforms(raw, spec.transforms);
  } catch (error) {
    if (!(error instanceof LabelTransformError)) throw error;
    throw new MappingError(`${context}: ${error.message}`);
  }
}

/**
 * Reads one recording and counts its topics. Without a mapping it decodes every message, so a
 * recording can be checked whole. With one it decodes only mapped topics, pairs each image with
 * its labels by time and sends the prepared samples to the sink.
 */
export async function ingestRecording(reader: RecordingReader, options: IngestRecordingOptions): Promise<SourceReport> {
  const { mapping, decoder, sink } = options;
  // A truncated file may keep its channel records only inside the cut chunk, and readers learn
  // those channels while reading. The check therefore runs again after the last message.
  if (mapping && reader.channels().length > 0) checkTopics(mapping, reader);
  const recording = recordingName(reader);
  const tally = new TopicTally(reader);
  const skipped = new SkipLog();
  const unlabelled: Record<string, number> = {};
  const labelsByTopic = new Map<string, Mapping['labels']>();
  const tagsByTopic = new Map<string, Array<Extract<Mapping['tags'][number], { kind: 'topic' }>>>();
  for (const label of mapping?.labels ?? []) {
    labelsByTopic.set(label.topic as string, [...(labelsByTopic.get(label.topic as string) ?? []), label]);
    unlabelled[label.head] = 0;
  }
  for (const tag of mapping?.tags ?? []) {
    if (tag.kind === 'topic') tagsByTopic.set(tag.topic, [...(tagsByTopic.get(tag.topic) ?? []), tag]);
  }
  const stateNames = (mapping?.tags ?? []).flatMap((tag, index) => (tag.kind === 'topic' ? [`tag${index}`] : []));
  const matcher = new TimeMatcher<Frame, LabelValue>(
    (mapping?.labels ?? []).map((label) => ({ name: label.head, toleranceNs: label.toleranceNs })),
    stateNames,
  );
  let samples = 0;

  const timeOf = (message: RawMessage, decoded: unknown): bigint => {
    if (mapping?.time !== 'header') return message.logTime;
    const stamp = stampToNs(readField(decoded, ['header', 'stamp']));
    if (stamp === null) {
      throw new MappingError(
        `mapping ${mapping.source} matches on header time, but ${describe(message)} has no header.stamp; ` +
          'set time: log in the mapping',
      );
    }
    return stamp;
  };

  const emit = async (frames: MatchedFrame<Frame, LabelValue>[]): Promise<void> => {
    for (const matched of frames) {
      if (await buildSample(matched)) samples += 1;
    }
  };

  const buildSample = async (matched: MatchedFrame<Frame, LabelValue>): Promise<boolean> => {
    if (!mapping || !sink) return false;
    const labels: Record<string, LabelValue> = {};
    for (const label of mapping.labels) {
      const value = matched.labels.get(label.head);
      if (value === undefined) unlabelled[label.head] = (unlabelled[label.head] ?? 0) + 1;
      else labels[label.head] = value;
    }

    const origin = describe(matched.frame.message);
    if (mapping.requireAllLabels && Object.keys(labels).length < mapping.labels.length) {
      skipped.add(`${origin}: no label within tolerance for ${mapping.labels.filter((l) => !(l.head in labels)).map((l) => l.head).join(', ')}`);
      return false;
    }
    if (Object.keys(labels).length === 0) {
      skipped.add(`${origin}: no label of any head within tolerance`);
      return false;
    }

    const tags = new Set<string>();
    mapping.tags.forEach((tag, index) => {
      if (tag.kind === 'static') tags.add(tag.value);
      else {
        const value = matched.states.get(`tag${index}`);
        if (value !== undefined) tags.add(String(value));
      }
    });

    let image;
    let prepared;
    try {
      image = imageFromMessage(matched.frame.decoded, origin);
      prepared = image.kind === 'encoded'
        ? await prepareEncodedImage(image.bytes, mapping.image, origin)
        : await prepareRawImage(image.pixels, mapping.image, origin);
    } catch (error) {
      skipped.add((error as Error).message);
      return false;
    }

    const inputSha256 = sha256Hex(prepared.input);
    const sortedTags = [...tags].sort();
    const splitKey = mapping.split.by === 'segment'
      ? `${recording}@${matched.time / BigInt(Math.round(mapping.split.seconds * 1e9))}`
      : recording;
    const record: SampleRecord = {
      id: computeSampleId(inputSha256, labels, sortedTags),
      imageSha256: sha256Hex(image.bytes),
      inputSha256,
      width: prepared.width,
      height: prepared.height,
      labels,
      tags: sortedTags,
      source: {
        recording,
        topic: matched.frame.message.channel.topic,
        logTimeNs: matched.frame.message.logTime.toString(),
        file: matched.frame.message.file,
      },
      splitKey,
    };
    await sink.add(record, { image: image.bytes, input: prepared.input });
    return true;
  };

  let read = 0;
  for await (const message of reader.messages()) {
    if (options.signal?.aborted === true) break;
    tally.count(message);
    read += 1;
    const topic = message.channel.topic;
    const isImage = mapping?.image.topic === topic;
    const labelSpecs = labelsByTopic.get(topic);
    const tagSpecs = tagsByTopic.get(topic);
    if (mapping && !isImage && !labelSpecs && !tagSpecs) {
      options.onProgress?.(read);
      continue;
    }
    let decoded: unknown;
    try {
      decoded = options.decoder.decode(message);
    } catch (error) {
      tally.decodeFailed(message, error as Error);
      if (isImage) skipped.add(`${describe(message)}: ${(error as Error).message}`);
      else if (labelSpecs || tagSpecs) throw error;
      continue;
    }
    if (isImage) await emit(matcher.pushFrame(timeOf(message, decoded), { message, decoded }));
    for (const label of labelSpecs ?? []) {
      const value = mappedValue(decoded, label, `mapping ${mapping?.source}: label ${label.head} from field ${label.field} of ${describe(message)}`);
      await emit(matcher.pushLabel(label.head, timeOf(message, decoded), value));
    }
    for (const tag of tagSpecs ?? []) {
      const index = mapping?.tags.indexOf(tag) ?? -1;
      const value = mappedValue(decoded, tag, `mapping ${mapping?.source}: tag from field ${tag.field} of ${describe(message)}`);
      await emit(matcher.pushState(`tag${index}`, timeOf(message, decoded), value));
    }
    options.onProgress?.(read);
  }
  if (mapping) checkTopics(mapping, reader);
  if (options.signal?.aborted !== true) await emit(matcher.flush());
  return {
    path: reader.path,
    format: reader.format,
    recording,
    files: [...reader.files],
    topics: tally.report(),
    losses: lossesForReport(reader.losses()),
    samples,
    skipped: skipped.count,
    skipReasons: skipped.reasons,
    unlabelled,
  };
}
