// Ctrl-C on the real CLI and stories260K: the first SIGINT stops `zotune finetune` and `zotune
// meta-train` after the step under way, with exit 130 and a last line that gives the command resuming
// the run; that command then ends with what a run never interrupted ends with (the trajectory records
// and weights bit for bit; the policy's weights). A second SIGINT is a kill, which the kill -9 tests
// (finetune.test.ts, meta-train.test.ts) cover.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodePolicyArtifact, openTrajectory } from '@zotune/artifacts';
import { REPO_ROOT } from '@zotune/data';
import { readMetrics } from '@zotune/report';
import { cli, json, type Result } from './cli.testkit';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const work = mkdtempSync(join(tmpdir(), 'zotune-interrupt-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { start, signalAfter, zotune } = cli(work, DATA);

/** The interrupted run's exit: 130, the acknowledgement, and a last line naming the step and the resume command; the step. */
function interrupted(r: Result, command: string, dir: string, steps: number): number {
  expect(r.code, r.stderr).toBe(130);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines).toContain(`${command}: interrupted: stopping after the step under way (Ctrl-C again to exit now)`);
  const m = new RegExp(`^zotune: ${command}: interrupted after step (\\d+) of ${steps}; resume with: zotune ${command} --resume (.+)$`).exec(lines.at(-1)!);
  expect(m, lines.at(-1)).not.toBeNull();
  expect(m![2]).toBe(dir);
  return Number(m![1]);
}

describe('Ctrl-C', () => {
  test('zotune finetune: stops after the step under way, says how to resume, and --resume ends with the uninterrupted run', async () => {
    const STEPS = 16;
    const args = (out: string) => ['finetune', '--task', 'story-name', '--estimator', 'mezo', '--steps', String(STEPS), '--eval-every', '4', '--seed', '5', '--save-final', '--eval-n', '24', '--test-n', '24', '--threads', '1', '--out', out, '--json'];
    const [a, b] = [join(work, 'finetune-whole'), join(work, 'finetune-cut')];
    const whole = start(args(a)).done;
    const cut = await signalAfter(args(b), join(b, 'trajectory'), 3, 'SIGINT');
    const step = interrupted(cut, 'finetune', b, STEPS);
    // stopped where it said, cleanly: every record whole, no summary, a step line per record
    expect(step).toBeGreaterThanOrEqual(3);
    expect(step).toBeLessThan(STEPS);
    expect(openTrajectory(join(b, 'trajectory')).records).toHaveLength(step);
    expect(readMetrics(join(b, 'metrics.jsonl')).filter((m) => m.event === 'step').map((m) => m.step)).toEqual([...Array(step).keys()].map((i) => i + 1));
    expect(existsSync(join(b, 'summary.json'))).toBe(false);

    const resumed = await zotune('finetune', '--resume', b, '--json');
    const [sa, sb] = [json(await whole), json(resumed)];
    expect(sb.resumedAt).toBe(step);
    expect(openTrajectory(join(b, 'trajectory')).records).toEqual(openTrajectory(join(a, 'trajectory')).records);
    for (const f of ['final.safetensors', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    for (const k of ['steps', 'forwardPasses', 'bestDevAcc', 'bestStep', 'testAcc', 'zeroShotTestAcc', 'finalTrainLoss']) expect(sb[k], k).toEqual(sa[k]);
  }, 300_000);

  test('zotune meta-train: checkpoints after the step under way, says how to resume, and --resume ends with the uninterrupted policy', async () => {
    const STEPS = 24; // (24/4 + 24/4) per epoch × 2 epochs
    const args = (out: string) => ['meta-train', '--model', 'stories260K', '--tasks', 'sst2,copa', '--batch', '4', '--train-examples', '24', '--epochs', '2', '--reset-every', '1', '--checkpoint-every', '0', '--seed', '7', '--out', out, '--json'];
    const [a, b] = [join(work, 'meta-whole'), join(work, 'meta-cut')];
    const whole = start(args(a)).done;
    // the meta-trainer writes no trajectory: wait for its metrics lines instead
    const victim = start(args(b));
    const metrics = join(b, 'metrics.jsonl');
    while (victim.child.exitCode === null && (!existsSync(metrics) || readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length < 2)) await new Promise((ok) => setTimeout(ok, 20));
    victim.child.kill('SIGINT');
    const step = interrupted(await victim.done, 'meta-train', b, STEPS);
    expect(step).toBeGreaterThanOrEqual(2);
    expect(step).toBeLessThan(STEPS);
    expect(existsSync(join(b, 'checkpoint.zmeta'))).toBe(true); // --checkpoint-every 0: written by the interrupt alone
    expect(existsSync(join(b, 'policy.zpol'))).toBe(false);

    const r = json(await zotune('meta-train', '--resume', b, '--json'));
    const ra = json(await whole);
    expect(r.resumedFrom).toBe(step);
    expect(r.stepsThisProcess).toBe(STEPS - step);
    expect(decodePolicyArtifact(readFileSync(r.artifact), r.artifact).weights).toEqual(decodePolicyArtifact(readFileSync(ra.artifact), ra.artifact).weights);
    expect(readMetrics(join(b, 'metrics.jsonl')).map((s) => s.step)).toEqual([...Array(STEPS).keys()].map((i) => i + 1));
  }, 300_000);
});
