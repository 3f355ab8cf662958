// Relative module specifiers in a package's emitted declarations, made resolvable by every TypeScript
// consumer. The sources keep extensionless relative imports (`./batch`), which tsc copies verbatim into
// the .d.ts files; a consumer with `moduleResolution: node16`/`nodenext` (the standard setting for ESM
// on Node) cannot resolve those, so every re-export of the package is silently lost (TS2305). Here each
// relative specifier in dist/**/*.d.ts becomes the emitted file it names: `./batch` → `./batch.js`,
// `./models` → `./models/index.js`, which Node16, NodeNext and Bundler resolution all accept.
//
// Why rewrite the output rather than write `.js` in the sources: the rewrite is exact (it resolves each
// specifier against the files tsc emitted and fails on one it cannot map), it needs no convention every
// contributor must remember across hundreds of imports, and it cannot drift: tools/build.mjs runs it
// after every build and tools/prepack.mjs again on every `npm pack`, so a tarball never ships without it.
// Idempotent: a specifier that already names an emitted file is left as it is.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** Every .d.ts file under `dir`, recursively. */
function declarationFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

/** The specifier that names the declaration file `spec` resolves to from `file`, or null if none does. */
function resolveSpecifier(file, spec) {
  const base = resolve(dirname(file), spec);
  if (/\.(js|mjs|cjs)$/.test(spec)) {
    const dts = base.replace(/\.(m|c)?js$/, (_, m) => `.d.${m ?? ''}ts`);
    return existsSync(dts) ? spec : null;
  }
  if (existsSync(`${base}.d.ts`)) return `${spec}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${spec.replace(/\/$/, '')}/index.js`;
  return null;
}

/** The string literals naming modules in a declaration file: import/export … from, import("…") types, `declare module "…"`. */
function moduleSpecifiers(source) {
  const found = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier))
      found.push(node.moduleSpecifier);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) found.push(node.argument.literal);
    else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) found.push(node.name);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression))
      found.push(node.moduleReference.expression);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * Rewrites the relative specifiers of every .d.ts under `distDir` in place. Returns the number of
 * specifiers changed; throws naming the file and specifier when one names no emitted declaration file.
 */
export function fixDeclarationSpecifiers(distDir) {
  let changed = 0;
  for (const file of declarationFiles(distDir)) {
    const text = readFileSync(file, 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const edits = [];
    for (const lit of moduleSpecifiers(source)) {
      const spec = lit.text;
      if (!spec.startsWith('./') && !spec.startsWith('../') && spec !== '.' && spec !== '..') continue;
      const to = resolveSpecifier(file, spec);
      if (to === null)
        throw new Error(`${relative(process.cwd(), file)}: import specifier '${spec}' names no emitted declaration file (expected ${spec}.d.ts or ${spec}/index.d.ts beside it)`);
      if (to !== spec) edits.push({ start: lit.getStart(source) + 1, end: lit.getEnd() - 1, to });
    }
    if (edits.length === 0) continue;
    let out = text;
    for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.to + out.slice(e.end);
    writeFileSync(file, out);
    changed += edits.length;
  }
  return changed;
}

/**
 * Removes the declarations under `distDir` whose source under `srcDir` is gone (dist/a/b.d.ts of
 * src/a/b.ts): tsc -b never deletes what it emitted for a file since removed or moved, and the
 * packages' "files" would pack them (a stale .d.ts can also name a module that no longer exists).
 * Returns the removed paths, relative to `distDir`, sorted.
 */
export function removeStaleDeclarations(distDir, srcDir) {
  const removed = [];
  for (const file of declarationFiles(distDir)) {
    const rel = relative(distDir, file);
    const stem = join(srcDir, rel.slice(0, -'.d.ts'.length));
    if (['.ts', '.tsx', '.mts', '.cts'].some((ext) => existsSync(`${stem}${ext}`))) continue;
    rmSync(file);
    rmSync(`${file}.map`, { force: true });
    removed.push(rel);
  }
  return removed.sort();
}
