// The vitest configuration every project shares: each project's vitest.config.ts re-exports it, and
// @nx/vitest infers the project's `test` target from that file (`vitest run` in the project root).
// Tests run the TypeScript sources: the "@zotune/source" export condition resolves @zotune/* to
// src/index.ts, as tsc and tsx do, so no build is needed to test a change in a lib.
import { fileURLToPath } from 'node:url';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

/** The export condition of the workspace's packages that points at their TypeScript sources. */
export const SOURCE_CONDITION = '@zotune/source';
const at = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const conditions = [SOURCE_CONDITION, ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  // the environment vitest loads globalSetup files in
  environments: { __vitest__: { resolve: { conditions } } },
  test: {
    include: ['src/**/*.spec.ts', '*.test.ts'],
    // once per `vitest run`: find the data (ZOTUNE_DATA, ./data, ../shared/data) or fetch it; say which
    globalSetup: [at('./tests/data-setup.ts')],
    setupFiles: [at('./tests/setup.ts')],
    pool: 'forks',
    maxWorkers: 2,
    passWithNoTests: true,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
