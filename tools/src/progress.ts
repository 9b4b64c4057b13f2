import { SingleBar } from 'cli-progress';
import type { Progress } from '@fieldloop/contracts';

const NO_PROGRESS: Progress = { update() {}, stop() {} };

/** Starts a progress bar on stderr when it is a terminal; elsewhere returns a display that does nothing. */
export function startProgress(label: string, unit: string, total?: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return NO_PROGRESS;
  const counted = total !== undefined;
  const bar = new SingleBar({
    stream,
    format: counted
      ? `${label} [{bar}] {percentage}% {value}/{total} ${unit} | {eta_formatted} left`
      : `${label} {value} ${unit} | {duration_formatted}`,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  });
  bar.start(total ?? 0, 0);
  let stopped = false;
  return {
    update(done, newTotal) {
      if (stopped) return;
      if (newTotal !== undefined) bar.setTotal(newTotal);
      bar.update(done);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
