#!/usr/bin/env node
// `npm pack` / `npm publish` of a library: its "prepack" script (no argument) and "postpack" script
// (`--restore`), run by npm in the library's directory.
//
// prepack makes the directory what an installed package must be, on its own, outside the workspace:
//  - built: dist/index.js and dist/index.d.ts exist; the declarations of deleted sources are removed
//    and the others get explicit `.js` relative imports (tools/dts-specifiers.mjs) whatever state the
//    build cache left them in;
//  - the repository's LICENSE, and the data files the package owns (SHIPPED: the run presets for
//    @zotune/finetune, the task configs for @zotune/tasks, the policy store with the default policy
//    for @zotune/registry), copied in;
//  - the manifest as installed: @zotune/* dependencies pinned to the workspace's version of each (the
//    workspace's "*" names no published version), no "@zotune/source" export condition (it points at
//    src/, which is not packed), no scripts, no Nx settings, no devDependencies.
// npm reads package.json from disk when it writes the tarball, so prepack rewrites it in place and keeps
// the original in BACKUP; postpack puts the original back and removes the copies. A pack that died in
// between leaves BACKUP behind: the next prepack starts from it, the next postpack restores it.
//
// `npm publish` re-reads package.json after postpack for the registry's metadata: publish from a
// packed tarball (`npm publish <name>-<version>.tgz`) so that metadata is the packed manifest too.
import { copyFileSync, cpSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixDeclarationSpecifiers, removeStaleDeclarations } from './dts-specifiers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const BACKUP = '.package.json.prepack';
/** Repository paths each package ships, copied to the same relative path inside it. */
const SHIPPED = {
  '@zotune/finetune': ['configs/runs'],
  '@zotune/tasks': ['configs/tasks'],
  '@zotune/registry': ['policies'],
};
const SOURCE_CONDITION = '@zotune/source';

const fail = (msg) => {
  process.stderr.write(`prepack: ${msg}\n`);
  process.exit(1);
};

/** The manifest of this package as committed (the backup, if a previous pack died before postpack). */
function original() {
  return JSON.parse(readFileSync(existsSync(BACKUP) ? BACKUP : 'package.json', 'utf8'));
}

/** name → version of every workspace package (libs/* and apps/*). */
function workspaceVersions() {
  const versions = new Map();
  for (const group of ['libs', 'apps'])
    for (const d of readdirSync(join(root, group), { withFileTypes: true })) {
      const f = join(root, group, d.name, 'package.json');
      if (!d.isDirectory() || !existsSync(f)) continue;
      const p = JSON.parse(readFileSync(f, 'utf8'));
      versions.set(p.name, p.version);
    }
  return versions;
}

/** `exports` without the source condition, recursively. */
function withoutSourceCondition(exports) {
  if (exports === null || typeof exports !== 'object') return exports;
  if (Array.isArray(exports)) return exports.map(withoutSourceCondition);
  return Object.fromEntries(Object.entries(exports).filter(([k]) => k !== SOURCE_CONDITION).map(([k, v]) => [k, withoutSourceCondition(v)]));
}

/** The manifest as installed (see the header). */
export function packedManifest(pkg, versions) {
  const { scripts: _scripts, nx: _nx, devDependencies: _dev, ...rest } = pkg;
  const packed = { ...rest };
  if (pkg.exports) packed.exports = withoutSourceCondition(pkg.exports);
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    if (!pkg[field]) continue;
    packed[field] = Object.fromEntries(
      Object.entries(pkg[field]).map(([name, range]) => {
        if (!name.startsWith('@zotune/')) return [name, range];
        const version = versions.get(name);
        if (!version) fail(`${pkg.name}: ${field}["${name}"]: no workspace package of that name`);
        return [name, version];
      }),
    );
  }
  const shipped = SHIPPED[pkg.name] ?? [];
  if (shipped.length > 0) packed.files = [...(pkg.files ?? []), ...shipped];
  return packed;
}

function prepack() {
  for (const f of ['dist/index.js', 'dist/index.d.ts'])
    if (!existsSync(f)) fail(`${join(process.cwd(), f)} missing; run \`npx nx run-many -t build\` first`);
  removeStaleDeclarations('dist', 'src');
  fixDeclarationSpecifiers('dist');
  copyFileSync(join(root, 'LICENSE'), 'LICENSE');
  const pkg = original();
  for (const rel of SHIPPED[pkg.name] ?? []) {
    if (!existsSync(join(root, rel))) fail(`${pkg.name}: ${join(root, rel)} missing (a file the package ships)`);
    rmSync(rel, { recursive: true, force: true });
    cpSync(join(root, rel), rel, { recursive: true });
  }
  if (!existsSync(BACKUP)) copyFileSync('package.json', BACKUP);
  writeFileSync('package.json', JSON.stringify(packedManifest(pkg, workspaceVersions()), null, 2) + '\n');
}

function restore() {
  const pkg = original();
  for (const rel of SHIPPED[pkg.name] ?? []) {
    rmSync(rel, { recursive: true, force: true });
    // and the folders prepack created for it (configs/ of configs/tasks), when nothing else is in them
    for (let dir = dirname(rel); dir !== '.'; dir = dirname(dir)) if (existsSync(dir) && readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
  }
  if (existsSync(BACKUP)) renameSync(BACKUP, 'package.json');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--restore') restore();
  else if (process.argv.length === 2) prepack();
  else fail(`unknown argument ${JSON.stringify(process.argv[2])}; expected none (prepack) or --restore (postpack)`);
}
