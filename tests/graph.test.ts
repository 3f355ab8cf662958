// The dependency table of docs/architecture.md (moved there from the README) is the graph of the real
// imports, checked two ways. (1) Against the imports read from the sources here (tests/imports.testkit.ts):
// true import inference. (2) Against `nx graph --file`, which is NOT imports alone: Nx adds an edge for
// every @zotune/* dependency a package.json declares, imported or not (12 such false edges were in the
// table before issue 24); it equals (1) because tests/deps.test.ts keeps each package.json equal to its
// imports. A new dependency shows up in both.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { expect, test } from 'vitest';
import { importedPackages, projects } from './imports.testkit';

const TABLE_DOC = 'docs/architecture.md';

/** The table's rows "| a, b | x, y |" → a → [x, y], b → [x, y] (— for none). */
function readmeTable(): Map<string, string[]> {
  const readme = readFileSync(join(REPO_ROOT, TABLE_DOC), 'utf8');
  const block = /<!-- nx-graph:start -->([\s\S]*?)<!-- nx-graph:end -->/.exec(readme);
  if (!block) throw new Error(`${TABLE_DOC}: no <!-- nx-graph:start --> … <!-- nx-graph:end --> table`);
  const table = new Map<string, string[]>();
  for (const line of block[1].split('\n').slice(3)) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4) continue;
    const deps = cells[2] === '—' ? [] : cells[2].split(',').map((d) => d.trim());
    for (const p of cells[1].split(',')) table.set(p.trim(), deps.sort());
  }
  return table;
}

const short = (n: string) => n.replace(/^@zotune\//, '');

test('the dependency table of docs/architecture.md is the graph of the imports in the sources', () => {
  const actual = new Map(
    projects().map((p) => [
      short(p.name),
      [...importedPackages(p).keys()].filter((d) => d.startsWith('@zotune/')).map(short).sort(),
    ]),
  );
  expect(Object.fromEntries(readmeTable())).toEqual(Object.fromEntries(actual));
});

test('the dependency table of docs/architecture.md is `nx graph`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zotune-graph-'));
  try {
    execFileSync('npx', ['nx', 'graph', `--file=${join(dir, 'graph.json')}`], { cwd: REPO_ROOT, stdio: 'ignore' });
    const graph = JSON.parse(readFileSync(join(dir, 'graph.json'), 'utf8')).graph as { dependencies: Record<string, { target: string }[]> };
    const actual = new Map(
      Object.entries(graph.dependencies)
        .filter(([p]) => p.startsWith('@zotune/'))
        .map(([p, deps]) => [
          short(p),
          // a static and a dynamic import are one edge; the repository's tooling (tools/: a lib's stryker.config.mjs
          // imports tools/stryker.base.mjs) is not a library dependency
          [...new Set(deps.filter((d) => d.target.startsWith('@zotune/')).map((d) => short(d.target)))].sort(),
        ]),
    );
    expect(Object.fromEntries(readmeTable())).toEqual(Object.fromEntries(actual));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
