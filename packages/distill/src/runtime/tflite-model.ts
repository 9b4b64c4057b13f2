/** Runtimes that `loadTfliteModel` can run a .tflite file in. */
export type TfliteEngine = 'litert' | 'tfjs-tflite';

export const TFLITE_ENGINES: readonly TfliteEngine[] = ['litert', 'tfjs-tflite'];

export type TfliteDType = 'float32' | 'int32' | 'int8' | 'uint8';

export type TfliteArray = Float32Array | Int32Array | Int8Array | Uint8Array;

export interface TfliteTensorSpec {
  name: string;
  /** Shape with a fixed batch of 1. */
  shape: number[];
  dtype: TfliteDType;
}

/**
 * A .tflite model loaded in one runtime. `run` takes one typed array per input name (an int8
 * input may be fed as Int8Array or Int32Array) and returns one typed array per output name.
 */
export interface LoadedTfliteModel {
  engine: TfliteEngine;
  inputs: TfliteTensorSpec[];
  outputs: TfliteTensorSpec[];
  run(feeds: Record<string, TfliteArray>): Promise<Record<string, TfliteArray>>;
  close(): void;
}

/** Raised for a model that only TensorFlow Lite for Microcontrollers accepts. */
export class TfliteMicroOnlyError extends Error {
  constructor(file: string, detail: string) {
    super(
      `Model ${file} can only run in TensorFlow Lite for Microcontrollers: ${detail}. ` +
        'The full TFLite interpreter in LiteRT.js and tfjs-tflite rejects it; re-convert it with a valid quantized_dimension to run it here.',
    );
    this.name = 'TfliteMicroOnlyError';
  }
}

/** Raised when a runtime does not accept a model's input or output types or shapes. */
export class TfliteEngineUnsupportedError extends Error {
  constructor(
    readonly engine: TfliteEngine,
    message: string,
  ) {
    super(message);
    this.name = 'TfliteEngineUnsupportedError';
  }
}

/** Returns the number of elements of a shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Checks that `feeds` has one array of the right length per input, and returns them in input order. */
export function orderFeeds(inputs: TfliteTensorSpec[], feeds: Record<string, TfliteArray>): TfliteArray[] {
  const names = Object.keys(feeds);
  return inputs.map((input, index) => {
    const feed = feeds[input.name] ?? (inputs.length === 1 && names.length === 1 ? feeds[names[0]!] : undefined);
    if (feed === undefined) {
      throw new Error(`Missing feed for model input '${input.name}' (input ${index}); got feeds ${JSON.stringify(names)}.`);
    }
    const expected = elementCount(input.shape);
    if (feed.length !== expected) {
      throw new Error(`Feed for input '${input.name}' has ${feed.length} values, but shape [${input.shape.join(', ')}] needs ${expected}.`);
    }
    return feed;
  });
}
