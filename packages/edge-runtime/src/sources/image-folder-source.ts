import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame, FrameSource } from './frame-source.ts';

const IMAGE_EXTENSIONS = /\.(png|jpe?g|bmp|webp|gif|tiff?)$/i;

/** Frames from the image files of a folder, in name order (numeric-aware), pulled as fast as inference runs. */
export class ImageFolderSource implements FrameSource {
  readonly name: string;
  readonly live = false;
  malformed = 0;
  private readonly dir: string;
  private readonly loop: boolean;

  constructor(dir: string, options: { loop?: boolean } = {}) {
    this.dir = dir;
    this.name = `folder:${dir}`;
    this.loop = options.loop ?? false;
  }

  async *frames(signal: AbortSignal): AsyncIterable<Frame> {
    const names = (await readdir(this.dir))
      .filter((name) => IMAGE_EXTENSIONS.test(name))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (names.length === 0) throw new Error(`image folder ${this.dir} has no image files (png, jpg, bmp, webp, gif, tiff)`);
    do {
      for (const name of names) {
        if (signal.aborted) return;
        const bytes = new Uint8Array(await readFile(join(this.dir, name)));
        yield { id: name, source: this.name, stamp: Date.now(), image: { kind: 'encoded', bytes }, bytes };
      }
    } while (this.loop && !signal.aborted);
  }
}
