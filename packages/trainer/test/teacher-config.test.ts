import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTeacherConfig, parseTeacherConfig, TeacherConfigError } from '../src/model/teacher-config.ts';

const valid = {
  input: { width: 32, height: 32 },
  heads: [{ name: 'steering', kind: 'regression', flip: 'negate' }],
};

function problemsOf(raw: unknown): string[] {
  try {
    parseTeacherConfig(raw);
  } catch (error) {
    if (error instanceof TeacherConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('teacher config', () => {
  it('fills defaults for a minimal config', () => {
    const config = parseTeacherConfig(valid);
    expect(config.backbone.block).toBe('residual');
    expect(config.heads[0]?.role).toBe('primary');
    expect(config.training.optimizer).toBe('adamw');
  });

  it.each([
    ['missing heads', { input: { width: 32, height: 32 } }, 'heads must be a non-empty list'],
    ['unknown head kind', { ...valid, heads: [{ name: 'x', kind: 'ranking' }] }, 'heads[0].kind must be one of classification, binary, regression, got "ranking"'],
    ['duplicate head', { ...valid, heads: [{ name: 'a', kind: 'binary' }, { name: 'a', kind: 'binary' }] }, "heads[1].name 'a' is used by another head"],
    ['negate on classes', { ...valid, heads: [{ name: 'sign', kind: 'classification', flip: 'negate' }] }, "flip 'negate' applies to regression heads only"],
    ['no primary head', { ...valid, heads: [{ name: 'a', kind: 'binary', role: 'auxiliary' }] }, 'at least one head with role primary'],
    ['small input', { ...valid, input: { width: 4, height: 32 } }, 'input.width must be an integer >= 8, got 4'],
    ['bad stride', { ...valid, backbone: { stages: [{ channels: 8, stride: 3 }] } }, 'backbone.stages[0].stride must be 1 or 2, got 3'],
    ['unknown field', { ...valid, trianing: {} }, 'trianing is not a known field'],
    ['bad metric', { ...valid, training: { earlyStoppingMetric: 'steering.f1' } }, "earlyStoppingMetric 'steering.f1' is unknown"],
    ['negative weight', { ...valid, heads: [{ name: 'a', kind: 'binary', weight: -1 }] }, 'heads[0].weight must be a number >= 0, got -1'],
  ])('rejects %s', (_name, raw, message) => {
    const problems = problemsOf(raw);
    expect(problems.some((problem) => problem.includes(message)), problems.join('\n')).toBe(true);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ input: { width: 'x', height: 32 }, heads: [{ name: '1bad', kind: 'regression' }] });
    expect(problems).toHaveLength(2);
  });

  it('reports invalid YAML with the path', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'trainer-config-')), 'bad.yaml');
    await writeFile(path, 'heads: [unclosed\n');
    await expect(loadTeacherConfig(path)).rejects.toThrow(`Invalid teacher config ${path}`);
  });

  it('reports a missing file', async () => {
    await expect(loadTeacherConfig('/nonexistent/teacher.yaml')).rejects.toThrow('Cannot read teacher config /nonexistent/teacher.yaml');
  });
});
