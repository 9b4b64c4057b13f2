import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rosbag2McapWriter } from '@fieldloop/ros-bridge';
import { renderRoad, steeringFor } from './render-road.ts';
import { renderSign, SIGN_CLASSES } from './render-sign.ts';
import { compareBigInt, seededRandom } from '@fieldloop/contracts';

/** Topics of the generated drives; the mapping `configs/mappings/sim-drive.yaml` reads them. */
export const SIM_TOPICS = {
  image: '/camera/front/image_raw/compressed',
  steering: '/vehicle/steering_angle',
  status: '/vehicle/status',
} as const;

export interface SimDataOptions {
  out: string;
  drives: number;
  /** Frames per drive, at 10 frames per second. */
  frames: number;
  /** Sign crops per class. */
  signsPerClass: number;
  seed: number;
  width?: number;
  height?: number;
}

export interface SimDataResult {
  drives: string[];
  signs: string;
  frames: number;
  signCrops: number;
}

const FRAME_NS = 100_000_000n;
/** 2024-06-01T12:00:00Z; drive d starts d hours later. */
const START_NS = 1_717_243_200_000_000_000n;

async function png(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
}

/**
 * Writes one drive as a rosbag2 MCAP bag: camera frames at 10 Hz, a steering angle per frame
 * whose log time is jittered by up to 25 ms so it must be matched by time, and a status string
 * once per second naming the scenario (`run:day` or `run:night`).
 */
async function writeDrive(dir: string, index: number, options: SimDataOptions): Promise<void> {
  const width = options.width ?? 160;
  const height = options.height ?? 90;
  const random = seededRandom(options.seed * 1000 + index);
  const night = index % 2 === 1;
  const bag = await Rosbag2McapWriter.create(dir, [
    { topic: SIM_TOPICS.image, type: 'sensor_msgs/msg/CompressedImage' },
    { topic: SIM_TOPICS.steering, type: 'std_msgs/msg/Float32' },
    { topic: SIM_TOPICS.status, type: 'std_msgs/msg/String' },
  ]);
  const start = START_NS + BigInt(index) * 3_600_000_000_000n;
  const phase = random() * Math.PI * 2;
  let offset = (random() - 0.5) * 0.6;
  const pending: Array<{ topic: string; time: bigint; message: unknown }> = [];
  for (let frame = 0; frame < options.frames; frame += 1) {
    const time = start + BigInt(frame) * FRAME_NS;
    const curvature = 0.9 * Math.sin(phase + frame / 23) * Math.cos(frame / 61 + index);
    offset = Math.max(-0.5, Math.min(0.5, offset + (random() - 0.5) * 0.08 - 0.03 * offset));
    const scene = { width, height, curvature, offset, brightness: night ? 0.38 : 1, dashPhase: frame * 0.4, random };
    const stamp = { sec: Number(time / 1_000_000_000n), nanosec: Number(time % 1_000_000_000n) };
    pending.push({
      topic: SIM_TOPICS.image,
      time,
      message: { header: { stamp, frame_id: 'camera_front' }, format: 'png', data: await png(renderRoad(scene), width, height) },
    });
    const jitterNs = BigInt(Math.round((random() - 0.5) * 50)) * 1_000_000n;
    pending.push({ topic: SIM_TOPICS.steering, time: time + jitterNs, message: { data: steeringFor(scene) } });
    if (frame % 10 === 0) pending.push({ topic: SIM_TOPICS.status, time, message: { data: night ? 'run:night' : 'run:day' } });
  }
  pending.sort((a, b) => compareBigInt(a.time, b.time));
  for (const item of pending) await bag.write(item.topic, item.time, item.message);
  await bag.close();
}

/** Writes sign crops as PNG files with a `labels.csv` of `path,sign` rows. */
async function writeSigns(dir: string, options: SimDataOptions): Promise<number> {
  const staging = `${dir}.partial`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(join(staging, 'img'), { recursive: true });
  const random = seededRandom(options.seed * 7919 + 1);
  const size = 32;
  const rows = ['path,sign'];
  let count = 0;
  for (let i = 0; i < options.signsPerClass; i += 1) {
    for (const kind of SIGN_CLASSES) {
      const name = `img/${String(count).padStart(5, '0')}.png`;
      await writeFile(join(staging, name), await png(renderSign({ size, kind, random }), size, size));
      rows.push(`${name},${kind}`);
      count += 1;
    }
  }
  await writeFile(join(staging, 'labels.csv'), `${rows.join('\n')}\n`);
  await rename(staging, dir);
  return count;
}

/**
 * Generates the built-in data set: procedurally drawn drives as real rosbag2 MCAP bags and a
 * folder of traffic-sign crops, so the loop can run with nothing outside the repository. Output
 * is deterministic for a seed. Existing output under `out` is replaced.
 */
export async function generateSimData(options: SimDataOptions): Promise<SimDataResult> {
  const drivesDir = join(options.out, 'drives');
  await rm(drivesDir, { recursive: true, force: true });
  await mkdir(drivesDir, { recursive: true });
  const drives: string[] = [];
  for (let index = 0; index < options.drives; index += 1) {
    const dir = join(drivesDir, `drive_${String(index).padStart(3, '0')}`);
    await writeDrive(dir, index, options);
    drives.push(dir);
  }
  const signs = join(options.out, 'signs');
  await rm(signs, { recursive: true, force: true });
  const signCrops = await writeSigns(signs, options);
  return { drives, signs, frames: options.drives * options.frames, signCrops };
}
