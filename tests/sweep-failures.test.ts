// `zotune sweep` when a run fails: the others still run, the failure is recorded with finetune's own
// one-line reason, the exit code says so, `sweep status` lists it, and a rerun retries only it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, expect, test } from 'vitest';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const BIN = join(REPO_ROOT, 'apps/cli/bin/zotune.js');
const work = mkdtempSync(join(tmpdir(), 'zotune-sweep-fail-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function zotune(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: work, env: { ...process.env, ZOTUNE_DATA: DATA, ZOTUNE_BACKEND: process.env.ZOTUNE_BACKEND ?? 'wasm' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.on('close', (code) => ok({ code, stdout, stderr })));
}

test('a failing run: recorded with its reason, listed by status, the rest done', { timeout: 600_000 }, async () => {
  const spec = join(work, 'spec.json');
  writeFileSync(spec, JSON.stringify({
    grid: { task: ['sst2', 'no-such-task'], method: ['mezo'], seed: [0], forwardPasses: [4] },
    methods: { mezo: { estimator: 'mezo' } },
    options: { evalN: 8, testN: 8 },
  }));
  const out = join(work, 'out');
  const r = await zotune('sweep', spec, '--out', out, '--workers', '2', '--json');
  expect(r.code, r.stderr).toBe(1);
  const res = JSON.parse(r.stdout.trim());
  expect(res).toMatchObject({ runs: 2, done: 1, failed: 1 });
  expect(res.failures[0].key).toMatch(/^no-such-task-mezo-s0-/);
  expect(res.failures[0].reason).toMatch(/^finetune exited with 2: zotune: .*no-such-task/);
  expect(readdirSync(join(out, 'results'))).toHaveLength(1);
  expect(existsSync(join(out, 'logs', `${res.failures[0].key}.log`))).toBe(true);
  const st = await zotune('sweep', 'status', '--out', out);
  expect(st.code).toBe(0);
  expect(st.stdout).toContain('2 runs: 1 done, 1 failed');
  expect(st.stdout).toContain(`${res.failures[0].key}: failed: finetune exited with 2: zotune:`);
});
