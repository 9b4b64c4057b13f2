import { RecordingError } from './recording-reader.ts';

/** Decompresses one chunk's data to exactly `uncompressedSize` bytes, or throws. */
export type Ros1Decompress = (data: Uint8Array, uncompressedSize: number) => Uint8Array;

/** Chunk compressions that ROS 1 `rosbag` writes besides `none`. */
export const ROS1_CHUNK_COMPRESSIONS = ['bz2', 'lz4'] as const;
export type Ros1ChunkCompression = (typeof ROS1_CHUNK_COMPRESSIONS)[number];

export function isSupportedCompression(name: string): name is Ros1ChunkCompression {
  return (ROS1_CHUNK_COMPRESSIONS as readonly string[]).includes(name);
}

// Each WebAssembly decoder compiles on first use and is then shared by every reader of the process.
const loaded = new Map<Ros1ChunkCompression, Promise<Ros1Decompress>>();

function checkSize(name: string, output: Uint8Array, expected: number): Uint8Array {
  if (output.length !== expected) {
    throw new Error(`${name} chunk decompressed to ${output.length} bytes, but its header states ${expected}`);
  }
  return output;
}

async function loadBz2(): Promise<Ros1Decompress> {
  const { default: Bzip2 } = await import('@foxglove/wasm-bz2');
  const bzip2 = await Bzip2.init();
  return (data, uncompressedSize) => {
    if (uncompressedSize === 0) return new Uint8Array(0);
    return checkSize('bz2', bzip2.decompress(data, uncompressedSize, { small: false }), uncompressedSize);
  };
}

async function loadLz4(): Promise<Ros1Decompress> {
  const { default: decompress } = await import('@foxglove/wasm-lz4');
  await decompress.isLoaded;
  return (data, uncompressedSize) => {
    if (uncompressedSize === 0) return new Uint8Array(0);
    return checkSize('lz4', decompress(data, uncompressedSize), uncompressedSize);
  };
}

/** Loads the decoder for one compression, at most once per process unless loading failed. */
export function loadDecompressor(name: Ros1ChunkCompression): Promise<Ros1Decompress> {
  let pending = loaded.get(name);
  if (pending === undefined) {
    pending = name === 'bz2' ? loadBz2() : loadLz4();
    // A failed load is dropped from the cache so that the next bag can try again.
    pending.catch(() => loaded.delete(name));
    loaded.set(name, pending);
  }
  return pending;
}

/** Builds the error for a chunk whose compression this reader cannot decode. */
export function unsupportedCompressionError(path: string, compression: string, chunkOffset: number): RecordingError {
  return new RecordingError(
    path,
    `${path} has a chunk at byte ${chunkOffset} compressed with '${compression}', which the ROS 1 bag ` +
      `reader does not support (supported: none, ${ROS1_CHUNK_COMPRESSIONS.join(', ')}); ` +
      'decompress the bag with `rosbag decompress` and open it again',
  );
}

/** Loads a decoder, turning a failed WebAssembly load into a RecordingError for `path`. */
export async function loadDecompressorFor(path: string, name: Ros1ChunkCompression): Promise<Ros1Decompress> {
  try {
    return await loadDecompressor(name);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new RecordingError(
      path,
      `Loading the ${name} decoder for ${path} failed (${detail}); check that @foxglove/wasm-${name} is installed`,
      { cause: error },
    );
  }
}
