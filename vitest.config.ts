// `npx vitest run libs/zo` from the root: every project's own config (vitest.shared.ts), in one run.
// Nx runs each project's tests on its own (`npx nx run-many -t test`); this file is excluded from
// the @nx/vitest plugin in nx.json so that the root is not a project.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { projects: ['libs/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'tests/vitest.config.ts', 'scripts/vitest.config.ts'] },
});
