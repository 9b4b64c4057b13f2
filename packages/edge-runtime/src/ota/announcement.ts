import { createHash } from 'node:crypto';
import type { BundleManifest } from '@fieldloop/contracts';

/** The target of a rollout: the robots of a fleet that take an update. */
export interface RolloutTarget {
  /** Rollout id; robots hash it with their id to decide percentage membership. */
  id: string;
  /** Explicit robot ids; when set, only these robots update. */
  robots?: string[];
  /** Share of robots, 0..100, picked by hash of rollout id and robot id. Default 100. */
  percentage?: number;
}

/**
 * The retained message on `fleetTopics.model(fleet)`. The bundle travels either inline as a
 * base64 ustar archive (`archive`), or as a URL the robot fetches (`url`, http(s) or a file
 * path on the robot). `archiveSha256` is checked before the archive is unpacked.
 */
export interface ModelAnnouncement {
  manifest: BundleManifest;
  archiveSha256: string;
  archive?: string;
  url?: string;
  rollout: RolloutTarget;
  /** Set by the publisher to stop a rollout; robots ignore stopped announcements. */
  stopped?: boolean;
}

/** One robot's update outcome, published on `fleetTopics.updates(fleet, robot)`. */
export interface UpdateReport {
  robot: string;
  name: string;
  version: number;
  rolloutId: string;
  outcome: 'probation' | 'applied' | 'rejected' | 'rolled-back';
  reason?: string;
  /** Version serving after this outcome. */
  serving: number | null;
  time: string;
}

/** Returns whether a robot belongs to a rollout's target. */
export function isTargeted(target: RolloutTarget, robot: string): boolean {
  if (target.robots && target.robots.length > 0) return target.robots.includes(robot);
  const percentage = target.percentage ?? 100;
  const bucket = createHash('sha256').update(`${target.id}:${robot}`).digest().readUInt32BE(0) % 100;
  return bucket < percentage;
}
