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

/** the sizing amendment's cost table: packed tokens per batch of 16 (limits 600 held-out, 2,000 meta-training) */
const tokensFile = join(work, 'tokens.json');
writeFileSync(tokensFile, JSON.stringify({ a: 300, b: 500, c: 300, d: 300, e: 700, f: 300, g: 300, h: 900, i: 2500, p: 1, q: 1, r: 1, s: 1, u: 100, v: 100, w: 100, x: 3000 }));

const stage1 = (task: string, acc0: number, accEnd: number, loss0: number, lossEnd: number) =>
  record(`s1-${task}`, { task, steps: 250 }, [[0, acc0, loss0], [250, (acc0 + accEnd) / 2, loss0], [500, accEnd, lossEnd]]);

test('stage 1: learners ranked by gain (ties: larger loss drop); the split by cost (amended)', () => {
  const dirs = [
    stage1('a', 0.5, 0.6, 1.0, 0.8), // +10, learns; 300 tokens
    stage1('b', 0.5, 0.58, 1.0, 0.7), // +8, drop 0.3; 500 tokens
    stage1('c', 0.5, 0.58, 1.0, 0.9), // +8, drop 0.1: after b; 300 tokens
    stage1('d', 0.5, 0.56, 1.0, 0.95), // +6; 300 tokens: a fourth affordable learner, so meta-training
    stage1('e', 0.5, 0.55, 1.0, 0.99), // +5 exactly: learns; 700 tokens: meta-training only
    stage1('f', 0.5, 0.7, 1.0, 1.2), // +20 but loss higher: does not learn
    stage1('g', 0.5, 0.54, 1.0, 0.5), // +4: does not learn
    stage1('h', 0.4, 0.6, 2.0, 1.0), // +20, learns: rank 1; 900 tokens: meta-training only
    stage1('i', 0.4, 0.7, 2.0, 1.0), // +30, learns: rank 0; 2,500 tokens: neither side
  ];
  const r = run('stage1.mjs', ['--expect', '9', '--tokens', tokensFile, ...dirs]);
  expect(r.code).toBe(0);
  expect(r.out).toContain('ranking: 1. i (+30.0), 2. h (+20.0), 3. a (+10.0), 4. b (+8.0), 5. c (+8.0), 6. d (+6.0), 7. e (+5.0)');
  expect(r.out).toContain('held-out: a, b, c\n');
  expect(r.out).toContain('meta-training: h, d, e\n');
  expect(r.out).toContain('--tasks h,d,e ');
  expect(r.out).toContain('--meta-lr LORA_LR --max-steps 180');
  expect(run('stage1.mjs', ['--expect', '10', '--tokens', tokensFile, ...dirs]).out).toContain('9 of 10 runs finished: no split yet.');
  // stage 2's sweep spec: LoRA-ZO at the given lr on the held-out tasks, seeds 0 and 1, 2,000 passes; a valid sweep spec
  const spec = join(work, 'stage2.json');
  expect(run('stage1.mjs', ['--stage2-spec', spec, '--lora-lr', '1e-3', '--tokens', tokensFile, '--expect', '9', ...dirs]).code).toBe(0);
  const written = JSON.parse(readFileSync(spec, 'utf8'));
  expect(written.grid).toEqual({ model: ['smollm2-135m'], task: ['a', 'b', 'c'], method: ['lora'], eps: [0.001], seed: [0, 1], forwardPasses: [2000], engine: ['ort'] });
  expect(written.methods.lora).toEqual({ estimator: 'mezo', policy: 'none', peft: 'lora', loraRank: 8, loraAlpha: 16, loraTargets: 'q_proj,v_proj', lr: 1e-3 });
  expect(written.options).toEqual({ batch: 16, evalN: 200, testN: 1, evalEvery: 125 });
  const runs = expandRuns(parseSpec(written, spec));
  expect(runs.map((r) => `${r.config.task}/${r.config.seed}/${r.config.lr}/${r.config.peft}`)).toEqual(['a/0/0.001/lora', 'a/1/0.001/lora', 'b/0/0.001/lora', 'b/1/0.001/lora', 'c/0/0.001/lora', 'c/1/0.001/lora']);
  expect(run('stage1.mjs', ['--stage2-spec']).err.trim()).toBe('stage1: unknown option --stage2-spec (expected a file after it)');
  expect(run('stage1.mjs', ['--stage2-spec', spec, ...dirs]).err.trim()).toBe("stage1: --stage2-spec needs --lora-lr X (stage 0L's LoRA lr)");
  // a task missing from the cost table: one line naming the file and the task
  const partial = join(work, 'tokens-partial.json');
  writeFileSync(partial, JSON.stringify({ a: 1 }));
  const missing = run('stage1.mjs', ['--tokens', partial, ...dirs]);
  expect(missing.code).toBe(1);
  expect(missing.err.trim()).toBe(`stage1: ${partial}: no token count for task i (node scripts/smollm2/tokens.mjs --out FILE TASK...)`);
});

test('stage 1: fewer than two learners → rerun at 1,000 passes on the tasks whose dev loss fell', () => {
  const dirs = [stage1('p', 0.5, 0.6, 1.0, 0.8), stage1('q', 0.5, 0.5, 1.0, 0.6), stage1('r', 0.5, 0.52, 1.0, 0.9), stage1('s', 0.5, 0.4, 1.0, 1.1)];
  const one = run('stage1.mjs', dirs);
  expect(one.out).toContain('fewer than two tasks learn: rerun stage 1 at 1,000 forward passes on p, q, r\n');
});

test('stage 1: two affordable learners → both held out; the meta side filled from affordable non-learners', () => {
  // x's dev loss fell more than w's, but 3,000 tokens is past the meta-training limit
  const dirs = [stage1('u', 0.5, 0.6, 1.0, 0.8), stage1('v', 0.5, 0.57, 1.0, 0.8), stage1('w', 0.5, 0.5, 1.0, 0.7), stage1('x', 0.5, 0.5, 1.0, 0.6)];
  const r = run('stage1.mjs', ['--tokens', tokensFile, ...dirs]);
  expect(r.out).toContain('held-out: u, v\n');
  expect(r.out).toContain('meta-training: w\n');
});

test('stage 1: one affordable learner → the cheapest other learner completes the held-out pair', () => {
  const dirs = [stage1('h', 0.4, 0.6, 2.0, 1.0), stage1('e', 0.5, 0.55, 1.0, 0.99), stage1('a', 0.5, 0.6, 1.0, 0.8), stage1('g', 0.5, 0.54, 1.0, 0.5)];
  const r = run('stage1.mjs', ['--tokens', tokensFile, ...dirs]);
  expect(r.out).toContain('held-out: a, e\n'); // e (700 tokens) before h (900)
  expect(r.out).toContain('meta-training: h, g\n');
});

test('stage 1: a missing record is one line naming the file', () => {
  const r = run('stage1.mjs', [join(work, 'nowhere')]);
  expect(r.code).toBe(1);
  expect(r.err.trim()).toMatch(/^stage1: .*nowhere\/config\.json: /);
  expect(r.err.trim().split('\n')).toHaveLength(1);
});

const curve = (losses: number[]) => losses.map((l, i): [number, number, number] => [250 * i, 0.5, l]);

test('stage 2: F = the first evaluation after which the mean loss falls < 1 % over 1,000 passes; stage 4 cost', () => {
  const a = record('s2-a', { task: 'a', seed: 0 }, curve([1.0, 0.8, 0.7, 0.65, 0.64, 0.638, 0.637, 0.6365, 0.636]), 2);
  const b = record('s2-b', { task: 'a', seed: 1 }, curve([1.02, 0.82, 0.72, 0.67, 0.66, 0.658, 0.657, 0.6565, 0.656]), 4);
  const r = run('stage2.mjs', [a, b]);
  expect(r.code).toBe(0);
  // mean = a's + 0.01: at 750 0.66 → 1750 0.6465 = 2.0 %; at 1000 0.65 → 2000 0.646 = 0.6 % < 1 %: F = 1000
  expect(r.out).toContain('budget F = 1000 forward passes (500 MeZO steps)');
  // 5 × 6 × 1 task × 500 steps × median 4 s (of 2 and 4: the upper middle) = 16.7 h
  expect(r.out).toContain('= 16.7 machine-hours');
});

test('stage 2: no plateau → the 2,000 cap; flat from the start → 250; an unfinished run → no F', () => {
  const falling = curve([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]);
  const r = run('stage2.mjs', [record('s2-c', { task: 'c', seed: 0 }, falling, 0.1)]);
  expect(r.out).toContain('budget F = 2000 forward passes');
  const flat = run('stage2.mjs', [record('s2-e', { task: 'e', seed: 0 }, curve(Array(9).fill(0.7)))]);
  expect(flat.out).toContain('budget F = 250 forward passes'); // not 0: a budget of no passes is no budget
  const short = run('stage2.mjs', [record('s2-d', { task: 'd', seed: 1 }, falling.slice(0, 5))]);
  expect(short.out).toContain('unfinished (last dev evaluation before 2000 passes): d seed 1 at 1000');
});

/** A stage-0 run record: N steps with the given training losses. */
function stage0Run(name: string, lr: number, losses: number[]): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ lr, steps: losses.length }));
  const lines = [{ event: 'eval', step: 0, devAcc: 0.5, devLoss: 1 }, ...losses.map((loss, i) => ({ event: 'step', step: i + 1, loss }))];
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return dir;
}

test('stage 0 / 0L: the lowest second-half training loss among the runs that did not diverge; ties to the smaller lr', () => {
  const n = 40;
  const flat = stage0Run('s0-flat', 1e-4, Array(n).fill(1));
  const falls = stage0Run('s0-falls', 1e-3, Array.from({ length: n }, (_, i) => 1 - i / 100)); // steps 21–40: mean 0.705
  const blows = stage0Run('s0-blows', 1e-2, Array.from({ length: n }, (_, i) => (i < 20 ? 0.5 : 0.9))); // lowest early, 0.9 > 1.1 × 0.5: diverged
  const r = run('stage0.mjs', [blows, flat, falls]);
  expect(r.code).toBe(0);
  expect(r.out).toContain('| lr | steps 1–10 mean loss | steps 21–40 mean loss |');
  expect(r.out).toMatch(/\| 0\.01 \| 0\.5000 \| 0\.9000 \| yes \|/);
  expect(r.out).toContain('chosen lr = 0.001\n');
  expect(r.out).not.toContain('largest lr');
  // the largest lr wins once the diverging run is gone: the next decade up must be run
  const edge = run('stage0.mjs', [flat, falls]);
  expect(edge.out).toContain('chosen lr = 0.001\n');
  expect(edge.out).toContain('the largest lr of the grid won');
  const tie = run('stage0.mjs', [stage0Run('s0-tie-a', 3e-4, Array(n).fill(1)), flat]);
  expect(tie.out).toContain('chosen lr = 0.0001\n');
  expect(run('stage0.mjs', [flat, stage0Run('s0-short', 1e-5, Array(30).fill(1))]).err.trim()).toBe('stage0: the runs must have one even step count of at least 20, got 30, 40');
});

/** A stage-3 run record named as the sweep names it: steps, lr, seed, and the dev loss at each evaluation. */
function stage3Run(method: string, lr: number, seed: number, losses: number[], steps = 100): string {
  const dir = join(work, 's3', `sst2-${method.replace('+', '-')}-s${seed}-${(lr * 1e7 + seed).toString(16).padStart(10, '0').slice(-10)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ lr, seed, steps }, null, 2)); // pretty-printed, as finetune writes it
  const lines = losses.map((devLoss, i) => ({ event: 'eval', step: Math.round((steps * i) / (losses.length - 1)), devLoss, devAcc: 0.5 }));
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return dir;
}

test('stage 3: the spec (6 methods × 3 lrs × 2 seeds, LoRA) is a valid sweep; the rule tunes each method, then each arm', () => {
  const spec = join(work, 'stage3.json');
  const w = run('stage3.mjs', ['--spec', spec, '--task', 'sst2', '--lr', '1e-3', '--budget', '500', '--policy', 'smollm2-135m/default']);
  expect(w.code).toBe(0);
  const written = JSON.parse(readFileSync(spec, 'utf8'));
  expect(written.grid.lr).toEqual([3.16e-4, 1e-3, 3.16e-3]);
  const runs = expandRuns(parseSpec(written, spec));
  expect(runs).toHaveLength(36);
  expect(runs.every((r) => r.config.peft === 'lora' && r.config.forwardPasses === 500 && r.config.task === 'sst2')).toBe(true);
  expect(new Set(runs.filter((r) => r.config.method.endsWith('+policy')).map((r) => r.config.policy))).toEqual(new Set(['smollm2-135m/default']));
  expect(new Set(runs.filter((r) => r.config.method.startsWith('guided8')).map((r) => r.config.candidates))).toEqual(new Set([8]));
  expect(written.threads).toBe(2);
  // the second amendment: seed 0 only, one ORT thread per run (two runs at once)
  const one = join(work, 'stage3-seed0.json');
  expect(run('stage3.mjs', ['--spec', one, '--task', 'sst2', '--lr', '1e-3', '--budget', '500', '--policy', 'p', '--seeds', '0', '--threads', '1']).out).toContain('(6 methods x 3 lrs x 1 seeds = 18 runs)');
  const single = JSON.parse(readFileSync(one, 'utf8'));
  expect([single.grid.seed, single.threads, expandRuns(parseSpec(single, one)).length]).toEqual([[0], 1, 18]);
  expect(single.description).toContain('seeds 0, 500 forward passes');
  expect(run('stage3.mjs', ['--spec', one, '--task', 'sst2', '--lr', '1e-3', '--budget', '500', '--policy', 'p', '--seeds', '0,0']).err.trim()).toBe('stage3: --seeds must be distinct whole numbers separated by commas, got 0,0');
  expect(run('stage3.mjs', ['--spec', one, '--task', 'sst2', '--lr', '1e-3', '--budget', '500', '--policy', 'p', '--threads', '0']).err.trim()).toBe('stage3: --threads must be a whole number of at least 1, got 0');
  expect(run('stage3.mjs', ['--spec', spec, '--task', 'sst2', '--lr', '1e-3', '--budget', '500']).err.trim()).toBe('stage3: --policy is required');
  expect(run('stage3.mjs', ['--spec', spec, '--task', 'sst2', '--lr', '-1', '--budget', '500', '--policy', 'x']).err.trim()).toBe('stage3: --lr must be a positive number, got -1');

  // the rule: mezo is best at 1e-3 (mean of its seeds' last dev loss); guided8 beats guided4 at their tuned lrs;
  // guided4+policy ties guided8+policy at their best: M 4; a tie between lrs goes to the smaller
  const dirs = [
    ...[0, 1].flatMap((s) => [
      stage3Run('mezo', 3.16e-4, s, [1, 0.8]), stage3Run('mezo', 1e-3, s, [1, 0.7 + s * 0.02]), stage3Run('mezo', 3.16e-3, s, [1, 0.75]),
      stage3Run('mezo+policy', 3.16e-4, s, [1, 0.6]), stage3Run('mezo+policy', 1e-3, s, [1, 0.6]),
      stage3Run('guided4', 1e-3, s, [1, 0.69]), stage3Run('guided8', 3.16e-3, s, [1, 0.65]), stage3Run('guided8', 1e-3, s, [1, NaN]),
      stage3Run('guided4+policy', 1e-3, s, [1, 0.66]), stage3Run('guided8+policy', 1e-3, s, [1, 0.66]),
    ]),
  ];
  const r = run('stage3.mjs', dirs);
  expect(r.code).toBe(0);
  expect(r.out).toContain('| mezo | 0.8000 | 0.7100 | 0.7500 | 0.001 |');
  expect(r.out).toContain('MeZO: mezo at lr 0.001 (mean final dev loss 0.7100)');
  expect(r.out).toContain('MeZO + policy: mezo+policy at lr 0.000316');
  expect(r.out).toContain('guided: guided8 at lr 0.00316 (mean final dev loss 0.6500)');
  expect(r.out).toContain('guided + policy: guided4+policy at lr 0.001');
  expect(r.out).toContain('| guided8 | — | — | 0.6500 | 0.00316 |'); // its diverged lr (dev loss null) is no candidate
  // an unfinished run: no tuning yet
  const cut = join(work, 's3', 'sst2-guided4-s1-00000000ff');
  mkdirSync(cut, { recursive: true });
  writeFileSync(join(cut, 'config.json'), JSON.stringify({ lr: 1e-3, seed: 1, steps: 100 }));
  writeFileSync(join(cut, 'metrics.jsonl'), `${JSON.stringify({ event: 'eval', step: 50, devLoss: 0.7 })}\n`);
  expect(run('stage3.mjs', [...dirs, cut]).out).toContain('unfinished: guided4 lr 0.001 seed 1');
  expect(run('stage3.mjs', [join(work, 'nowhere')]).err.trim()).toMatch(/^stage3: .*nowhere: not a stage-3 run directory/);
});

test('stage 4: the four arms at their tuned settings and the untrained control, seeds 2–7, paired comparisons; a valid sweep', () => {
  const spec = join(work, 'stage4.json');
  const flags = ['--spec', spec, '--tasks', 'mr,sst2', '--budget', '500', '--policy', 'smollm2-135m/default', '--control', 'smollm2-135m/init', '--mezo', '1e-3', '--mezo-policy', '3.16e-4', '--guided', '8:3.16e-3', '--guided-policy', '4:1e-3'];
  const w = run('stage4.mjs', flags);
  expect(w.code).toBe(0);
  expect(w.out).toContain('(5 methods x 2 tasks x 6 seeds = 60 runs)');
  const written = JSON.parse(readFileSync(spec, 'utf8'));
  const runs = expandRuns(parseSpec(written, spec));
  expect(runs).toHaveLength(60);
  const of = (m: string) => runs.filter((r) => r.config.method === m && r.config.task === 'mr').map((r) => [r.config.seed, r.config.lr, r.config.candidates ?? null, r.config.policy, r.config.peft]);
  expect(of('guided')[0]).toEqual([2, 3.16e-3, 8, 'none', 'lora']);
  expect(of('guided+policy')[0]).toEqual([2, 1e-3, 4, 'smollm2-135m/default', 'lora']);
  expect(of('mezo+init').map((x) => x[0])).toEqual([2, 3, 4, 5, 6, 7]);
  expect(of('mezo+init')[0].slice(1, 4)).toEqual([3.16e-4, null, 'smollm2-135m/init']); // the policy arm's lr
  expect(runs.every((r) => r.config.options.testN === 1000 && r.config.forwardPasses === 500)).toBe(true);
  expect(written.compare.pairs.map((p: { treatment: string }) => p.treatment)).toEqual(['mezo+policy', 'guided', 'guided+policy']);
  expect(written.compare.controls[0]).toMatchObject({ baseline: 'mezo', treatment: 'mezo+policy', control: 'mezo+init' });
  const bad = (i: number, value: string) => run('stage4.mjs', flags.map((f, j) => (j === i ? value : f))).err.trim();
  expect(bad(flags.indexOf('--guided') + 1, '6:1e-3')).toBe("stage4: --guided: expected M:LR with M 4 or 8 (stage 3's grid), got 6:1e-3");
  expect(bad(flags.indexOf('--mezo') + 1, '0')).toBe('stage4: --mezo: expected a positive learning rate, got 0');
  expect(run('stage4.mjs', flags.slice(0, -2)).err.trim()).toBe('stage4: --guided-policy is required');
  // the tasks run in the order given, seed by seed with every method of a seed together; --threads per run
  expect(written.threads).toBe(2);
  expect(run('stage4.mjs', [...flags.map((f) => (f === 'mr,sst2' ? 'sst2,mr' : f)), '--threads', '1']).code).toBe(0);
  const ordered = expandRuns(parseSpec(JSON.parse(readFileSync(spec, 'utf8')), spec));
  expect(ordered.slice(0, 6).map((r) => [r.config.task, r.config.seed, r.config.method])).toEqual([
    ['sst2', 2, 'mezo'], ['sst2', 2, 'mezo+policy'], ['sst2', 2, 'guided'], ['sst2', 2, 'guided+policy'], ['sst2', 2, 'mezo+init'], ['sst2', 3, 'mezo'],
  ]);
  expect([ordered[30].config.task, ordered[30].config.seed, JSON.parse(readFileSync(spec, 'utf8')).threads]).toEqual(['mr', 2, 1]);
  expect(run('stage4.mjs', [...flags, '--threads', 'two']).err.trim()).toBe('stage4: --threads: expected a whole number of at least 1, got two');
});

test('the lr scan: MeZO and the best arm at lrᴸ/10 and 10·lrᴸ; the stable range from the scan and stage 3', () => {
  const spec = join(work, 'scan.json');
  const flags = ['--spec', spec, '--task', 'sst2', '--lr', '1e-3', '--budget', '500', '--arm', 'guided8+policy', '--policy', 'smollm2-135m/default'];
  expect(run('scan.mjs', flags).out).toContain('(2 methods x 2 lrs x 1 seeds = 4 runs)');
  const written = JSON.parse(readFileSync(spec, 'utf8'));
  const runs = expandRuns(parseSpec(written, spec));
  expect(runs.map((r) => [r.config.method, r.config.lr, r.config.seed])).toEqual([
    ['mezo', 1e-4, 0], ['mezo', 1e-2, 0], ['guided8+policy', 1e-4, 0], ['guided8+policy', 1e-2, 0],
  ]);
  // the same method settings as stage 3's
  const s3 = JSON.parse(readFileSync(join(work, 'stage3.json'), 'utf8'));
  expect(written.methods['guided8+policy']).toEqual(s3.methods['guided8+policy']);
  expect(written.threads).toBe(1);
  expect(run('scan.mjs', flags.map((f) => (f === 'guided8+policy' ? 'mezo' : f))).err.trim()).toMatch(/^scan: --arm must be one of stage 3's methods other than mezo \(mezo\+policy, guided4, /);
  expect(run('scan.mjs', flags.slice(0, -2)).err.trim()).toBe('scan: --policy is required');

  // diverged: a final dev loss above 1.1x step 0's, or not finite; the stable range = the largest lr with no diverged seed
  const dirs = [
    stage3Run('mezo', 1e-4, 0, [1, 0.9]), stage3Run('mezo', 3.16e-4, 0, [1, 0.8]), stage3Run('mezo', 1e-3, 0, [1, 0.7]),
    stage3Run('mezo', 3.16e-3, 0, [1, 1.09]), stage3Run('mezo', 1e-2, 0, [1, 1.2]),
    stage3Run('guided4', 1e-4, 0, [1, 0.95]), stage3Run('guided4', 1e-3, 0, [1, NaN]),
  ];
  const r = run('scan.mjs', dirs);
  expect(r.code).toBe(0);
  expect(r.out).toContain('| mezo | 0.9000 | 0.8000 | 0.7000 | 1.0900 | 1.2000 (diverged: 1 of 1) | 0.00316 |');
  expect(r.out).toContain('| guided4 | 0.9500 | — | not finite (diverged: 1 of 1) | — | — | 0.0001 |');
});

test('stage 3 --json and the pipeline: the tuned settings reach the scan and stage 4 by rule, with no hand in between', () => {
  // stage 3's finished runs (seed 0): MeZO best at 1e-3; guided8+policy is the best arm other than MeZO
  const fixtures = join(work, 'pipe-fixtures');
  const runs = [
    stage3Run('mezo', 3.16e-4, 0, [1, 0.8]), stage3Run('mezo', 1e-3, 0, [1, 0.7]), stage3Run('mezo+policy', 3.16e-3, 0, [1, 0.69]),
    stage3Run('guided4', 1e-3, 0, [1, 0.72]), stage3Run('guided8', 3.16e-4, 0, [1, 0.71]),
    stage3Run('guided4+policy', 1e-3, 0, [1, 0.7]), stage3Run('guided8+policy', 3.16e-3, 0, [1, 0.6]),
  ];
  mkdirSync(fixtures, { recursive: true });
  for (const r of runs) spawnSync('cp', ['-r', r, fixtures]);
  const tuned = join(work, 'tuned.json');
  const r = run('stage3.mjs', ['--json', tuned, ...runs]);
  expect(r.out).toContain("the scan's best arm: guided + policy (guided8+policy)");
  expect(JSON.parse(readFileSync(tuned, 'utf8'))).toEqual({
    arms: {
      MeZO: { method: 'mezo', lr: 1e-3, loss: 0.7 }, 'MeZO + policy': { method: 'mezo+policy', lr: 3.16e-3, loss: 0.69 },
      guided: { method: 'guided8', lr: 3.16e-4, loss: 0.71 }, 'guided + policy': { method: 'guided8+policy', lr: 3.16e-3, loss: 0.6 },
    },
    scanArm: 'guided + policy',
  });

  // the pipeline, its sweeps replaced by a stand-in `npx` that logs them (stage 3's: the fixtures appear)
  const cwd = join(work, 'pipe');
  const bin = join(work, 'pipe-bin');
  mkdirSync(join(cwd, 'configs', 'sweeps'), { recursive: true });
  mkdirSync(bin, { recursive: true });
  const log = join(work, 'pipe.log');
  writeFileSync(join(bin, 'npx'), `#!/bin/sh\necho "$@" >> "${log}"\nmkdir -p "$5/runs"\ncase "$3" in *stage3*) cp -r "${fixtures}"/* "$5/runs/";; esac\n`, { mode: 0o755 });
  const p = spawnSync(process.execPath, [resolve(import.meta.dirname, 'smollm2', 'pipeline.mjs'), '--out', join(work, 'pipe-out')], {
    cwd, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  expect([p.status, p.stderr]).toEqual([0, '']);
  expect(readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual([
    'zotune sweep configs/sweeps/smollm2-stage3.json', 'zotune sweep configs/sweeps/smollm2-stage4.json', 'zotune sweep configs/sweeps/smollm2-scan.json',
  ]);
  // the shipping rule ran on stage 4's (here: no) runs before the scan
  expect(JSON.parse(readFileSync(join(work, 'pipe-out', 'ship.json'), 'utf8'))).toMatchObject({ decision: 'undecided', missing: 60 });
  const scan = JSON.parse(readFileSync(join(cwd, 'configs', 'sweeps', 'smollm2-scan.json'), 'utf8'));
  expect([scan.grid.method, scan.grid.lr, scan.grid.forwardPasses, scan.threads]).toEqual([['mezo', 'guided8+policy'], [1e-4, 1e-2], [2000], 1]);
  const s4 = JSON.parse(readFileSync(join(cwd, 'configs', 'sweeps', 'smollm2-stage4.json'), 'utf8'));
  expect(s4.grid.task).toEqual(['sst2', 'mr']);
  expect(Object.fromEntries(Object.entries(s4.methods as Record<string, { lr: number; candidates?: number; policy: string }>).map(([m, c]) => [m, [c.lr, c.candidates ?? null, c.policy]]))).toEqual({
    mezo: [1e-3, null, 'none'],
    'mezo+policy': [3.16e-3, null, 'smollm2-135m/default'],
    guided: [3.16e-4, 8, 'none'],
    'guided+policy': [3.16e-3, 8, 'smollm2-135m/default'],
    'mezo+init': [3.16e-3, null, 'docs/results/smollm2/policy-init/policy.zpol'],
  });
  // a failed sweep stops it in one line
  writeFileSync(join(bin, 'npx'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  const f = spawnSync(process.execPath, [resolve(import.meta.dirname, 'smollm2', 'pipeline.mjs'), '--out', join(work, 'pipe-out')], { cwd, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  expect([f.status, f.stderr.trim()]).toEqual([1, "pipeline: smollm2-stage3's sweep exited with 1; fix it and rerun this command (it resumes)"]);
});

test('policy-sigma.ts: the LoRA policy at the adapter start reproduces what meta-training recorded there', () => {
  // the untrained control made one meta step with ω never moving: its recorded σ statistics are those of the
  // adapter's start (sampled A), which the script rebuilds from A's init variance (so within a few per cent)
  const dir = resolve(import.meta.dirname, '..', 'docs', 'results', 'smollm2', 'policy-init');
  const recorded = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).metrics;
  const r = spawnSync(process.execPath, ['--conditions=@zotune/source', '--import', 'tsx', resolve(import.meta.dirname, 'policy-sigma.ts'), join(dir, 'policy.zpol'), '--json'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout);
  expect(out.first.meanSigma / recorded.finalMeanSigma).toBeCloseTo(1, 1);
  expect(out.first.minEffSigma / recorded.finalMinEffSigma).toBeCloseTo(1, 1);
  expect(out.first.maxEffSigma / recorded.finalMaxEffSigma).toBeCloseTo(1, 1);
  expect(out.perLayerFirst).toHaveLength(30); // SmolLM2-135M's 30 layers, q and v, A and B
  expect(Object.keys(out.perLayerFirst[0][1]).sort()).toEqual(['q.A', 'q.B', 'v.A', 'v.B']);
  const full = spawnSync(process.execPath, ['--conditions=@zotune/source', '--import', 'tsx', resolve(import.meta.dirname, 'policy-sigma.ts'), resolve(import.meta.dirname, '..', 'policies', 'blobs', 'sha256', '336b661887d614f72acec423845b53c8c64db967085a982d6d497d36d3bcdd1e')], { encoding: 'utf8' });
  expect([full.status, full.stderr.trim()]).toEqual([2, expect.stringMatching(/^policy-sigma: .*: block .* is not a LoRA adapter block; this reads LoRA policies only \(meta-train --peft lora\)$/)]);
});

test('the shipping rule (ship.mjs): >= 5 of 6 dev-loss pairs on every task and a mean test acc no lower than MeZO\'s', () => {
  /** a finished stage-4 run: summary.json only (what ship.mjs reads); devLoss NaN is written as null, as JSON does */
  const s4 = (root: string, task: string, method: string, seed: number, devLoss: number, testAcc: number) => {
    const dir = join(work, root, `${task}-${method.replace('+', '-')}-s${seed}-0123456789`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ finalDevLoss: devLoss, testAcc }));
    return dir;
  };
  const seeds = [2, 3, 4, 5, 6, 7];
  // a: MeZO's dev loss 0.5 on every seed, test 0.7. guided wins 6/6 on a and 5/6 on b at the same test acc: passes.
  // mezo+policy wins 5/6 on both but its test acc is lower: fails. guided+policy wins 4/6 on b: fails. The control loses.
  const full = (root: string, extra: (t: string, m: string, s: number) => [number, number] | undefined = () => undefined) =>
    ['a', 'b'].flatMap((t) => seeds.flatMap((s) => ['mezo', 'mezo+policy', 'guided', 'guided+policy', 'mezo+init'].map((m) => {
      const plan: Record<string, [number, number]> = {
        mezo: [0.5, 0.7],
        'mezo+policy': [s === 2 ? 0.6 : 0.4, 0.69],
        guided: [t === 'b' && s === 7 ? NaN : 0.45, 0.7 + (t === 'b' && s === 7 ? -0.02 : 0.01)],
        'guided+policy': [t === 'b' && s >= 6 ? 0.55 : 0.4, 0.8],
        'mezo+init': [0.6, 0.6],
      };
      const [loss, acc] = extra(t, m, s) ?? plan[m];
      return s4(root, t, m, s, loss, acc);
    })));
  const dirs = full('ship-pass');
  const json = join(work, 'ship.json');
  const r = run('ship.mjs', ['--tasks', 'a,b', '--json', json, ...dirs]);
  expect([r.code, r.err]).toEqual([0, '']);
  expect(r.out).toContain('| guided | 6 | 5/6 (qualifies) | 0.4500 (1 not finite) | 70.5 |'); // b: one diverged guided run (not finite) loses its pair
  expect(r.out).toContain('| mezo+init | 6 | 0/6 (control) | 0.6000 | 60.0 |');
  expect(r.out).toContain('trained policy vs the untrained control: lower final dev loss in 5/6 pairs');
  expect(r.out).toContain('mezo+policy: fails; wins a 5/6, b 5/6; mean test acc 69.0 % vs MeZO 70.0 %');
  expect(r.out).toContain('guided+policy: fails; wins a 6/6, b 4/6');
  expect(r.out).toContain('\ndecision: ship guided\n');
  expect(JSON.parse(readFileSync(json, 'utf8'))).toMatchObject({ decision: 'ship guided', arm: 'guided', complete: true, missing: 0 });

  // unfinished runs: nothing ships before every run is in; "stay" as soon as every arm has two lost pairs on a task
  const partial = dirs.filter((d) => !/-s7-/.test(d));
  expect(run('ship.mjs', ['--tasks', 'a,b', ...partial]).out).toContain('\ndecision: undecided (10 of 60 runs not finished)\n');
  const losing = full('ship-stay', (t, m, s) => (t === 'a' && s <= 3 && m !== 'mezo' ? [0.9, 0.7] : undefined)).filter((d) => /^.*\/a-/.test(d) && !/-s7-/.test(d));
  const stay = run('ship.mjs', ['--tasks', 'a,b', ...losing]);
  expect(stay.out).toContain('\ndecision: stay (MeZO, no policy, at the lr stage 3 tuned for MeZO) (35 of 60 runs not finished)\n');
  expect(stay.out).toContain('guided: fails; wins a 3/5, b 0/0');

  // a run directory of another stage, an unknown task, no --tasks: one line each
  const other = run('ship.mjs', ['--tasks', 'a,b', join(work, 'x-guided4-s0-0123456789')]);
  expect([other.code, other.err.trim()]).toEqual([1, `ship: ${join(work, 'x-guided4-s0-0123456789')}: not a stage-4 run directory (<task>-<method>-s<seed>-<hash>, method one of mezo, mezo+policy, guided, guided+policy, mezo+init)`]);
  expect(run('ship.mjs', ['--tasks', 'b', dirs[0]]).err.trim()).toBe(`ship: ${dirs[0]}: task a is not one of --tasks b`);
  expect(run('ship.mjs', dirs).err.trim()).toBe('ship: --tasks is required: the held-out tasks, e.g. --tasks sst2,mr (usage: node scripts/smollm2/ship.mjs --tasks T1,T2 [--json FILE] RUN_DIR...)');
});
