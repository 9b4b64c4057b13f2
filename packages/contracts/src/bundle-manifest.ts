import type { HeadSpec, InputSpec } from './head-spec.ts';

/** Format of the model file inside a bundle. */
export type ModelFormat = 'tflite' | 'tfjs';

/** The manifest of a model bundle: what robots verify, load and run. */
export interface BundleManifest {
  name: string;
  /** Monotonic version; a robot never downgrades except by rollback. */
  version: number;
  /** ISO 8601 creation time. */
  created: string;
  heads: HeadSpec[];
  input: InputSpec;
  model: {
    /** File name relative to the bundle directory (for tfjs: the model.json). */
    file: string;
    format: ModelFormat;
    /** sha256 of the model file (for tfjs: of model.json followed by the weight files in manifest order). */
    sha256: string;
    bytes: number;
    quantization: 'float32' | 'int8';
    /** Output tensor names by head name, where the file's names differ from the head names. */
    outputs?: Record<string, string>;
  };
  /** Hash of the data set snapshot the model was trained on. */
  snapshotHash: string | null;
  /** Base64 ed25519 signature over the canonical JSON of the manifest without this field. */
  signature?: string;
  /** Id of the key that signed, so robots can hold several trusted keys. */
  keyId?: string;
}
