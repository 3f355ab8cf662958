import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { checkData, inspectPinned } from './check';
import { REPO_ROOT } from './dir';
import { MANIFEST } from './manifest';

const MIRROR = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const dir = mkdtempSync(join(tmpdir(), 'zotune-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('ok, missing, and corrupt by size, by content or by kind', async () => {
  const put = (rel: string, data: Uint8Array | string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), data);
  };
  put('models/stories260K/tok512.bin', readFileSync(join(MIRROR, 'models/stories260K/tok512.bin')));
  const ref = readFileSync(join(MIRROR, 'models/stories260K/reference.json'));
  ref[10] ^= 1; // same size, different bytes
  put('models/stories260K/reference.json', ref);
  put('tasks/glue/SST-2/dev.tsv', 'sentence\tlabel\n');
  mkdirSync(join(dir, 'corpora/tinystories-valid.txt'), { recursive: true });

  const r = await checkData(dir);
  const by = Object.fromEntries(r.files.map((f) => [f.path, f]));
  expect(by['models/stories260K/tok512.bin']).toMatchObject({ status: 'ok', public: true });
  expect(by['models/stories260K/reference.json'].status).toBe('corrupt');
  expect(by['models/stories260K/reference.json'].reason).toMatch(/^sha256 [0-9a-f]{64}, expected 3e46c0c8/);
  expect(by['tasks/glue/SST-2/dev.tsv'].reason).toBe('size 15, expected 94931');
  expect(by['corpora/tinystories-valid.txt'].reason).toBe('not a regular file');
  expect(by['models/stories260K/stories260K.bin']).toMatchObject({ status: 'missing', public: true });
  expect(by['tasks/superglue/CB/val.jsonl']).toMatchObject({ status: 'missing', public: false });
  // the files pulled on request are checked too
  expect(by['models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf']).toMatchObject({ status: 'missing', public: true });
  expect(r.counts).toEqual({ ok: 1, missing: MANIFEST.length - 4, corrupt: 3 });
  expect(r.exitCode).toBe(1);

  const onlyOk = await checkData(dir, { only: ['models/stories260K/tok512.bin', 'models/stories260K/stories260K.bin'] });
  expect(onlyOk.counts).toEqual({ ok: 1, missing: 1, corrupt: 0 });
  expect(onlyOk.exitCode).toBe(0);
});

test('the mirror itself checks clean', async () => {
  for (const pin of MANIFEST.filter((p) => !p.onRequest)) expect(await inspectPinned(MIRROR, pin), pin.path).toEqual({ status: 'ok' });
});
