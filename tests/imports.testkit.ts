// The import graph of the libs and apps, read from their sources with TypeScript's own pre-processor
// (static imports, re-exports, `import type`, dynamic `import()` and `require`): what the code really
// uses, as opposed to what the package.json files declare. tests/deps.test.ts compares it with the
// package.json dependencies, tests/graph.test.ts with docs/architecture.md's table, and
// tests/cycles.test.ts looks for circles in its module-level edges.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '@zotune/data';

export interface Project {
  /** package name, e.g. @zotune/models */
  name: string;
  /** e.g. libs/models */
  root: string;
  /** package.json dependencies (names) */
  declared: string[];
  /** source files, repository-relative */
  files: string[];
}

/**
 * Files of a project that are tooling, not its code: the vitest configs re-export the root
 * vitest.shared.ts (vitest.mutate.config.ts, vitest.mutate-noise.config.ts: the tests a project's
 * Stryker runs use) and the stryker configs (stryker.config.mjs, stryker.noise.config.mjs) import
 * tools/stryker.base.mjs; all are the repository's dev setup (root devDependencies), not something
 * the package depends on.
 */
const TOOLING = /^(vitest(\.[\w-]+)?\.config\.ts|stryker(\.[\w-]+)?\.config\.mjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', 'testing-data']);
const SOURCE = /\.(ts|mts|mjs|js)$/;

function walk(dir: string, out: string[]): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(p, out);
    } else if (SOURCE.test(e.name) && !e.name.endsWith('.d.ts') && !TOOLING.test(e.name)) out.push(p);
  }
  return out;
}

/** Every project under libs/ and apps/ (those with a package.json). */
export function projects(): Project[] {
  const list: Project[] = [];
  for (const group of ['libs', 'apps']) {
    for (const d of readdirSync(join(REPO_ROOT, group)).sort()) {
      const pkgFile = join(REPO_ROOT, group, d, 'package.json');
      if (!existsSync(pkgFile)) continue;
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name: string; dependencies?: Record<string, string> };
      const root = `${group}/${d}`;
      const files = walk(join(REPO_ROOT, root), [])
        // src/, and the project's bin/ and scripts/: all of it is the project's code
        .map((f) => relative(REPO_ROOT, f))
        .sort();
      list.push({ name: pkg.name, root, declared: Object.keys(pkg.dependencies ?? {}).sort(), files });
    }
  }
  return list;
}

/** The module specifiers one file imports (every kind: static, type-only, re-export, dynamic, require). */
export function specifiersOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(REPO_ROOT, file), 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

const BUILTIN = new Set(builtinModules);

/** 'node:fs' → null (built in), '@a/b/c' → '@a/b', 'x/y' → 'x', './z' → null (relative). */
export function packageOf(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || BUILTIN.has(spec.split('/')[0])) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The packages a project imports, each with the files that import it. */
export function importedPackages(p: Project): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const f of p.files) {
    for (const s of specifiersOf(f)) {
      const pkg = packageOf(s);
      if (pkg === null || pkg === p.name) continue;
      used.set(pkg, [...(used.get(pkg) ?? []), f]);
    }
  }
  return used;
}

/**
 * A relative specifier of `from` → the repository-relative file it names (extensionless, `.js` for
 * `.ts`, or a directory's index), or null when it names no source file (e.g. a .wasm or .json asset).
 */
export function resolveRelative(from: string, spec: string): string | null {
  const base = join(dirname(from), spec);
  const candidates = [base, `${base}.ts`, `${base}.mts`, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), join(base, 'index.ts')];
  for (const c of candidates) {
    const abs = join(REPO_ROOT, c);
    if (SOURCE.test(c) && existsSync(abs) && statSync(abs).isFile()) return c;
  }
  return null;
}
