import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests beside the code, and integration tests that start real parts
// (crun, network namespaces, Xvnc, Chromium). Integration tests run one file at a time because they
// share the host's cgroups, namespaces and CPU.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            'packages/*/src/**/*.integration.test.ts',
            'packages/*/test/**/*.integration.test.ts',
          ],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
