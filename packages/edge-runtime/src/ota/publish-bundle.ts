import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fleetTopics, type BundleManifest, type Logger } from '@fieldloop/contracts';
import type { MqttClient } from 'mqtt';
import { packBundle } from '../bundle/bundle-archive.ts';
import { MANIFEST_FILE } from '../bundle/create-bundle.ts';
import type { ModelAnnouncement, UpdateReport } from './announcement.ts';

export interface PublishBundleOptions {
  client: MqttClient;
  fleet: string;
  bundleDir: string;
  /** Robot ids to update; default: every robot (subject to `percentage`). */
  robots?: string[];
  /** Share of robots to update, 0..100. Default 100. */
  percentage?: number;
  /**
   * URL (http(s), or a path on the robot) that robots fetch the archive from. Without it the
   * archive travels inline in the retained message. Either way the announcement carries the
   * sha256 of the packed bundle, so whatever serves `url` must serve packBundle's bytes.
   */
  url?: string;
  /** Stop the rollout when failed robots / reporting robots exceeds this share (0..1). Default 0.5. */
  stopAboveFailedShare?: number;
  /** Reports needed before the stop rule applies. Default 1. */
  minReports?: number;
  rolloutId?: string;
  log?: Logger;
}

/** A published rollout: outcomes per robot as they arrive, and whether it was stopped. */
export interface Rollout {
  readonly announcement: ModelAnnouncement;
  /** Final outcome per robot (`applied`, `rejected`, `rolled-back`); `probation` until settled. */
  readonly outcomes: Map<string, UpdateReport>;
  readonly stopped: boolean;
  /** The archive bytes, for serving over HTTP when `url` is used. */
  readonly archive: Buffer;
  /** Resolves when `robots` have all settled or the rollout stopped. */
  settled(robots: readonly string[], timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Publishes a bundle as the fleet's retained model announcement and tracks the robots' reports.
 * When the share of failed robots passes the threshold, it republishes the announcement with
 * `stopped: true`, so robots that have not updated yet keep their model.
 */
export async function publishBundle(options: PublishBundleOptions): Promise<Rollout> {
  const manifest = JSON.parse(await readFile(join(options.bundleDir, MANIFEST_FILE), 'utf8')) as BundleManifest;
  const archive = await packBundle(options.bundleDir);
  const archiveSha256 = createHash('sha256').update(archive).digest('hex');
  const announcement: ModelAnnouncement = {
    manifest,
    archiveSha256,
    ...(options.url ? { url: options.url } : { archive: archive.toString('base64') }),
    rollout: {
      id: options.rolloutId ?? randomUUID(),
      ...(options.robots ? { robots: options.robots } : {}),
      ...(options.percentage !== undefined ? { percentage: options.percentage } : {}),
    },
  };
  const topic = fleetTopics.model(options.fleet);
  const threshold = options.stopAboveFailedShare ?? 0.5;
  const minReports = options.minReports ?? 1;
  const outcomes = new Map<string, UpdateReport>();
  let stopped = false;
  const waiters = new Set<() => void>();
  const client = options.client;

  const onMessage = (messageTopic: string, payload: Buffer): void => {
    if (!messageTopic.startsWith(`fieldloop/${options.fleet}/robots/`) || !messageTopic.endsWith('/updates')) return;
    let report: UpdateReport;
    try {
      report = JSON.parse(payload.toString('utf8')) as UpdateReport;
    } catch {
      options.log?.warn({ topic: messageTopic }, 'ignoring an unreadable update report');
      return;
    }
    if (report.rolloutId !== announcement.rollout.id) return;
    outcomes.set(report.robot, report);
    const settledReports = [...outcomes.values()].filter((item) => item.outcome !== 'probation');
    const failed = settledReports.filter((item) => item.outcome !== 'applied').length;
    if (!stopped && settledReports.length >= minReports && failed / settledReports.length > threshold) {
      stopped = true;
      options.log?.warn({ version: manifest.version, failed, reports: settledReports.length }, 'failed share passed the threshold; stopping the rollout');
      void client.publishAsync(topic, JSON.stringify({ ...announcement, stopped: true }), { qos: 1, retain: true });
    }
    for (const wake of waiters) wake();
  };
  client.on('message', onMessage);
  await client.subscribeAsync(fleetTopics.allUpdates(options.fleet), { qos: 1 });
  await client.publishAsync(topic, JSON.stringify(announcement), { qos: 1, retain: true });
  options.log?.info({ version: manifest.version, rollout: announcement.rollout.id, bytes: archive.length }, 'bundle published');

  return {
    announcement,
    outcomes,
    archive,
    get stopped() {
      return stopped;
    },
    async settled(robots, timeoutMs) {
      const done = (): boolean => stopped || robots.every((robot) => {
        const outcome = outcomes.get(robot)?.outcome;
        return outcome !== undefined && outcome !== 'probation';
      });
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        if (Date.now() > deadline) {
          throw new Error(`rollout ${announcement.rollout.id}: robots ${robots.filter((robot) => !outcomes.has(robot)).join(', ') || '(all reported, some on probation)'} did not settle within ${timeoutMs} ms`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters.clear();
      }
    },
    async close() {
      client.off('message', onMessage);
      await client.unsubscribeAsync(fleetTopics.allUpdates(options.fleet)).catch(() => undefined);
    },
  };
}
