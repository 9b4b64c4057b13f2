/**
 * Runs `action` while `console.warn` drops the warnings whose text matches `pattern`, and restores
 * `console.warn` when the action settles. Every other warning still reaches the console. It serves
 * third-party runtimes that warn about a condition the caller reports itself, such as a missing
 * GPU on a machine that runs on the CPU by design.
 */
export async function withoutConsoleWarning<T>(pattern: RegExp, action: () => T | Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!args.some((arg) => pattern.test(arg instanceof Error ? arg.message : String(arg)))) warn(...args);
  };
  try {
    return await action();
  } finally {
    console.warn = warn;
  }
}

/** The banner tfjs's cpu backend prints on its first tensor in Node, recommending @tensorflow/tfjs-node. */
export const TFJS_CPU_BANNER = /running TensorFlow\.js in Node\.js/;

/** The warning, with a stack trace, that LiteRT.js prints when it finds no WebGPU device. */
export const LITERT_WEBGPU_WARNING = /Failed to create default WebGPU device/;
