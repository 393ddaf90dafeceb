import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@flowmatch/source'] },
  ssr: { resolve: { conditions: ['@flowmatch/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'tools/*/test/**/*.test.ts'],
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
