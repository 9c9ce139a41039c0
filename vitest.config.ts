import { defineConfig } from 'vitest/config';

/**
 * Test files that run the bundled model (ONNX inference through the embedded engine, directly,
 * behind a server or through the CLI), besides the `*.real.test.ts` ones. They make up the
 * `real-model` project; everything else is `fast` (scripted engines, stubs, pure functions).
 * `npm test` runs both; `npm run test:fast` the fast ones alone.
 */
const REAL_MODEL = [
  'test/**/*.real.test.ts',
  'test/browser.test.ts',
  'test/cli-solve.test.ts',
  'test/data-fetch.test.ts',
  'test/decompose.test.ts',
  'test/engine-provenance.test.ts',
  'test/formats-cli.test.ts',
  'test/gateway.test.ts',
  'test/gateway-cli.test.ts',
  'test/gateway-remote.test.ts',
  'test/onnx-rewrite.test.ts',
  'test/openai.e2e.test.ts',
  'test/package.test.ts',
  'test/presets.test.ts',
  'test/server.test.ts',
  'test/server-cli.test.ts',
  'test/server-load.test.ts',
  'test/server-openai-client.test.ts',
  'test/server-socket.test.ts',
  'test/server-special-tokens.test.ts',
  'test/sft-stage1.test.ts',
];

export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/**/*.test.ts'],
          exclude: REAL_MODEL,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        // The real-model tests decode thousands of tokens on a 2-core CPU.
        test: { name: 'real-model', include: REAL_MODEL, testTimeout: 300_000, hookTimeout: 120_000 },
      },
    ],
  },
});
