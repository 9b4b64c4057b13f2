import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeAtomically } from '../output/layers-model-files.ts';

/** Training progress stored with each checkpoint. */
export interface TrainingState {
  /** Last completed epoch, counting from 1. */
  epoch: number;
  step: number;
  bestMetric: number | null;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  /** sha256 of the config, heads and data key the run started with; resuming with others is rejected. */
  configHash: string;
  elapsedSeconds: number;
}

interface CheckpointIndex {
  state: TrainingState;
  groups: { model: number; optimizer: number; extra: string[] };
  specs: tf.io.WeightsManifestEntry[];
}

export interface CheckpointParts {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
  /** Further variables to store by name, such as learned log-variances. */
  extra: Record<string, tf.Variable>;
}

const INDEX_FILE = 'checkpoint.json';
const DATA_FILE = 'checkpoint.bin';

/**
 * Writes model weights (BatchNorm statistics included), optimizer slots and the state into
 * `dir`, replacing the previous checkpoint. The new files are complete before the old ones go,
 * so a kill at any point leaves one readable checkpoint.
 */
export async function saveCheckpoint(dir: string, parts: CheckpointParts, state: TrainingState): Promise<void> {
  const modelWeights = parts.model.weights.map((weight) => ({ name: `model/${weight.originalName}`, tensor: weight.read() }));
  const optimizerWeights = await parts.optimizer.getWeights();
  const extraNames = Object.keys(parts.extra).sort();
  const extraWeights = extraNames.map((name) => ({ name: `extra/${name}`, tensor: parts.extra[name] as tf.Tensor }));
  const named = [...modelWeights, ...optimizerWeights.map((w) => ({ name: `optimizer/${w.name}`, tensor: w.tensor })), ...extraWeights];
  const { data, specs } = await tf.io.encodeWeights(named);
  // getWeights() returns a fresh scalar for the iteration count next to the slot variables.
  tf.dispose(optimizerWeights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  const bytes = new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
  const index: CheckpointIndex = {
    state,
    groups: { model: modelWeights.length, optimizer: optimizerWeights.length, extra: extraNames },
    specs,
  };
  const staging = `${dir}.new`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeAtomically(join(staging, DATA_FILE), bytes);
  await writeAtomically(join(staging, INDEX_FILE), JSON.stringify(index));
  const previous = `${dir}.old`;
  await rm(previous, { recursive: true, force: true });
  if (await exists(dir)) await rename(dir, previous);
  await rename(staging, dir);
  await rm(previous, { recursive: true, force: true });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Finds the checkpoint directory to resume from: `dir`, or `dir.old` when a kill came between the two renames. */
async function findCheckpoint(dir: string): Promise<string | null> {
  for (const candidate of [dir, `${dir}.old`]) {
    if (await exists(join(candidate, INDEX_FILE))) return candidate;
  }
  return null;
}

/**
 * Restores a checkpoint into the parts and returns its state, or null when `dir` holds none.
 * Throws when the stored weights do not match the model's shapes.
 */
export async function loadCheckpoint(dir: string, parts: CheckpointParts): Promise<TrainingState | null> {
  const found = await findCheckpoint(dir);
  if (found === null) return null;
  const index = JSON.parse(await readFile(join(found, INDEX_FILE), 'utf8')) as CheckpointIndex;
  const bytes = await readFile(join(found, DATA_FILE));
  const tensors = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), index.specs);
  const ordered = index.specs.map((spec) => tensors[spec.name] as tf.Tensor);
  const modelTensors = ordered.slice(0, index.groups.model);
  const weights = parts.model.weights;
  if (modelTensors.length !== weights.length) {
    throw new Error(`Checkpoint ${found} holds ${modelTensors.length} model weights but the model has ${weights.length}. Remove the checkpoint or use the config it was made with.`);
  }
  weights.forEach((weight, i) => {
    const tensor = modelTensors[i]!;
    if (!tf.util.arraysEqual(weight.shape as number[], tensor.shape)) {
      throw new Error(`Checkpoint weight ${index.specs[i]?.name} has shape [${tensor.shape}] but the model expects [${weight.shape}].`);
    }
    weight.write(tensor);
  });
  const optimizerSpecs = index.specs.slice(index.groups.model, index.groups.model + index.groups.optimizer);
  const optimizerTensors = ordered.slice(index.groups.model, index.groups.model + index.groups.optimizer);
  if (optimizerTensors.length > 0) {
    await parts.optimizer.setWeights(
      optimizerTensors.map((tensor, i) => ({ name: optimizerSpecs[i]!.name.replace(/^optimizer\//, ''), tensor })),
    );
  }
  index.groups.extra.forEach((name, i) => {
    const tensor = ordered[index.groups.model + index.groups.optimizer + i];
    const variable = parts.extra[name];
    if (tensor !== undefined && variable !== undefined) variable.assign(tensor);
  });
  // Variables that took these values hold their own reference on the data.
  tf.dispose(ordered);
  return index.state;
}
