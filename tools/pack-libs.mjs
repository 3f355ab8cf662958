#!/usr/bin/env node
// Pack the publishable libraries (every libs/* package that is not private) into DIR: one tarball
// each, with the manifest as installed (tools/prepack.mjs). Until the @zotune packages are on the npm
// registry this is how a project outside the repository gets them: `npm install DIR/*.tgz` (each
// package needs its @zotune dependencies' tarballs beside it). Build first: npx nx run-many -t build.
// Prints npm's JSON report of the tarballs (name, filename, files) on stdout.
//
//   node tools/pack-libs.mjs DIR
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dest = process.argv[2];
if (!dest || process.argv.length > 3) {
  process.stderr.write('usage: node tools/pack-libs.mjs DIR   (the directory the tarballs go to)\n');
  process.exit(2);
}
const libs = readdirSync(join(root, 'libs'))
  .filter((d) => existsSync(join(root, 'libs', d, 'package.json')))
  .filter((d) => !JSON.parse(readFileSync(join(root, 'libs', d, 'package.json'), 'utf8')).private);
mkdirSync(resolve(dest), { recursive: true });
const out = execFileSync('npm', ['pack', '--json', '--pack-destination', resolve(dest), ...libs.map((d) => `--workspace=libs/${d}`)], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
process.stdout.write(out);
