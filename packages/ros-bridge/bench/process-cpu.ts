import { readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` times on Linux (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time that process `pid` has used so far, user and system, in milliseconds, read from
 * `/proc/<pid>/stat`. Returns NaN where that file does not exist (not Linux, or the process ended).
 */
export function processCpuMs(pid: number | null): number {
  if (pid === null) return Number.NaN;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return Number.NaN;
  }
  // The command name in brackets may contain spaces, so fields are counted after its closing bracket.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND) * 1000;
}
