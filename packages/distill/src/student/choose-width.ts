import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import { buildStudent } from './build-student.ts';

/** Width multipliers tried, widest first, when none is given. */
export const WIDTH_CANDIDATES = [1, 0.75, 0.5, 0.45, 0.4, 0.35, 0.25];

/**
 * Returns the widest candidate multiplier whose student has at most `maxShare` of
 * `teacherParameters`, or the narrowest candidate when none fits (with `fits` false).
 */
export function chooseWidth(heads: HeadSpec[], input: InputSpec, teacherParameters: number, maxShare: number): { width: number; parameters: number; fits: boolean } {
  let last = { width: WIDTH_CANDIDATES.at(-1)!, parameters: Number.POSITIVE_INFINITY, fits: false };
  for (const width of WIDTH_CANDIDATES) {
    const model = buildStudent(heads, input, { widthMultiplier: width });
    const parameters = model.countParams();
    model.dispose();
    if (parameters <= maxShare * teacherParameters) return { width, parameters, fits: true };
    last = { width, parameters, fits: false };
  }
  return last;
}

