// vitest globalSetup of the e2e project: the tests spawn apps/cli/bin/zotune.js, which runs the bundle
// apps/cli/dist/main.js. Under Nx the test target depends on the CLI's build; run directly
// (`npx vitest run tests/x.test.ts`) the bundle is rebuilt here (esbuild, about a second) so that a
// test never runs a stale CLI.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  if (process.env.NX_TASK_TARGET_PROJECT) return;
  const cli = fileURLToPath(new URL('../apps/cli/', import.meta.url));
  execFileSync(process.execPath, ['../../tools/build.mjs', '--app', 'src/main.ts'], { cwd: cli, stdio: 'inherit' });
}
