// data-bundled/: the demo's files, committed so a fresh clone runs the demo offline. Every file in it
// is pinned and intact, and it holds everything the demo (configs/runs/demo.json) reads.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { inspectPinned } from './check';
import { derivedSourceOf } from './derived';
import { REPO_ROOT, bundledDataDir } from './dir';
import { neededPins } from './ensure';
import { MANIFEST } from './manifest';

const BUNDLED = bundledDataDir(REPO_ROOT);
const DOCS = new Set(['README.md', 'SHA256SUMS', 'LICENSE']);

/** Every data file under data-bundled/ (READMEs, LICENSEs and SHA256SUMS aside), relative, '/'-separated. */
function dataFiles(rel = ''): string[] {
  return readdirSync(join(BUNDLED, rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? dataFiles(p) : DOCS.has(e.name) ? [] : [p];
  });
}

describe('data-bundled', () => {
  test('every file is a pinned one, intact (size and sha256), with a licence beside it', async () => {
    const files = dataFiles().sort();
    expect(files).toEqual(['corpora/tinystories-valid.txt', 'models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin']);
    for (const f of files) {
      const pin = MANIFEST.find((p) => p.path === f);
      expect(pin, f).toBeDefined();
      expect(await inspectPinned(BUNDLED, pin!), f).toEqual({ status: 'ok' });
      expect(readdirSync(join(BUNDLED, f, '..'))).toContain('LICENSE');
    }
  });

  test('SHA256SUMS lists exactly those files with their pinned hashes', () => {
    const lines = readFileSync(join(BUNDLED, 'SHA256SUMS'), 'utf8').trim().split('\n').sort();
    expect(lines).toEqual(dataFiles().sort().map((f) => `${MANIFEST.find((p) => p.path === f)!.sha256}  ./${f}`).sort());
  });

  test("it holds all that the demo reads: its model's files and the corpus its task is built from", () => {
    const demo = JSON.parse(readFileSync(join(REPO_ROOT, 'configs/runs/demo.json'), 'utf8')) as { model: string; task: string };
    const task = JSON.parse(readFileSync(join(REPO_ROOT, 'configs/tasks', `${demo.task}.json`), 'utf8')) as { data: Record<string, string> };
    const needs = neededPins({ model: demo.model, files: Object.values(task.data).map(derivedSourceOf) }).map((p) => p.path);
    expect(needs.length).toBeGreaterThan(2);
    expect(dataFiles()).toEqual(expect.arrayContaining(needs));
  });
});
