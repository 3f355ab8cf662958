// scripts/smollm2/stage1.mjs and stage2.mjs apply issue 23's fixed rules to run records: checked here on
// synthetic records whose answers follow from the rules by hand (docs/results/smollm2-evidence.md).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expandRuns, parseSpec } from '@zotune/sweep';
import { afterAll, expect, test } from 'vitest';

const work = mkdtempSync(join(tmpdir(), 'zotune-stages-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A run record: config.json and metrics.jsonl with dev evaluations [forwardPasses, devAcc, devLoss]. */
function record(name: string, config: object, evals: [number, number, number][], stepSeconds = 3): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const lines = [
    ...evals.map(([p, acc, loss]) => ({ event: 'eval', step: p / 2, forwardPasses: p, devAcc: acc, devLoss: loss })),
    { event: 'step', step: 1, stepSeconds },
  ];
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return dir;
}

function run(script: string, args: string[]) {
  const r = spawnSync(process.execPath, [resolve(import.meta.dirname, 'smollm2', script), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const stage1 = (task: string, acc0: number, accEnd: number, loss0: number, lossEnd: number) =>
  record(`s1-${task}`, { task, steps: 250 }, [[0, acc0, loss0], [250, (acc0 + accEnd) / 2, loss0], [500, accEnd, lossEnd]]);

test('stage 1: learners ranked by gain (ties: larger loss drop), held-out 1,3,5, meta 2,4,6,…', () => {
  const dirs = [
    stage1('a', 0.5, 0.6, 1.0, 0.8), // +10, learns
    stage1('b', 0.5, 0.58, 1.0, 0.7), // +8, drop 0.3
    stage1('c', 0.5, 0.58, 1.0, 0.9), // +8, drop 0.1: after b
    stage1('d', 0.5, 0.56, 1.0, 0.95), // +6
    stage1('e', 0.5, 0.55, 1.0, 0.99), // +5 exactly: learns
    stage1('f', 0.5, 0.7, 1.0, 1.2), // +20 but loss higher: does not learn
    stage1('g', 0.5, 0.54, 1.0, 0.5), // +4: does not learn
    stage1('h', 0.4, 0.6, 2.0, 1.0), // +20, learns: rank 1
  ];
  const r = run('stage1.mjs', ['--expect', '8', ...dirs]);
  expect(r.code).toBe(0);
  expect(r.out).toContain('ranking: 1. h (+20.0), 2. a (+10.0), 3. b (+8.0), 4. c (+8.0), 5. d (+6.0), 6. e (+5.0)');
  expect(r.out).toContain('held-out: h, b, d\n');
  expect(r.out).toContain('meta-training: a, c, e\n');
  expect(r.out).toContain('--tasks a,c,e ');
  expect(run('stage1.mjs', ['--expect', '9', ...dirs]).out).toContain('8 of 9 runs finished: no split yet.');
  // stage 2's sweep spec: the held-out tasks at lr1, seeds 0 and 1, 4,000 passes; a valid sweep spec
  const spec = join(work, 'stage2.json');
  expect(run('stage1.mjs', ['--stage2-spec', spec, '--expect', '8', ...dirs]).code).toBe(0);
  const written = JSON.parse(readFileSync(spec, 'utf8'));
  expect(written.grid).toEqual({ model: ['smollm2-135m'], task: ['h', 'b', 'd'], method: ['mezo'], lr: [3e-5], eps: [0.001], seed: [0, 1], forwardPasses: [4000], engine: ['ort'] });
  expect(written.options).toEqual({ batch: 16, evalN: 200, testN: 1, evalEvery: 250 });
  expect(expandRuns(parseSpec(written, spec)).map((r) => `${r.config.task}/${r.config.seed}`)).toEqual(['h/0', 'h/1', 'b/0', 'b/1', 'd/0', 'd/1']);
  expect(run('stage1.mjs', ['--stage2-spec']).err.trim()).toBe('stage1: unknown option --stage2-spec (expected a file after it)');
});

test('stage 1: fewer than two learners → rerun at 1,000 passes on the tasks whose dev loss fell', () => {
  const dirs = [stage1('p', 0.5, 0.6, 1.0, 0.8), stage1('q', 0.5, 0.5, 1.0, 0.6), stage1('r', 0.5, 0.52, 1.0, 0.9), stage1('s', 0.5, 0.4, 1.0, 1.1)];
  const one = run('stage1.mjs', dirs);
  expect(one.out).toContain('fewer than two tasks learn: rerun stage 1 at 1,000 forward passes on p, q, r\n');
});

test('stage 1: two learners → one held-out, and the meta side filled from the non-learners', () => {
  const dirs = [stage1('u', 0.5, 0.6, 1.0, 0.8), stage1('v', 0.5, 0.57, 1.0, 0.8), stage1('w', 0.5, 0.5, 1.0, 0.6), stage1('x', 0.5, 0.5, 1.0, 0.7)];
  const r = run('stage1.mjs', dirs);
  expect(r.out).toContain('held-out: u\n');
  expect(r.out).toContain('meta-training: v, w\n');
});

test('stage 1: a missing record is one line naming the file', () => {
  const r = run('stage1.mjs', [join(work, 'nowhere')]);
  expect(r.code).toBe(1);
  expect(r.err.trim()).toMatch(/^stage1: .*nowhere\/config\.json: /);
  expect(r.err.trim().split('\n')).toHaveLength(1);
});

const curve = (losses: number[]) => losses.map((l, i): [number, number, number] => [500 * i, 0.5, l]);

test('stage 2: F = the first evaluation after which the mean loss falls < 1 % over 1,000 passes; cost rule', () => {
  const a = record('s2-a', { task: 'a', seed: 0 }, curve([1.0, 0.8, 0.7, 0.65, 0.64, 0.638, 0.637, 0.6365, 0.636]), 2);
  const b = record('s2-b', { task: 'a', seed: 1 }, curve([1.02, 0.82, 0.72, 0.67, 0.66, 0.658, 0.657, 0.6565, 0.656]), 4);
  const r = run('stage2.mjs', [a, b]);
  expect(r.code).toBe(0);
  // mean = a's + 0.01: at 1500 0.66 → 2500 0.648 = 1.8 %; at 2000 0.65 → 3000 0.647 = 0.46 % < 1 %: F = 2000
  expect(r.out).toContain('budget F = 2000 forward passes (1000 MeZO steps)');
  // 4 × 6 × 1 task × 1000 steps × median 4 s (of 2 and 4: the upper middle) = 26.7 h
  expect(r.out).toContain('= 26.7 machine-hours');
  expect(r.out).toContain('above 12: stages 3-4 run as LoRA-ZO');
});

test('stage 2: no plateau → the 4,000 cap; flat from the start → 500; an unfinished run → no F', () => {
  const falling = curve([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]);
  const r = run('stage2.mjs', [record('s2-c', { task: 'c', seed: 0 }, falling, 0.1)]);
  expect(r.out).toContain('budget F = 4000 forward passes');
  expect(r.out).toContain('within 12: stages 3-4 run full-parameter');
  const flat = run('stage2.mjs', [record('s2-e', { task: 'e', seed: 0 }, curve(Array(9).fill(0.7)))]);
  expect(flat.out).toContain('budget F = 500 forward passes'); // not 0: a budget of no passes is no budget
  const short = run('stage2.mjs', [record('s2-d', { task: 'd', seed: 1 }, falling.slice(0, 5))]);
  expect(short.out).toContain('unfinished (last dev evaluation before 4,000 passes): d seed 1 at 2000');
});
