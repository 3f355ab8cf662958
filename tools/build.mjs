#!/usr/bin/env node
// The `build` target of every project (run in the project's directory by Nx, from its package.json
// "build" script): each entry of package.json "exports" is bundled by esbuild from its
// "@zotune/source" file (src/index.ts) into its "default" file (dist/index.js), ESM for Node 20.
// Bare imports (other @zotune packages, tfjs, zod, node:*) stay imports, so each package ships only
// its own code (deep imports of a package's dist/ files are the exception: see externals); relative imports are inlined, which is what lets the sources keep extensionless
// specifiers. The .d.ts files beside it come from the `typecheck` target (tsc -b), which build
// depends on; build then gives their relative imports explicit `.js` paths (tools/dts-specifiers.mjs).
//
//   node ../../tools/build.mjs              a library: its exports, each dynamic import() its own chunk
//   node ../../tools/build.mjs --app F.ts   an application: F.ts → dist/F.js with every @zotune
//                                           package inlined, third-party packages left as imports; each
//                                           dynamic import() is split into its own chunk (dist/*-HASH.js,
//                                           beside F.js: the libs find their package from their file's
//                                           directory), so a command's code loads when it runs and
//                                           `zotune --help` loads only the commands' declarations
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { build } from 'esbuild';
import { fixDeclarationSpecifiers, removeStaleDeclarations } from './dts-specifiers.mjs';

const SOURCE = '@zotune/source';
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const app = process.argv.indexOf('--app');

/**
 * Bare imports stay imports, except those `inline` accepts and deep imports of a package's dist/ files:
 * tfjs-core's ESM files (its gradient configs, which libs/models registers) use extensionless relative
 * imports that Node cannot load, so they are bundled (they share tfjs's engine through its global).
 */
function externals(inline) {
  return {
    name: 'externals',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) =>
        inline(args.path) || /^(@[^/]+\/)?[^/]+\/dist\//.test(args.path) ? undefined : { path: args.path, external: true },
      );
    },
  };
}

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // keep names (stack traces, error classes) and layout readable: this is a library, not a web page
  minify: false,
  outdir: 'dist',
};

/**
 * Each dynamic import() is split into its own chunk (dist/*-HASH.js) so it loads when it runs, as in
 * the sources: e.g. @zotune/ort's loadOrt() imports onnxruntime-node only when called, so a package
 * whose native binding cannot load still imports (and @zotune/engine falls back to tfjs). The chunks of
 * an earlier build are removed first (their names change with their content).
 */
function splitChunks() {
  for (const f of (existsSync('dist') ? readdirSync('dist', { withFileTypes: true }) : []).filter((e) => e.isFile() && /-[A-Z0-9]{8}\.js(\.map)?$/.test(e.name))) rmSync(`dist/${f.name}`);
  return { splitting: true, chunkNames: '[name]-[hash]' };
}

if (app >= 0) {
  const entry = process.argv[app + 1];
  if (!entry) throw new Error('tools/build.mjs --app: expected the entry file, e.g. src/main.ts');
  await build({
    ...common,
    ...splitChunks(),
    entryPoints: { [basename(entry, extname(entry))]: entry },
    conditions: [SOURCE],
    plugins: [externals((path) => path.startsWith('@zotune/'))],
  });
} else {
  const entryPoints = {};
  for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
    if (typeof target !== 'object' || !target[SOURCE]) continue;
    const out = target.default ?? target.import;
    if (!out?.startsWith('./dist/') || !out.endsWith('.js')) throw new Error(`${pkg.name}: exports["${sub}"]: expected "default": "./dist/<name>.js", got ${JSON.stringify(out)}`);
    entryPoints[out.slice('./dist/'.length, -'.js'.length)] = target[SOURCE];
  }
  if (Object.keys(entryPoints).length === 0) throw new Error(`${pkg.name}: package.json exports has no "${SOURCE}" entry to build`);
  await build({ ...common, ...splitChunks(), entryPoints, plugins: [externals(() => false)] });
  // the declarations tsc emitted (the typecheck target), without those of deleted sources, get resolvable relative specifiers: see dts-specifiers.mjs
  removeStaleDeclarations('dist', 'src');
  fixDeclarationSpecifiers('dist');
}
