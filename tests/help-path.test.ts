// What `zotune --help` loads, read from the sources rather than timed: the modules the bin's entry
// reaches by static value imports (type-only imports are erased, dynamic import() is the bundle's
// split point, tools/build.mjs), across the workspace packages' "@zotune/source" entries. Each
// command loads its code in its action, so that closure may reach no third-party package but
// commander, and zod for the finetune options, which are generated from the run's settings schema
// (@zotune/finetune/schema, with the names it needs from @zotune/zo/names and @zotune/peft/config);
// `scripts/bench-start.ts` measures what that buys against a bare `node -e 0`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '@zotune/data';
import { expect, test } from 'vitest';
import { packageOf, projects, resolveRelative } from './imports.testkit';

const ENTRY = 'apps/cli/src/main.ts';

/** The specifiers a file imports for their values at load time (what survives esbuild's TypeScript erasure). */
function valueImports(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(join(REPO_ROOT, file), 'utf8'), ts.ScriptTarget.Latest);
  const out: string[] = [];
  for (const s of src.statements) {
    if (ts.isImportDeclaration(s)) {
      const c = s.importClause;
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly || (c.name === undefined && c.namedBindings !== undefined && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push((s.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(s) && s.moduleSpecifier && !s.isTypeOnly) {
      const named = s.exportClause;
      if (named && ts.isNamedExports(named) && named.elements.every((e) => e.isTypeOnly)) continue;
      out.push((s.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  return out;
}

/** '@zotune/app-x/commands' → the source file of that export of the workspace package. */
function workspaceEntry(spec: string): string {
  const name = packageOf(spec)!;
  const p = projects().find((x) => x.name === name);
  if (!p) throw new Error(`${spec}: no workspace package ${name}`);
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, p.root, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
  const sub = spec === name ? '.' : `.${spec.slice(name.length)}`;
  const target = pkg.exports[sub]?.['@zotune/source'];
  if (!target) throw new Error(`${spec}: ${p.root}/package.json exports no "${sub}" with an @zotune/source entry`);
  return join(p.root, target);
}

test('`zotune --help` loads no third-party package but commander and zod (the commands load their code when they run)', () => {
  const external = new Map<string, string[]>();
  const seen = new Set<string>();
  const queue = [ENTRY];
  while (queue.length) {
    const f = queue.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const spec of valueImports(f)) {
      if (spec.startsWith('.')) {
        const r = resolveRelative(f, spec);
        if (r) queue.push(r);
        continue;
      }
      const pkg = packageOf(spec);
      if (pkg === null) continue; // node: built-ins
      if (pkg.startsWith('@zotune/')) queue.push(workspaceEntry(spec));
      else external.set(pkg, [...(external.get(pkg) ?? []), f]);
    }
  }
  // the walk got somewhere: every app's declarations are in it
  expect([...seen]).toEqual(
    expect.arrayContaining(['apps/fine-tune/src/commands.ts', 'libs/finetune/src/schema.ts', 'apps/meta-trainer/src/commands.ts', 'apps/registry/src/policy-commands.ts', 'apps/registry/src/serve-command.ts', 'apps/sweep/src/index.ts', 'apps/toolbox/src/commands.ts']),
  );
  expect(Object.fromEntries([...external].map(([p, fs]) => [p, fs.sort()]))).toEqual({
    commander: ['apps/cli/src/main.ts', 'apps/fine-tune/src/finetune-command.ts', 'apps/meta-trainer/src/command.ts', 'apps/toolbox/src/commands.ts'],
    zod: ['libs/finetune/src/schema.ts', 'libs/peft/src/config.ts'],
  });
});
