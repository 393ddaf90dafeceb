import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@flowmatch/source', 'node'] },
  ssr: { resolve: { conditions: ['@flowmatch/source', 'node'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'tools/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
