#!/usr/bin/env node
// `npm pack` / `npm publish` of a library (its "prepack" script): the repository's LICENSE goes into
// the package, and the package must have been built (dist/index.js and dist/index.d.ts); its declarations
// get explicit `.js` relative imports (tools/dts-specifiers.mjs) whatever state the build cache left them in.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixDeclarationSpecifiers } from './dts-specifiers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const f of ['dist/index.js', 'dist/index.d.ts'])
  if (!existsSync(f)) {
    process.stderr.write(`prepack: ${join(process.cwd(), f)} missing; run \`npx nx run-many -t build\` first\n`);
    process.exit(1);
  }
copyFileSync(join(root, 'LICENSE'), 'LICENSE');
fixDeclarationSpecifiers('dist');
