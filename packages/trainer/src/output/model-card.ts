import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import type * as tf from '@tensorflow/tfjs';
import type { TeacherConfig } from '../model/teacher-config.ts';
import { loadLayersModel, writeAtomically } from './layers-model-files.ts';

export const MODEL_CARD_FILE = 'model-card.json';

/** Description of a trained teacher, written next to its model.json. */
export interface ModelCard {
  format: 'fieldloop-teacher-card';
  version: 1;
  createdAt: string;
  heads: HeadSpec[];
  input: InputSpec;
  /** Output names of the LayersModel, in output order; each equals a head name. */
  outputs: string[];
  data: {
    storeDir: string;
    snapshotVersion: number;
    manifestHash: string;
    samples: { train: number; val: number };
  };
  /** Per head on the validation split: the model's headline metrics and those of the trivial baseline. */
  metrics: Record<string, { model: Record<string, number | null>; baseline: Record<string, number | null> }>;
  backend: { name: string; tfBackend: string; reason: string; versions: Record<string, string> };
  training: {
    seconds: number;
    epochs: number;
    bestEpoch: number;
    stoppedEarly: boolean;
    /** Learned log-variance per head, with uncertainty weighting. */
    logVariances?: Record<string, number>;
    /** The teacher this one was fine-tuned from, with the replay share of earlier data. */
    fineTunedFrom?: { dir: string; replay: number };
  };
  config: TeacherConfig;
}

export async function writeModelCard(dir: string, card: ModelCard): Promise<void> {
  await writeAtomically(join(dir, MODEL_CARD_FILE), `${JSON.stringify(card, null, 2)}\n`);
}

export async function readModelCard(dir: string): Promise<ModelCard> {
  let text: string;
  try {
    text = await readFile(join(dir, MODEL_CARD_FILE), 'utf8');
  } catch (error) {
    throw new Error(`Cannot read ${join(dir, MODEL_CARD_FILE)}: ${(error as Error).message}. Pass a directory written by 'fieldloop train'.`);
  }
  const card = JSON.parse(text) as ModelCard;
  if (card.format !== 'fieldloop-teacher-card') {
    throw new Error(`${join(dir, MODEL_CARD_FILE)} is not a teacher model card (format ${JSON.stringify(card.format)}).`);
  }
  return card;
}

export interface Teacher {
  model: tf.LayersModel;
  card: ModelCard;
}

/** Loads a trained teacher (model and card) from the output directory of `fieldloop train`, for distillation or evaluation. */
export async function loadTeacher(dir: string): Promise<Teacher> {
  const card = await readModelCard(dir);
  const model = await loadLayersModel(dir);
  const missing = card.heads.map((head) => head.name).filter((name) => !model.outputNames.includes(name));
  if (missing.length > 0) {
    throw new Error(`Teacher in ${dir} has no model output for head(s) ${missing.join(', ')}; outputs are ${model.outputNames.join(', ')}.`);
  }
  return { model, card };
}
