// End to end, as a new user on a fresh clone with no ZOTUNE_DATA and no ./data. With the repository's
// data-bundled/ (as a real clone has it), the demo runs offline: stories260K learns story-name from the
// committed model and corpus, nothing fetched. Without it (the bundle removed), the demo fetches what
// configs/runs/demo-public.json needs from the (local stand-in of the) public origins, then runs; an
// unreachable origin is one line naming the URL and `--from DIR`. The "clone" is the built CLI bundle
// with the repository's configs and policies (REPO_ROOT is where the bundle sits), in a directory
// whose parent has no shared/data, so only the bundle or the fetch can provide the data.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MANIFEST, REPO_ROOT } from '@zotune/data';
import { resolveTask } from '@zotune/tasks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startOriginServer, type OriginServer } from '../libs/data/src/origin-server.testkit';

const MIRROR = resolve(process.env.ZOTUNE_DATA ?? join(REPO_ROOT, '../shared/data'));
const base = mkdtempSync(join(tmpdir(), 'zotune-fresh-'));
const clone = join(base, 'zotune');
// a clone as git makes it: with data-bundled/ (in its own parent, also without shared/data)
const full = join(base, 'full', 'zotune');
let origin: OriginServer;

/** The bin, package.json and configs copied, policies and node_modules linked; data-bundled/ copied when `bundled`. */
function makeClone(dir: string, bundled: boolean): void {
  mkdirSync(join(dir, 'apps/cli'), { recursive: true });
  for (const f of ['package.json', 'apps/cli/package.json', 'apps/cli/bin', 'apps/cli/dist', 'configs', ...(bundled ? ['data-bundled'] : [])])
    cpSync(join(REPO_ROOT, f), join(dir, f), { recursive: true });
  for (const d of ['policies', 'node_modules']) symlinkSync(join(REPO_ROOT, d), join(dir, d));
}

beforeAll(async () => {
  origin = await startOriginServer(MIRROR);
  makeClone(clone, false);
  makeClone(full, true);
});
afterAll(async () => {
  await origin?.close();
  rmSync(base, { recursive: true, force: true });
});

/** Every file under `dir`, relative, '/'-separated. */
function walk(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(dir, rel ? `${rel}/${e.name}` : e.name) : [rel ? `${rel}/${e.name}` : e.name]));
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The clone's bin, as `npm start` runs it, with no ZOTUNE_DATA and the origins rebased to `baseUrl`. */
function zotune(baseUrl: string, ...args: string[]): Promise<Result> {
  return zotuneIn(clone, baseUrl, args);
}

/** The bin of the clone in `dir`; `stopWhen` (on stderr so far) ends it early, with SIGTERM. */
function zotuneIn(dir: string, baseUrl: string, args: string[], stopWhen?: (stderr: string) => boolean): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, ZOTUNE_DATA_BASE_URL: baseUrl, ZOTUNE_BACKEND: process.env.ZOTUNE_BACKEND ?? 'wasm' };
  delete env.ZOTUNE_DATA;
  delete env.ZOTUNE_CACHE; // derived task files are built into the clone's own .cache/
  const child = spawn(process.execPath, [join(dir, 'apps/cli/bin/zotune.js'), ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stopWhen?.(stderr)) child.kill('SIGTERM');
  });
  return new Promise((ok) => child.on('close', (code) => ok({ code, stdout, stderr })));
}

// the demo preset with a small budget: what is fetched comes from demo.json's model and task
// demo-public.json: what `npm start` runs when neither data-bundled/ nor a mirror has demo.json's files
// (its in-domain task is built from a corpus with no public origin; the no-argument demo falls back and says so)
const DEMO_SMALL = ['finetune', '--config', 'demo-public', '--fetch', '--forward-passes', '12', '--eval-n', '16', '--test-n', '16', '--json'];

const OFFLINE = 'http://127.0.0.1:9';

describe('a fresh clone offline: no ZOTUNE_DATA, no ./data, no network; data-bundled/ as committed', () => {
  test('`npm start` (no arguments) runs the in-domain demo, configs/runs/demo.json, from data-bundled/', async () => {
    // the whole demo takes about a minute: stopped once it has chosen its preset and found its data
    const r = await zotuneIn(full, OFFLINE, ['finetune'], (err) => err.includes('data: '));
    expect(r.stderr).toContain('finetune: no arguments, running the demo (configs/runs/demo.json): stories260K on story-name, mezo');
    expect(r.stderr).not.toContain('demo-public');
    expect(r.stderr).toContain(`data: ${join(full, 'data-bundled')} (the repository's data-bundled/, the demo's files only)`);
  });

  test('the demo preset with a small budget runs story-name to the end: nothing fetched, nothing written to a data directory', async () => {
    const r = await zotuneIn(full, OFFLINE, ['finetune', '--config', 'demo', '--fetch', '--forward-passes', '12', '--eval-n', '16', '--test-n', '16', '--json', '--out', join(base, 'run-bundled')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('fetching');
    const summary = JSON.parse(r.stdout.trim());
    expect(summary.model).toBe('stories260K');
    expect(summary.task).toBe('story-name');
    expect(summary.steps).toBe(6);
    expect(summary.testAcc).toBeGreaterThan(0);
    expect(existsSync(join(full, 'data'))).toBe(false);
    // the task's files were built from the bundled corpus into the clone's cache (pinned: see derived.ts)
    expect(walk(join(full, '.cache/derived')).sort()).toEqual(['stories/name/train.jsonl', 'stories/name/val.jsonl']);
  });
});

describe('a fresh clone without data-bundled/: no ZOTUNE_DATA, no ./data', () => {
  test('an unreachable origin: one line naming the URL and the --from DIR alternative, nothing installed', async () => {
    const r = await zotune('http://127.0.0.1:9', ...DEMO_SMALL, '--out', join(base, 'run-offline'));
    expect(r.code).not.toBe(0);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('zotune:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('http://127.0.0.1:9/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin');
    expect(errors[0]).toContain('zotune data pull --from DIR');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(join(clone, 'data/models/stories260K/stories260K.bin'))).toBe(false);
  });

  test("the public demo fetches exactly demo-public.json's model and task files (pinned, with progress) into ./data, then runs", async () => {
    const demo = JSON.parse(readFileSync(join(REPO_ROOT, 'configs/runs/demo-public.json'), 'utf8')) as { model: string; task: string };
    const r = await zotune(origin.baseUrl, ...DEMO_SMALL, '--out', join(base, 'run'));
    expect(r.code, r.stderr).toBe(0);
    // what demo.json names: its model folder's public files and its task's data files
    const expected = [
      ...MANIFEST.filter((p) => p.path.startsWith(`models/${demo.model}/`) && p.origin).map((p) => p.path),
      ...resolveTask(demo.task).dataFiles,
    ].sort();
    expect(r.stderr).toMatch(new RegExp(`fetching ${expected.length} pinned files \\([\\d.]+ MiB\\) into .*zotune/data`));
    expect(r.stderr).toMatch(new RegExp(`download +models/${demo.model}/\\S+ .*\\(100%\\)`));
    const summary = JSON.parse(r.stdout.trim());
    expect(summary.model).toBe(demo.model);
    expect(summary.steps).toBe(2);
    expect(summary.testAcc).toBeGreaterThanOrEqual(0);
    // only what the run needs, nothing else (no temp files left)
    expect(walk(join(clone, 'data')).sort()).toEqual(expected);
    // a second start finds ./data and fetches nothing, even with the origin gone
    const again = await zotune('http://127.0.0.1:9', ...DEMO_SMALL, '--out', join(base, 'run2'));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`data: ${join(clone, 'data')} (./data)`);
    expect(again.stderr).not.toContain('fetching');
  });
});
