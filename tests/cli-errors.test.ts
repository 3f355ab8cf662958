// What the zotune bin says when asked for its version or help, when given a bad task, and how a short
// run reads over a pipe (a log file, CI): one line per error, help that matches what runs, every
// status line once, the zero-shot figure with its number.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, describe, expect, test } from 'vitest';
import { cli } from './cli.testkit';

const DATA = resolve(process.env.ZOTUNE_DATA ?? join(REPO_ROOT, '../shared/data'));
const work = mkdtempSync(join(tmpdir(), 'zotune-cli-errors-'));
const { zotune } = cli(work, DATA);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the zotune bin', () => {
  test('--version prints the version of its package', async () => {
    const r = await zotune('--version');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'apps/cli/package.json'), 'utf8')).version);
  });

  test('an unknown --task is one line listing the built-in and shipped task names', async () => {
    const r = await zotune('finetune', '--task', 'sst3', '--steps', '1');
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^zotune: --task: unknown task "sst3"; expected a built-in \(SST-2, RTE, .*\), a shipped config \(.*story-cloze, story-name.*\), or a path to a task \.json$/);
  });

  test('finetune --help names the values a bare `finetune` (the demo preset) runs with', async () => {
    const r = await zotune('finetune', '--help');
    expect(r.code, r.stderr).toBe(0);
    const demo = JSON.parse(readFileSync(join(REPO_ROOT, 'configs/runs/demo.json'), 'utf8'));
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toContain(`(default sst2); with no arguments, the demo's ${demo.task}`);
    expect(help).toContain(`optimizer steps; with no arguments, the demo's ${demo.steps}`);
  });

  test('a short run over a pipe: the zero-shot line has its number, and no status line is printed twice', async () => {
    const r = await zotune('finetune', '--steps', '2', '--eval-every', '2', '--eval-n', '8', '--test-n', '8', '--out', join(work, 'run'));
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.find((l) => l.startsWith('zero-shot:'))).toMatch(/^zero-shot: test accuracy of stories260K on SST-2: \d+\.\d% \(8 examples\)$/);
    const status = lines.filter((l) => l.startsWith('finetune step'));
    expect(status.length).toBeGreaterThan(0);
    expect(new Set(status).size).toBe(status.length);
    expect(lines).toContain('finetune done (2 steps in this session)');
  });
});
