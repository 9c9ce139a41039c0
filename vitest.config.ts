import { defineConfig } from 'vitest/config';

/**
 * Two projects, told apart by file name: `*.real.test.ts` run the bundled model (ONNX inference
 * through the embedded engine, directly, behind a server or through the CLI); every other
 * `*.test.ts` is `fast` (scripted engines, stub servers, pure functions). `npm test` runs both;
 * `npm run test:fast` the fast ones alone. Helpers live in test/support/.
 */
const REAL_MODEL = 'test/**/*.real.test.ts';

export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/**/*.test.ts'],
          exclude: [REAL_MODEL],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        // The real-model tests decode thousands of tokens on a 2-core CPU.
        test: { name: 'real-model', include: [REAL_MODEL], testTimeout: 300_000, hookTimeout: 120_000 },
      },
    ],
  },
});
