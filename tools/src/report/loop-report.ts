import type { SnapshotStats } from '@fieldloop/contracts';
import type { ModelEvaluation } from '../gate/evaluation.ts';
import type { GateDecision } from '../gate/decide-gate.ts';

/** A confusion matrix of one classification head. */
export interface ConfusionMatrix {
  classes: string[];
  /** matrix[label][prediction] counts. */
  matrix: number[][];
}

/** Everything one round produced, as the report shows it and as `--json` prints it. */
export interface RoundRecord {
  round: number;
  startedAt: string;
  durationSeconds: number;
  snapshot: { version: number; manifestHash: string; stats: SnapshotStats };
  /** Loss per epoch and head of the teacher's training, and of the student's distillation. */
  teacherLoss: Record<string, number[]>;
  studentLoss: Record<string, number[]>;
  teacher: ModelEvaluation | null;
  candidate: ModelEvaluation;
  deployed: ModelEvaluation | null;
  confusion: Record<string, ConfusionMatrix>;
  /** Batch-1 latency samples in milliseconds per engine. */
  latencySamplesMs: Record<string, number[]>;
  gate: GateDecision;
  /** Version published to the fleet, or null when the gate blocked it. */
  publishedVersion: number | null;
  /** Field samples the simulated fleet sent home, per robot. */
  fieldSamples: Record<string, number>;
  /** Model version each robot serves at the end of the round; null before its first model. */
  fleetVersions: Record<string, number | null>;
}

/** The report of a run of rounds. */
export interface LoopReport {
  title: string;
  generatedAt: string;
  rounds: RoundRecord[];
}
