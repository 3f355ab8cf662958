// The float64 reference forward (libs/models/src/llama/reference.ts) is the test oracle of both engines:
// no library or app source calls it at run time (only tests and the models entry that exports it).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { expect, test } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(p);
    return /\.ts$/.test(name) && !/\.(spec|testkit)\.ts$/.test(name) ? [p] : [];
  });
}

test('nothing at run time calls referenceLogits', () => {
  const allowed = new Set(['libs/models/src/llama/reference.ts', 'libs/models/src/llama/index.ts']);
  const files = ['libs', 'apps'].flatMap((d) => readdirSync(join(REPO_ROOT, d)).map((p) => join(REPO_ROOT, d, p, 'src'))).flatMap((d) => (statSync(d, { throwIfNoEntry: false })?.isDirectory() ? sources(d) : []));
  expect(files.length).toBeGreaterThan(100);
  const callers = files.map((f) => relative(REPO_ROOT, f)).filter((f) => !allowed.has(f) && readFileSync(join(REPO_ROOT, f), 'utf8').includes('referenceLogits'));
  expect(callers).toEqual([]);
});
