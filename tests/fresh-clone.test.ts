// End to end, as a new user on a fresh clone with no ZOTUNE_DATA and no ./data: the demo fetches what
// configs/runs/demo.json needs from the (local stand-in of the) public origins, then runs; an
// unreachable origin is one line naming the URL and `--from DIR`. The "clone" is the built CLI bundle
// with the repository's configs and policies (REPO_ROOT is where the bundle sits), in a directory
// whose parent has no shared/data, so only the fetch can provide the data.
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
let origin: OriginServer;

beforeAll(async () => {
  origin = await startOriginServer(MIRROR);
  mkdirSync(join(clone, 'apps/cli'), { recursive: true });
  for (const f of ['package.json', 'apps/cli/package.json', 'apps/cli/bin', 'apps/cli/dist', 'configs']) cpSync(join(REPO_ROOT, f), join(clone, f), { recursive: true });
  for (const d of ['policies', 'node_modules']) symlinkSync(join(REPO_ROOT, d), join(clone, d));
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
  const env: NodeJS.ProcessEnv = { ...process.env, ZOTUNE_DATA_BASE_URL: baseUrl, ZOTUNE_BACKEND: process.env.ZOTUNE_BACKEND ?? 'wasm' };
  delete env.ZOTUNE_DATA;
  const child = spawn(process.execPath, [join(clone, 'apps/cli/bin/zotune.js'), ...args], { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.on('close', (code) => ok({ code, stdout, stderr })));
}

// the demo preset with a small budget: what is fetched comes from demo.json's model and task
// demo-public.json: what `npm start` runs on a machine with no mirror (demo.json's in-domain task is built
// from a corpus that only a mirror has; the no-argument demo falls back to it and says so)
const DEMO_SMALL = ['finetune', '--config', 'demo-public', '--fetch', '--forward-passes', '12', '--eval-n', '16', '--test-n', '16', '--json'];

describe('a fresh clone: no ZOTUNE_DATA, no ./data', () => {
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
