// Each lib's and app's package.json declares exactly what its code imports (issue 24: "the declared
// graph true"). Both directions: a dependency nothing imports is an error (Nx adds every declared
// @zotune dependency to the project graph, so a stale one is a false edge, and npm installs it), and
// so is an import nothing declares (it resolves only because npm hoists the root's packages).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { describe, expect, test } from 'vitest';
import { importedPackages, projects, type Project } from './imports.testkit';

const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
/** The repository's tooling (vitest, assemblyscript, esbuild, …): the root devDependencies, never a project's. */
const TOOLING = new Set(Object.keys(root.devDependencies));

/** Test and build files: specs, testkits, testing/ helpers, scripts and .mjs build scripts. */
const isDevFile = (f: string) => /\.(spec|testkit)\.ts$/.test(f) || /\/(testing|scripts)\//.test(f) || f.endsWith('.mjs');

function pkg(p: Project): { dependencies?: Record<string, string>; devDependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(join(REPO_ROOT, p.root, 'package.json'), 'utf8'));
}

describe.each(projects().map((p) => [p.name, p] as const))('%s', (_name, p) => {
  const used = importedPackages(p);
  const runtime = new Set([...used].filter(([, files]) => files.some((f) => !isDevFile(f))).map(([d]) => d));
  const { dependencies = {}, devDependencies = {} } = pkg(p);

  test('package.json "dependencies" are the packages its code imports', () => {
    const wanted = [...runtime].filter((d) => !TOOLING.has(d)).sort();
    expect(Object.keys(dependencies).sort()).toEqual(wanted);
  });

  test('package.json "devDependencies" are the packages only its tests import (root tooling aside)', () => {
    const wanted = [...used.keys()].filter((d) => !runtime.has(d) && !TOOLING.has(d)).sort();
    expect(Object.keys(devDependencies).sort()).toEqual(wanted);
  });

  test('its code does not import the repository tooling (a consumer would not have it)', () => {
    expect([...runtime].filter((d) => TOOLING.has(d)).map((d) => `${d}: ${used.get(d)!.filter((f) => !isDevFile(f)).join(', ')}`)).toEqual([]);
  });
});
