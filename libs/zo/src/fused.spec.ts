// The update's float32 arithmetic, bit for bit, in trajectory versions 2 (restore, then update), 3
// (the restore fused into the update) and 4 (version 3 on noise stream 2), and when update() may fuse. The expected bits are built here
// from the specification alone: z from normalFillRef (the noise reference), and applyNoise's documented
// pass θ ← f32(f32(keep)·θ) + S, S = Σ f32(f32(coef·σ_j)·z) summed in order from +0 (noise.spec.ts
// pins that formula against the kernels), with the coefficients of the format: version 2 adds
// −η·u_s; version 3 lands from θ_now = θ + σ·Σ a_s·z with −keep·a_s + (−η·u_s), the displacement's
// seeds first. A step that drops keep from the displacement, mixes up a coefficient or the order of
// the terms, or fuses a record it must not, changes bits that reference.spec.ts's 2e-6 lets pass.
import { describe, expect, it } from 'vitest';
import type { StepRecord } from '@zotune/artifacts';
import { normalFillRef, type NoiseStream } from '@zotune/tensor';
import { createEstimator } from './estimator';
import { fixedScale } from './scale';
import { sameBits, toysPerTest, type Toy } from './toy.testkit';

const f = Math.fround;
const EPS = 0.01;
const SIGMA = [0.5, 2, 1.5, 0.25];
const LR = 0.05;
const DECAY = 0.1;
// keep_j = 1 − η·λ on the toy's embedding and matrix blocks, 1 on its bias and norm blocks
const KEEP = [1 - LR * DECAY, 1 - LR * DECAY, 1, 1];
const SEED = 2970799729; // stepSeed(7, 0)

const toy = toysPerTest();

interface Term {
  seed: number;
  coef: number;
}

/** One pass over block j: f32(f32(keep)·θ) + S, S = Σ f32(f32(coef·σ)·z(seed, j)) in order from +0. */
function pass(theta: Float32Array, j: number, sigma: number, terms: Term[], keep: number, stream: NoiseStream = 1): Float32Array {
  const zs = terms.filter((t) => t.coef !== 0 && sigma !== 0).map((t) => {
    const z = new Float32Array(theta.length);
    normalFillRef(z, t.seed, j, 0, stream);
    return { a: f(t.coef * sigma), z };
  });
  return Float32Array.from(theta, (x, i) => {
    let s = 0;
    for (const t of zs) s = f(s + f(t.a * t.z[i]));
    const kx = keep === 1 ? x : f(f(keep) * x);
    return zs.length > 0 ? f(kx + s) : kx;
  });
}

/** u_s = mean over probes of g·w_s (ALGORITHMS.md §2), then the update's term −η·u_s, in candidate order. */
function updateTerms(rec: StepRecord): Term[] {
  return rec.candidates.map((c, i) => {
    let u = 0;
    for (const p of rec.probes) u += p.projectedGrad * p.weights[i];
    return { seed: c.seed, coef: -LR * (u / rec.probes.length) };
  });
}

/**
 * Version 3's landing on block j: the last probe left θ_now = θ + σ·Σ a_s·z, a_s = −ε·w_s (its nonzero
 * weights); the terms are −keep·a_s (+ the update's term of the same seed), then the update's other seeds.
 */
function landTerms(rec: StepRecord, keep: number): Term[] {
  const last = rec.probes[rec.probes.length - 1];
  const upd = updateTerms(rec);
  const at = rec.candidates.map((c, i) => ({ seed: c.seed, a: -EPS * last.weights[i], t: upd[i].coef })).filter((x) => x.a !== 0);
  const rest = upd.filter((u) => !at.some((x) => x.seed === u.seed));
  return [...at.map((x) => ({ seed: x.seed, coef: -keep * x.a + x.t })), ...rest];
}

type Name = 'mezo' | 'guided' | 'greedy';
// mezo with 3 queries: the last probe leaves one seed displaced and the update has three terms, so
// the order of the landing's terms (the displaced seed first) shows in the float32 sums
const CONFIGS: [Name, object][] = [['mezo', { queries: 3 }], ['guided', { candidates: 4, alpha: 0.5 }], ['greedy', { candidates: 3 }]];

async function stepOnce(t: Toy, name: Name, extra: object, trajectoryVersion: number, sigma: number[] | null = SIGMA) {
  const est = createEstimator({ name, eps: EPS, lr: LR, weightDecay: DECAY, cacheNoise: false, ...extra }, { trajectoryVersion });
  const rec = await est.step({ blocks: t.blocks, lossValue: t.lossValue, step: 0, seed: SEED, scale: fixedScale(sigma) });
  return { est, rec, now: t.snapshot() };
}

describe('the update, bit for bit', () => {
  for (const [name, extra] of CONFIGS) {
    for (const [version, stream] of [[3, 1], [4, 2]] as const) {
      it(`${name} ${JSON.stringify(extra)}, version ${version}: one pass from the last evaluation point, keep·θ_now + σ·Σ(−keep·a_s − η·u_s)·z (stream ${stream})`, async () => {
        const t = toy(31);
        const { est, rec, now } = await stepOnce(t, name, extra, version);
        await est.update(t.blocks, rec);
        const want = now.map((theta, j) => pass(theta, j, SIGMA[j], landTerms(rec, KEEP[j]), KEEP[j], stream));
        expect(sameBits(t.snapshot(), want)).toBe(true);
        est.dispose();
      });
    }

    it(`${name} ${JSON.stringify(extra)}, version 2: the step restores, then one pass keep·θ − η·σ·Σ u_s·z`, async () => {
      const t = toy(31);
      const { est, rec, now } = await stepOnce(t, name, extra, 2);
      await est.update(t.blocks, rec);
      const want = now.map((theta, j) => pass(theta, j, SIGMA[j], updateTerms(rec), KEEP[j]));
      expect(sameBits(t.snapshot(), want)).toBe(true);
      est.dispose();
    });
  }
});

describe('update() fuses only the pending step\'s own record on its own blocks', () => {
  /**
   * Another record, or other blocks (another model's, or the stepped model's first three and another
   * model's last): the step is undone, then the record applied as version 2 does.
   */
  async function check(change: (rec: StepRecord) => StepRecord, otherBlocks: false | 'all' | 'last') {
    const a = toy(32);
    const b = toy(32);
    const c = toy(33);
    const { est, rec } = await stepOnce(a, 'mezo', {}, 3);
    const { est: sep, rec: recB } = await stepOnce(b, 'mezo', {}, 2);
    expect(recB).toEqual(rec);
    const restored = b.snapshot();
    const target = change(rec);
    const before = c.snapshot();
    const blocks = otherBlocks === 'all' ? c.blocks : otherBlocks === 'last' ? [...a.blocks.slice(0, 3), c.blocks[3]] : a.blocks;
    await est.update(blocks, target);
    // the weights the record lands on: the restored ones of the stepped model, another's as they were
    const on = blocks.map((b, j) => (b === a.blocks[j] ? restored[j] : before[j]));
    const sigma = target.sigma ?? [1, 1, 1, 1];
    const want = on.map((theta, j) => pass(theta, j, sigma[j], updateTerms(target), KEEP[j]));
    const now = [...a.snapshot(), ...c.snapshot()];
    expect(sameBits(blocks.map((b) => now[[...a.blocks, ...c.blocks].indexOf(b)]), want)).toBe(true);
    // the stepped blocks not updated are back at θ, as version 2's step left them
    a.blocks.forEach((b, j) => {
      if (!blocks.includes(b)) expect(sameBits([now[j]], [restored[j]]), b.name).toBe(true);
    });
    est.dispose();
    sep.dispose();
  }

  it('another seed of the same step: applied on the restored weights', async () => {
    await check((r) => ({ ...r, seed: r.seed + 1 }), false);
  });

  it('the same step with another σ (its first the same): applied with its own σ on the restored weights', async () => {
    await check((r) => ({ ...r, sigma: [SIGMA[0], 0.5, 3, 2] }), false);
  });

  it('another model\'s blocks: the stepped blocks are restored, the record lands on the others', async () => {
    await check((r) => r, 'all');
  });

  it('the stepped model\'s blocks but one: the step is undone, the record lands on the blocks given', async () => {
    await check((r) => r, 'last');
  });

  it('more blocks than the stepped model (σ null): the step is undone, the record lands on every block given', async () => {
    const a = toy(35);
    const b = toy(35);
    const c = toy(36);
    const { est, rec } = await stepOnce(a, 'mezo', {}, 3, null);
    const { est: sep } = await stepOnce(b, 'mezo', {}, 2, null);
    const restored = b.snapshot();
    const before = c.snapshot()[3];
    // a fifth block (noise block 4) over another toy's norm weights
    const blocks = [...a.blocks, { ...c.blocks[3], index: 4, name: 'extra.norm.weight' }];
    await est.update(blocks, rec);
    const want = [...restored, before].map((theta, j) => pass(theta, j, 1, updateTerms(rec), j < 4 ? KEEP[j] : 1));
    expect(sameBits([...a.snapshot(), c.snapshot()[3]], want)).toBe(true);
    est.dispose();
    sep.dispose();
  });

  it('blocks of another length: refused in one line with the stepped blocks restored', async () => {
    const a = toy(34);
    const { est, rec } = await stepOnce(a, 'mezo', {}, 3);
    const b = toy(34);
    const { est: sep } = await stepOnce(b, 'mezo', {}, 2);
    await expect(est.update(a.blocks.slice(0, 3), rec)).rejects.toThrow('step 0: record has σ for 4 blocks, the model has 3');
    expect(sameBits(a.snapshot(), b.snapshot())).toBe(true);
    est.dispose();
    sep.dispose();
  });
});
