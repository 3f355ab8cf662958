#!/usr/bin/env node
// The zotune bin: runs the built CLI (dist/main.js: the apps and libs bundled by `nx run @zotune/cli:build`,
// which `npm ci` runs through the root "prepare" script). No TypeScript is compiled at start.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(`zotune: ${main.pathname} is not built; run \`npx nx run @zotune/cli:build\` (npm ci does it)\n`);
  process.exit(1);
}
await import(main.href);
