import { defineConfig } from 'vitest/config';

// Long fleet runs, kept out of the default suite: `npx nx run ros-bridge:soak-fleet`.
export default defineConfig({
  test: {
    include: ['test/soak/**/*.soak.ts'],
    testTimeout: 900_000,
    hookTimeout: 60_000,
    globalSetup: ['../../vitest.temp-root.ts'],
  },
});
