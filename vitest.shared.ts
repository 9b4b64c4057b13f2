import { defineConfig } from 'vitest/config';

/**
 * The vitest settings every package shares: tests under `src/` and `test/`, one-minute timeouts,
 * a JSON report in `test-report/` for `.ci/test-summary.mjs`, and a temp folder per run.
 */
export function packageTestConfig(options: { passWithNoTests: boolean }) {
  return defineConfig({
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      reporters: ['default', 'json'],
      outputFile: { json: 'test-report/vitest.json' },
      passWithNoTests: options.passWithNoTests,
      globalSetup: [new URL('./vitest.temp-root.ts', import.meta.url).pathname],
    },
  });
}
