// Every evaluation and update of every ZO estimator against an independent reference: the weights
// θ + ε·σ_j·Σ coef·z(seed, j) built here in float64 from the noise specification (normalFillRef of
// @zotune/tensor, not the Perturber), the loss read at them on a second copy of the toy model, and
// the direction weights and update derived by hand from ALGORITHMS.md §2–3. ε = 0.01 and σ differ
// per block, so a step that drops ε or σ, swaps a sign, ranks the wrong way, or replays the wrong
// direction moves a loss by ~1e-2, far above the float32 round-off (~1e-6) the comparisons allow.
// Seeds are pinned literals (deriveSeed's values, computed once from the reference in noise-ref.ts).
import { afterEach, describe, expect, it } from 'vitest';
import type { StepRecord } from '@zotune/artifacts';
import { normalFillRef } from '@zotune/tensor';
import { createEstimator } from './estimator';
import { eliteSeed, guidedWeights } from './guided';
import { Perturber } from './perturb';
import { rankByLoss, StepContext } from './step';
import { decays } from './update';
import { fixedScale } from './scale';
import { makeToy, type Toy } from './toy.testkit';

const EPS = 0.01;
const SIGMA = [0.5, 2, 1.5, 0.25];
const LR = 0.05;
const DECAY = 0.1;
// step seeds stepSeed(7, 0) and stepSeed(7, 1), and candidateSeed(·, i) for i = 0..3
const STEP_SEEDS = [2970799729, 1025948057];
const CANDIDATES = [
  [3716942348, 1988733332, 291469007, 2880978521],
  [804932776, 2811991091, 2700857063, 813568161],
];
// the toy's blocks: embedding, matrix, bias, norm; decay applies to the first two only
const DECAYS = [true, true, false, false];

let toys: Toy[] = [];
const toy = (seed: number) => {
  const t = makeToy(seed);
  toys.push(t);
  return t;
};
afterEach(() => {
  toys.forEach((t) => t.dispose());
  toys = [];
});

function z(seed: number, block: number, size: number): Float32Array {
  const out = new Float32Array(size);
  normalFillRef(out, seed, block);
  return out;
}

/** θ_j + σ_j·Σ coef·z(seed, j), in float64, rounded once to float32. */
function displaced(theta: Float32Array[], terms: { seed: number; coef: number }[], sigma = SIGMA): Float32Array[] {
  return theta.map((w, j) => {
    const zs = terms.map((t) => ({ c: t.coef, z: z(t.seed, j, w.length) }));
    return Float32Array.from(w, (x, k) => x + sigma[j] * zs.reduce((s, t) => s + t.c * t.z[k], 0));
  });
}

/** The loss at the given weights, on a second toy of the same data (never the one being stepped). */
async function lossAt(ref: Toy, weights: Float32Array[]): Promise<number> {
  ref.restore(weights);
  return ref.lossValue();
}

/** Check a record's every loss against the reference at θ, given the direction weights the test derived. */
async function checkRecord(rec: StepRecord, theta: Float32Array[], ref: Toy, seeds: number[], weights: number[][]): Promise<void> {
  expect(rec.eps).toBe(EPS);
  expect(rec.sigma).toEqual(SIGMA);
  expect(rec.candidates.map((c) => c.seed)).toEqual(seeds);
  for (const c of rec.candidates) {
    if (c.loss === null) continue;
    expect(c.loss).toBeCloseTo(await lossAt(ref, displaced(theta, [{ seed: c.seed, coef: EPS }])), 5);
  }
  // to 1e-12: c = 1/sqrt(1/|TOP| + 1/|BOTTOM|) is derived here by hand, the last bit may differ
  expect(rec.probes.map((p) => p.weights.length)).toEqual(weights.map((w) => w.length));
  rec.probes.forEach((p, k) => p.weights.forEach((x, i) => expect(x).toBeCloseTo(weights[k][i], 12)));
  for (const p of rec.probes) {
    const v = (a: number) => seeds.map((seed, i) => ({ seed, coef: a * p.weights[i] }));
    expect(p.lossPlus).toBeCloseTo(await lossAt(ref, displaced(theta, v(EPS))), 5);
    expect(p.lossMinus).toBeCloseTo(await lossAt(ref, displaced(theta, v(-EPS))), 5);
    expect(p.projectedGrad).toBe((p.lossPlus - p.lossMinus) / 0.02);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(rec.lossPlus).toBe(mean(rec.probes.map((p) => p.lossPlus)));
  expect(rec.lossMinus).toBe(mean(rec.probes.map((p) => p.lossMinus)));
  expect(rec.projectedGrad).toBe(mean(rec.probes.map((p) => p.projectedGrad)));
}

/** θ' = keep_j·θ_j − η·σ_j·Σ_i u_i·z_i, u_i = mean over probes of g·w_i (ALGORITHMS.md §2 step 6). */
function updated(theta: Float32Array[], rec: StepRecord, decay: number): Float32Array[] {
  const u = rec.candidates.map((_, i) => rec.probes.reduce((s, p) => s + p.projectedGrad * p.weights[i], 0) / rec.probes.length);
  return theta.map((w, j) => {
    const zs = rec.candidates.map((c) => z(c.seed, j, w.length));
    const keep = DECAYS[j] ? 1 - LR * decay : 1;
    return Float32Array.from(w, (x, k) => keep * x - LR * SIGMA[j] * u.reduce((s, ui, i) => s + ui * zs[i][k], 0));
  });
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, j) => x.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[j][k])))));
  return m;
}

/** Indices of the losses sorted ascending (the test's own ranking; no NaN here). */
const ranked = (losses: number[]) => losses.map((l, i) => [l, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[1]);

/**
 * Steps of an estimator of trajectory format version 2 (restore, then update) or 3 (the update landed
 * from the last evaluation point, θ − ε·σ·v of the last probe, checked here against the reference).
 */
async function runVersion(name: 'mezo' | 'guided' | 'greedy' | 'elite', extra: object, steps: number, trajectoryVersion: number) {
  const live = toy(21);
  const ref = toy(21);
  const est = createEstimator({ name, eps: EPS, lr: LR, weightDecay: DECAY, cacheNoise: false, ...extra }, { trajectoryVersion });
  const out: { rec: StepRecord; theta: Float32Array[]; after: Float32Array[] }[] = [];
  let prev: StepRecord | undefined;
  for (let s = 0; s < steps; s++) {
    const theta = live.snapshot();
    const rec = await est.step({ blocks: live.blocks, lossValue: live.lossValue, step: s, seed: STEP_SEEDS[s], scale: fixedScale(SIGMA), prev });
    const last = rec.probes.at(-1)!;
    const at = trajectoryVersion >= 3 ? displaced(theta, rec.candidates.map((c, i) => ({ seed: c.seed, coef: -EPS * last.weights[i] }))) : theta;
    expect(maxDiff(live.snapshot(), at)).toBeLessThan(1e-6); // restored (2), or at the last evaluation point (3)
    await est.update(live.blocks, rec);
    out.push({ rec, theta, after: live.snapshot() });
    prev = rec;
  }
  est.dispose();
  return { out, ref };
}

for (const version of [2, 3]) describe(`ZO estimators against the float64 reference (ε = 0.01, σ per block, weight decay 0.1), trajectory version ${version}`, () => {
  const run = (name: 'mezo' | 'guided' | 'greedy' | 'elite', extra: object, steps = 1) => runVersion(name, extra, steps, version);

  it('mezo, 2 queries: two probes along z(s₀) and z(s₁), at θ ± εσz, and the n-SPSA mean update', async () => {
    const { out: [{ rec, theta, after }], ref } = await run('mezo', { queries: 2 });
    expect(rec.candidates).toEqual([{ seed: CANDIDATES[0][0], loss: null }, { seed: CANDIDATES[0][1], loss: null }]);
    await checkRecord(rec, theta, ref, CANDIDATES[0].slice(0, 2), [[1, 0], [0, 1]]);
    expect(rec.forwardPasses).toBe(4);
    expect(maxDiff(after, updated(theta, rec, DECAY))).toBeLessThan(2e-6);
  });

  it('guided, M = 4, α = 0.5, normalised: four one-sided candidates at θ + εσz, v = (z_best + z_2nd − z_3rd − z_worst)/2', async () => {
    const { out: [{ rec, theta, after }], ref } = await run('guided', { candidates: 4, alpha: 0.5, normalize: true });
    // c = 1/sqrt(1/2 + 1/2) = 1: +1/2 on the two lowest losses, −1/2 on the two highest
    const order = ranked(rec.candidates.map((c) => c.loss!));
    const w = [0, 0, 0, 0];
    order.forEach((i, r) => (w[i] = r < 2 ? 0.5 : -0.5));
    await checkRecord(rec, theta, ref, CANDIDATES[0], [w]);
    expect(rec.forwardPasses).toBe(6);
    expect(maxDiff(after, updated(theta, rec, DECAY))).toBeLessThan(2e-6);
  });

  it('guided, M = 4, α = 0.25: TOP of one with c/1, BOTTOM of three with −c/3, c = √3/2 normalised, 1 not', async () => {
    for (const [normalize, c] of [[true, 0.8660254037844386], [false, 1]] as const) {
      const { out: [{ rec, theta, after }], ref } = await run('guided', { candidates: 4, alpha: 0.25, normalize });
      const order = ranked(rec.candidates.map((x) => x.loss!));
      const w = [0, 0, 0, 0];
      order.forEach((i, r) => (w[i] = r === 0 ? c : -c / 3));
      await checkRecord(rec, theta, ref, CANDIDATES[0], [w]);
      expect(maxDiff(after, updated(theta, rec, DECAY))).toBeLessThan(2e-6);
    }
  });

  it('greedy, M = 3: the probe runs along the single lowest-loss candidate', async () => {
    const { out: [{ rec, theta, after }], ref } = await run('greedy', { candidates: 3 });
    const best = ranked(rec.candidates.map((c) => c.loss!))[0];
    await checkRecord(rec, theta, ref, CANDIDATES[0].slice(0, 3), [[0, 1, 2].map((i) => (i === best ? 1 : 0))]);
    expect(rec.forwardPasses).toBe(5);
    expect(maxDiff(after, updated(theta, rec, DECAY))).toBeLessThan(2e-6);
  });

  it('elite, two steps: two new seeds, then the previous best re-evaluated against one new seed', async () => {
    const { out, ref } = await run('elite', { normalize: true }, 2);
    const weightsOf = (rec: StepRecord) => {
      const [best, worst] = ranked(rec.candidates.map((c) => c.loss!));
      const w = [0, 0];
      w[best] = Math.SQRT1_2;
      w[worst] = -Math.SQRT1_2;
      return w;
    };
    const [s0, s1] = out;
    await checkRecord(s0.rec, s0.theta, ref, CANDIDATES[0].slice(0, 2), [weightsOf(s0.rec)]);
    expect(maxDiff(s0.after, updated(s0.theta, s0.rec, DECAY))).toBeLessThan(2e-6);
    // the elite of step 0: its lower-loss candidate, carried to step 1 as candidate 0
    const elite = s0.rec.candidates[0].loss! <= s0.rec.candidates[1].loss! ? CANDIDATES[0][0] : CANDIDATES[0][1];
    await checkRecord(s1.rec, s1.theta, ref, [elite, CANDIDATES[1][0]], [weightsOf(s1.rec)]);
    expect(s1.rec.forwardPasses).toBe(4);
    expect(maxDiff(s1.after, updated(s1.theta, s1.rec, DECAY))).toBeLessThan(2e-6);
  });

  it('the update moves against the gradient: a step along v with L⁺ > L⁻ lowers the loss on the toy', async () => {
    const { out: [{ rec, theta, after }], ref } = await run('greedy', { candidates: 3 });
    const before = await lossAt(ref, theta);
    const now = await lossAt(ref, after);
    // first order: ΔL ≈ −η·g²·‖σz‖²/… < 0 for a small η; the sign of the update decides it
    expect(rec.projectedGrad).not.toBe(0);
    expect(now).toBeLessThan(before);
  });
});

describe('ranking, by hand', () => {
  it('rankByLoss: ascending, ties in candidate order, NaN last (in candidate order among themselves)', () => {
    expect(rankByLoss([0.3, 0.1, 0.2])).toEqual([1, 2, 0]);
    expect(rankByLoss([0.2, 0.1, 0.2, 0.1])).toEqual([1, 3, 0, 2]);
    expect(rankByLoss([NaN, 0.5, NaN, -1])).toEqual([3, 1, 0, 2]);
    expect(rankByLoss([Infinity, NaN, 1])).toEqual([2, 0, 1]);
    expect(rankByLoss([NaN, Infinity])).toEqual([1, 0]);
    expect(rankByLoss([])).toEqual([]);
  });

  it('rankByLoss on 200 losses with many ties and NaNs (long enough that the sort merges runs, not only inserts)', () => {
    const losses = Array.from({ length: 200 }, (_, i) => (i % 13 === 5 ? NaN : (199 - i) % 7));
    // the order by hand: values 0…6 in turn, each in candidate order, then the NaNs in candidate order
    const want: number[] = [];
    for (let v = 0; v < 7; v++) for (let i = 0; i < 200; i++) if (losses[i] === v) want.push(i);
    for (let i = 0; i < 200; i++) if (Number.isNaN(losses[i])) want.push(i);
    expect(rankByLoss(losses)).toEqual(want);
  });

  it('guidedWeights: +c/|TOP| on the ⌊αM⌋ lowest, −c/|BOTTOM| on the rest; refuses an empty side', () => {
    expect(guidedWeights([0.4, 0.1, 0.3, 0.2], 0.5, false)).toEqual([-0.5, 0.5, -0.5, 0.5]);
    // M = 5, α = 0.4: TOP = 2, BOTTOM = 3, c = 1/sqrt(1/2 + 1/3) = sqrt(6/5)
    const c = Math.sqrt(6 / 5);
    const w = guidedWeights([5, 1, 4, 2, 3], 0.4, true);
    [-c / 3, c / 2, -c / 3, c / 2, -c / 3].forEach((x, i) => expect(w[i]).toBeCloseTo(x, 12));
    expect(() => guidedWeights([1, 2], 0.4, true)).toThrow('guided: alpha 0.4 with 2 candidates leaves TOP or BOTTOM empty');
    expect(() => guidedWeights([1, 2], 1, true)).toThrow('guided: alpha 1 with 2 candidates leaves TOP or BOTTOM empty');
    expect(guidedWeights([2, 1], 0.5, true)).toEqual([-Math.SQRT1_2, Math.SQRT1_2].map((x) => expect.closeTo(x, 12)));
  });

  it('eliteSeed: the lowest evaluated candidate, the first on a tie; undefined when none was evaluated', () => {
    const rec = (cands: [number, number | null][]) => ({ candidates: cands.map(([seed, loss]) => ({ seed, loss })) }) as StepRecord;
    expect(eliteSeed(rec([[11, 0.5], [22, 0.25]]))).toBe(22);
    expect(eliteSeed(rec([[11, 0.5], [22, 0.5]]))).toBe(11);
    expect(eliteSeed(rec([[11, null], [22, 0.7], [33, 0.6]]))).toBe(33);
    expect(eliteSeed(rec([[11, NaN], [22, 0.9]]))).toBe(22);
    expect(eliteSeed(rec([[11, null]]))).toBeUndefined();
  });
});

describe('refusals, each in one line', () => {
  it('step: ε, step index and seed out of range, blocks out of model order', async () => {
    const t = toy(22);
    const est = createEstimator({ name: 'mezo' });
    const go = (o: object) => est.step({ blocks: t.blocks, lossValue: t.lossValue, step: 0, seed: 1, ...o });
    for (const eps of [0, -1e-3, NaN, Infinity]) await expect(go({ eps })).rejects.toThrow(`mezo: eps must be a finite number > 0, got ${eps}`);
    for (const step of [-1, 0.5]) await expect(go({ step })).rejects.toThrow(`mezo: step must be an integer >= 0, got ${step}`);
    for (const seed of [-1, 2.5, 2 ** 32]) await expect(go({ seed })).rejects.toThrow(`mezo: seed must be a uint32, got ${seed}`);
    // the extremes are fine: seed 0 and 2^32 − 1, step 0
    await go({ seed: 0 });
    await go({ seed: 0xffffffff });
    const swapped = [t.blocks[1], t.blocks[0], ...t.blocks.slice(2)];
    await expect(go({ blocks: swapped })).rejects.toThrow('block model.layers.0.mlp.up_proj.weight has index 1 at position 0; pass Model.blocks in model order');
    const rec = await go({});
    await expect(est.update(swapped, rec)).rejects.toThrow('has index 1 at position 0');
    est.dispose();
  });

  it('update: lr and weight decay out of range, σ for another number of blocks', async () => {
    const t = toy(23);
    const est = createEstimator({ name: 'mezo' });
    const rec = await est.step({ blocks: t.blocks, lossValue: t.lossValue, step: 0, seed: 1 });
    for (const lr of [0, -1, NaN]) await expect(est.update(t.blocks, rec, { lr })).rejects.toThrow(`update: lr must be a finite number > 0, got ${lr}`);
    for (const weightDecay of [-0.1, Infinity]) await expect(est.update(t.blocks, rec, { weightDecay })).rejects.toThrow(`update: weightDecay must be a finite number >= 0, got ${weightDecay}`);
    await expect(est.update(t.blocks, { ...rec, sigma: [1, 1] })).rejects.toThrow('step 0: record has σ for 2 blocks, the model has 4');
    est.dispose();
  });

  it('a step context refuses a non-number loss, a probe of the wrong width, and a record while displaced', async () => {
    const t = toy(24);
    const est = createEstimator({ name: 'greedy', candidates: 2 });
    await expect(est.step({ blocks: t.blocks, lossValue: () => '0.5' as unknown as number, step: 0, seed: 1 })).rejects.toThrow('lossValue returned string, expected a number');
    est.dispose();
    const before = t.snapshot();
    const ctx = new StepContext(t.blocks, null, 1e-3, new Perturber(), t.lossValue);
    ctx.addCandidate(5);
    await expect(ctx.probe([1, 0])).rejects.toThrow('probe: 2 weights for 1 candidates');
    await ctx.oneSided(7);
    expect(() => ctx.record(0, 1, 'x')).toThrow('StepContext.record: the weights are still displaced; call restore() first');
    await ctx.restore();
    expect(maxDiff(t.snapshot(), before)).toBeLessThan(1e-6);
    expect(ctx.record(0, 1, 'x')).toMatchObject({ forwardPasses: 1, candidates: [{ seed: 5, loss: null }, { seed: 7, loss: expect.any(Number) }] });
  });
});

describe('weight decay by kind', () => {
  it('decays embedding, position and matrix blocks; never norm weights or biases', () => {
    expect((['embedding', 'position', 'matrix', 'norm', 'bias'] as const).map((kind) => decays({ kind }))).toEqual([true, true, true, false, false]);
  });
});
