import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStepRecord, type StepRecord } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import { candidateSeed, forwardPassesPerStep, parseEstimatorConfig, stepSeed } from './config';
import { estimatorNames, parseEstimatorName, zoEstimatorNames } from './names';
import { createEstimator, noiseStreamOf } from './estimator';
import { Perturber } from './perturb';
import { runSteps } from './run.testkit';
import { fixedScale, type ScaleContext } from './scale';
import { StepContext } from './step';
import { applyUpdate, decays } from './update';
import { makeToy, maxAbsDiff, sameBits, type Toy } from './toy.testkit';

let toys: Toy[] = [];
function toy(seed = 1): Toy {
  const t = makeToy(seed);
  toys.push(t);
  return t;
}
afterEach(() => {
  toys.forEach((t) => t.dispose());
  toys = [];
});

describe('estimator config', () => {
  it('lists the estimators and counts forward passes per step', () => {
    expect(estimatorNames).toEqual(['mezo', 'guided', 'greedy', 'elite', 'adam']);
    const c = (x: object) => parseEstimatorConfig(x);
    expect(forwardPassesPerStep(c({ name: 'mezo' }))).toBe(2);
    expect(forwardPassesPerStep(c({ name: 'mezo', queries: 3 }))).toBe(6);
    expect(forwardPassesPerStep(c({ name: 'guided' }))).toBe(6);
    expect(forwardPassesPerStep(c({ name: 'greedy', candidates: 8 }))).toBe(10);
    expect(forwardPassesPerStep(c({ name: 'elite' }))).toBe(4);
    expect(forwardPassesPerStep(c({ name: 'adam' }))).toBe(3);
  });

  it('rejects an unknown estimator in one line listing the valid ones', () => {
    expect(() => parseEstimatorName('sgd', '--estimator')).toThrow(/^--estimator: unknown estimator "sgd"; expected one of mezo, guided, greedy, elite, adam$/);
    let msg = '';
    try {
      createEstimator({ name: 'sgd' as 'mezo' });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe('estimator config: name: unknown estimator "sgd"; expected one of mezo, guided, greedy, elite, adam');
  });

  it('names the field, the value and the expectation on bad input', () => {
    expect(() => parseEstimatorConfig({ name: 'guided', candidates: 0 })).toThrow(/^estimator config: candidates: .*>=1.* \(got 0\)$/);
    expect(() => parseEstimatorConfig({ name: 'guided', candidates: 4, alpha: 0.1 })).toThrow(/alpha: guided needs 1 <= floor\(alpha·candidates\) < candidates, got alpha 0.1 with 4 candidates/);
    expect(() => parseEstimatorConfig({ name: 'mezo', eps: -1 })).toThrow(/^estimator config: eps: .* \(got -1\)$/);
    expect(() => createEstimator({ name: 'adam' })).toThrow(/first-order: use createAdam/);
  });
});

describe('ZO estimators on a tiny least-squares model', () => {
  it('a fixed-seed five-step MeZO run gives pinned losses (trajectory version 2), and version 3 the same to round-off', async () => {
    const fusedToy = toy(1);
    const fused = createEstimator({ name: 'mezo', eps: 1e-3, lr: 0.1 }, { trajectoryVersion: 3 });
    const fusedRecs = await runSteps(fused, fusedToy, 5, { runSeed: 42 });
    fused.dispose();
    const t = toy(1);
    const est = createEstimator({ name: 'mezo', eps: 1e-3, lr: 0.1 }, { trajectoryVersion: 2 });
    const recs = await runSteps(est, t, 5, { runSeed: 42 });
    // one rounding instead of two per element and step: the losses move by float32 round-off only
    fusedRecs.forEach((r, i) => {
      expect(Math.abs(r.lossPlus - recs[i].lossPlus)).toBeLessThan(1e-5);
      expect(Math.abs(r.lossMinus - recs[i].lossMinus)).toBeLessThan(1e-5);
    });
    expect(sameBits(fusedToy.snapshot(), t.snapshot())).toBe(false);
    // (a loss 1e-7 apart changes g = ΔL/2ε by 1e-4: the weights drift further than one rounding)
    expect(maxAbsDiff(fusedToy.snapshot(), t.snapshot())).toBeLessThan(1e-4);
    const pinned = [
      [0.9124262928962708, 0.9119401574134827],
      [0.9084094166755676, 0.9087681770324707],
      [0.9065253138542175, 0.9064081311225891],
      [0.9073627591133118, 0.9051615595817566],
      [0.8246999382972717, 0.8242604732513428],
    ];
    // stepSeed(42, i) and candidateSeed(·, 0), pinned (the reference deriveSeed's values, noise-ref.ts)
    const seeds = [3735005942, 3727826718, 694132572, 2707894000, 3399091179];
    const firstCandidates = [3401611303, 2588055337, 2029663620, 698041980, 3628866795];
    recs.forEach((r, i) => {
      expect(r.lossPlus).toBeCloseTo(pinned[i][0], 6);
      expect(r.lossMinus).toBeCloseTo(pinned[i][1], 6);
      expect(r.projectedGrad).toBeCloseTo((pinned[i][0] - pinned[i][1]) / 2e-3, 1);
      expect(r.seed).toBe(seeds[i]);
      expect(r.candidates).toEqual([{ seed: firstCandidates[i], loss: null }]);
    });
    expect(await t.lossValue()).toBeCloseTo(0.81998211145401, 6);
    est.dispose();
  });

  for (const name of zoEstimatorNames) {
    it(`${name}: records are valid, cost what forwardPassesPerStep says, and restore the weights`, async () => {
      const t = toy(2);
      const est = createEstimator({ name, candidates: 4, queries: 2, lr: 0.05 });
      let prev: StepRecord | undefined;
      for (let step = 0; step < 3; step++) {
        const before = t.snapshot();
        let calls = 0;
        const rec = await est.step({ blocks: t.blocks, lossValue: () => (calls++, t.lossValue()), step, seed: stepSeed(9, step), prev });
        // version 3: the weights wait at the last evaluation point (≈ ε away) for the fused update;
        // restore() undoes the step instead (the update below then runs on restored weights)
        expect(maxAbsDiff(t.snapshot(), before)).toBeGreaterThan(1e-4);
        await est.restore();
        expect(maxAbsDiff(t.snapshot(), before)).toBeLessThan(1e-6); // restored to round-off
        expect(parseStepRecord(rec)).toEqual(rec);
        expect(rec.forwardPasses).toBe(est.forwardPassesPerStep);
        expect(calls).toBe(est.forwardPassesPerStep);
        const M = { mezo: 2, guided: 4, greedy: 4, elite: 2 }[name];
        expect(rec.candidates.length).toBe(M);
        expect(rec.probes.length).toBe(name === 'mezo' ? 2 : 1);
        expect(rec.eps).toBe(1e-3); // the config's default ε
        for (const p of rec.probes) expect(p.projectedGrad).toBe((p.lossPlus - p.lossMinus) / 2e-3);
        const w = rec.probes[0].weights;
        if (name === 'guided') {
          const order = rec.candidates.map((c, i) => [c.loss!, i]).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
          const c = 1 / Math.sqrt(1 / 2 + 1 / 2);
          expect(order.map((i) => w[i])).toEqual([c / 2, c / 2, -c / 2, -c / 2]);
        }
        if (name === 'greedy') {
          const best = rec.candidates.reduce((b, c, i) => (c.loss! < rec.candidates[b].loss! ? i : b), 0);
          expect(w).toEqual(w.map((_, i) => (i === best ? 1 : 0)));
        }
        if (name === 'elite') {
          // step 0: candidateSeed(stepSeed(9, 0), 0), pinned; later: the previous step's lower-loss candidate
          const [a, b] = prev?.candidates ?? [];
          expect(rec.candidates[0].seed).toBe(step === 0 ? 2919459422 : a.loss! <= b.loss! ? a.seed : b.seed);
          expect([...w].sort()).toEqual([-Math.SQRT1_2, Math.SQRT1_2]);
          expect(w[rec.candidates[0].loss! <= rec.candidates[1].loss! ? 0 : 1]).toBe(Math.SQRT1_2);
        }
        await est.update(t.blocks, rec);
        prev = rec;
      }
      est.dispose();
    });
  }

  it('elite refuses a previous record from another estimator (the elite must be passed in explicitly)', async () => {
    const t = toy(3);
    const mezo = createEstimator({ name: 'mezo' });
    const [prev] = await runSteps(mezo, t, 1);
    const elite = createEstimator({ name: 'elite' });
    await expect(elite.step({ blocks: t.blocks, lossValue: t.lossValue, step: 1, seed: 5, prev })).rejects.toThrow(/previous record \(step 0\) comes from mezo, expected elite/);
  });

  it('the losses decrease on the toy problem for every ZO estimator', async () => {
    for (const name of zoEstimatorNames) {
      const t = toy(4);
      const start = await t.lossValue();
      const est = createEstimator({ name, lr: 0.05 });
      await runSteps(est, t, 40);
      expect(await t.lossValue(), name).toBeLessThan(0.8 * start);
      est.dispose();
    }
  });

  it('no tensor leaks over 50 steps of each estimator', async () => {
    for (const name of zoEstimatorNames) {
      const t = toy(5);
      const est = createEstimator({ name, lr: 0.01, cacheNoise: name === 'guided' });
      await runSteps(est, t, 2); // warm up kernels
      const n = tf.memory().numTensors;
      await runSteps(est, t, 50, { first: 2 });
      expect(tf.memory().numTensors, name).toBe(n);
      est.dispose();
    }
  });

  it('guided with M = 2 is MeZO along ±(z1 − z2)/√2 (normalised) or ±(z1 − z2) (not)', async () => {
    let flips = 0;
    for (let s = 0; s < 8; s++) {
      for (const normalize of [true, false]) {
        const a = toy(6);
        const b = toy(6);
        const seed = stepSeed(77, s);
        const guided = createEstimator({ name: 'guided', candidates: 2, alpha: 0.5, normalize, lr: 0.05 });
        const rec = await guided.step({ blocks: a.blocks, lossValue: a.lossValue, step: 0, seed });
        await guided.update(a.blocks, rec);
        // the same direction taken by a MeZO-style two-point step along u = c·(z1 − z2)
        const c = normalize ? 1 / Math.sqrt(1 / 1 + 1 / 1) : 1; // guided's c with |TOP| = |BOTTOM| = 1
        const perturber = new Perturber({ stream: noiseStreamOf(guided.trajectoryVersion) }); // z of the run's version
        const ctx = new StepContext(b.blocks, null, 1e-3, perturber, b.lossValue);
        ctx.addCandidate(candidateSeed(seed, 0));
        ctx.addCandidate(candidateSeed(seed, 1));
        const u = await ctx.probe([c, -c]);
        await ctx.restore();
        await applyUpdate(b.blocks, ctx.record(0, seed, 'mezo'), { lr: 0.05 }, perturber);
        const sign = rec.probes[0].weights[0] > 0 ? 1 : -1; // v = sign·u
        if (sign < 0) flips++;
        expect(rec.probes[0].weights).toEqual([sign * c, -sign * c]);
        expect(rec.forwardPasses).toBe(4); // twice MeZO's cost
        expect(rec.projectedGrad).toBeCloseTo(sign * u.projectedGrad, 2);
        expect(sign > 0 ? rec.lossPlus : rec.lossMinus).toBeCloseTo(u.lossPlus, 6);
        // the same update: the only difference left is g's float32 loss rounding (the candidate
        // evaluations' perturb/restore moved θ by round-off), times lr and |u| <= 8·c
        const dg = Math.abs(rec.projectedGrad - sign * u.projectedGrad);
        expect(dg).toBeLessThan(1e-3);
        expect(maxAbsDiff(a.snapshot(), b.snapshot())).toBeLessThan(0.05 * dg * 8 * c + 1e-6);
        guided.dispose();
      }
    }
    expect(flips).toBeGreaterThan(0); // both signs were exercised
    expect(flips).toBeLessThan(16);
  });

  it('weight decay skips norm and bias blocks (by kind)', async () => {
    const t = toy(7);
    const before = t.snapshot();
    const est = createEstimator({ name: 'mezo', lr: 0.1, weightDecay: 0.5 }, { trajectoryVersion: 2 });
    const rec = await est.step({ blocks: t.blocks, lossValue: () => 1, step: 0, seed: 1 }); // g = 0: only decay moves θ
    expect(rec.projectedGrad).toBe(0);
    const restored = t.snapshot();
    await est.update(t.blocks, rec);
    const after = t.snapshot();
    t.blocks.forEach((b, j) => {
      if (b.kind === 'norm' || b.kind === 'bias') expect(sameBits([after[j]], [restored[j]]), b.name).toBe(true);
      else expect(Array.from(after[j])).toEqual(Array.from(restored[j]).map((x) => Math.fround(Math.fround(0.95) * x)));
    });
    expect(maxAbsDiff(restored, before)).toBeLessThan(1e-6);

    // version 3 lands from θ − εz: keep·θ_now + keep·ε·z on decayed blocks, θ_now + ε·z (the very
    // restore of version 2, bit for bit) on norm and bias blocks
    const f = toy(7);
    const fused = createEstimator({ name: 'mezo', lr: 0.1, weightDecay: 0.5 }, { trajectoryVersion: 3 });
    await fused.update(f.blocks, await fused.step({ blocks: f.blocks, lossValue: () => 1, step: 0, seed: 1 }));
    const landed = f.snapshot();
    t.blocks.forEach((b, j) => {
      if (b.kind === 'norm' || b.kind === 'bias') expect(sameBits([landed[j]], [after[j]]), b.name).toBe(true);
      else expect(maxAbsDiff([landed[j]], [before[j].map((x) => 0.95 * x)])).toBeLessThan(1e-6);
    });
    expect(sameBits(landed, after)).toBe(false);
  });

  it('restores the weights when the loss throws mid-step', async () => {
    const t = toy(8);
    const before = t.snapshot();
    const est = createEstimator({ name: 'guided' });
    let n = 0;
    const failing = () => {
      if (++n === 5) throw new Error('forward failed');
      return t.lossValue();
    };
    await expect(est.step({ blocks: t.blocks, lossValue: failing, step: 0, seed: 3 })).rejects.toThrow('forward failed');
    expect(maxAbsDiff(t.snapshot(), before)).toBeLessThan(1e-6);
  });

  it('refuses a non-finite projected gradient before touching the weights', async () => {
    const t = toy(9);
    const est = createEstimator({ name: 'mezo' }, { trajectoryVersion: 2 });
    let n = 0;
    const rec = await est.step({ blocks: t.blocks, lossValue: () => (n++ === 0 ? NaN : 1), step: 0, seed: 3 });
    const before = t.snapshot();
    await expect(est.update(t.blocks, rec)).rejects.toThrow(/step 0: projected gradient is NaN .*diverged/);
    expect(sameBits(t.snapshot(), before)).toBe(true);
    // version 3: the refused update leaves the step restored, as version 2's step did
    const f = toy(9);
    const fused = createEstimator({ name: 'mezo' }, { trajectoryVersion: 3 });
    n = 0;
    const frec = await fused.step({ blocks: f.blocks, lossValue: () => (n++ === 0 ? NaN : 1), step: 0, seed: 3 });
    await expect(fused.update(f.blocks, frec)).rejects.toThrow(/step 0: projected gradient is NaN .*diverged/);
    expect(sameBits(f.snapshot(), before)).toBe(true);
  });

  it('version 3: a step whose update never comes is undone by the next step, and another record is applied on restored weights', async () => {
    const a = toy(14);
    const b = toy(14);
    const est = createEstimator({ name: 'mezo', lr: 0.05 }, { trajectoryVersion: 3 });
    const sep = createEstimator({ name: 'mezo', lr: 0.05 }, { trajectoryVersion: 2 });
    // a: step 0 abandoned, step 1 and its update; b (version 2): step 0 evaluated only, then step 1
    await est.step({ blocks: a.blocks, lossValue: a.lossValue, step: 0, seed: 3 });
    await sep.step({ blocks: b.blocks, lossValue: b.lossValue, step: 0, seed: 3 });
    expect(sameBits(a.snapshot(), b.snapshot())).toBe(false); // a waits at θ − εz
    const r1 = await est.step({ blocks: a.blocks, lossValue: a.lossValue, step: 1, seed: 4 });
    const r1b = await sep.step({ blocks: b.blocks, lossValue: b.lossValue, step: 1, seed: 4 });
    expect(r1).toEqual(r1b);
    // a record other than the pending step's: the step is undone, the record applied as version 2 does
    const other = { ...r1, step: 7 };
    await est.update(a.blocks, other);
    await sep.update(b.blocks, other);
    expect(sameBits(a.snapshot(), b.snapshot())).toBe(true);
    expect(est.trajectoryVersion).toBe(3);
    expect(sep.trajectoryVersion).toBe(2);
    expect(createEstimator({ name: 'mezo' }).trajectoryVersion).toBe(4);
    expect(() => createEstimator({ name: 'mezo' }, { trajectoryVersion: 5 })).toThrow('trajectory format version 5 is not supported (expected one of 1, 2, 3, 4)');
    expect(() => noiseStreamOf(0)).toThrow('trajectory format version 0 is not supported (expected one of 1, 2, 3, 4)');
    expect([1, 2, 3, 4].map(noiseStreamOf)).toEqual([1, 1, 1, 2]);
    est.dispose();
    sep.dispose();
  });

  it('version 4 is version 3 with noise stream 2: the same passes with z from stream 2, other weights than version 3', async () => {
    const a = toy(15);
    const b = toy(15);
    const c = toy(15);
    const v4 = createEstimator({ name: 'mezo', lr: 0.05, weightDecay: 0.1 });
    const v3 = createEstimator({ name: 'mezo', lr: 0.05, weightDecay: 0.1 }, { trajectoryVersion: 3 });
    const rec = await v4.step({ blocks: a.blocks, lossValue: a.lossValue, step: 0, seed: 5 });
    await v4.update(a.blocks, rec);
    // by hand: version 3's fused passes on a perturber of stream 2, fed the recorded losses
    const ctx = new StepContext(b.blocks, null, 1e-3, new Perturber({ stream: 2 }), b.lossValue);
    ctx.addCandidate(candidateSeed(5, 0));
    await ctx.probe([1]);
    const keep = (blk: Block) => (decays(blk) ? 1 - 0.05 * 0.1 : 1);
    await ctx.land([{ seed: candidateSeed(5, 0), coef: -0.05 * rec.projectedGrad }], keep);
    expect(sameBits(a.snapshot(), b.snapshot())).toBe(true);
    await v3.update(c.blocks, await v3.step({ blocks: c.blocks, lossValue: c.lossValue, step: 0, seed: 5 }));
    expect(maxAbsDiff(a.snapshot(), c.snapshot())).toBeGreaterThan(1e-4); // other directions
    expect(new Perturber({ stream: 2 }).stream).toBe(2);
    expect(() => new Perturber({ stream: 3 as 2 })).toThrow('Perturber: stream must be 1 or 2, got 3');
    v4.dispose();
    v3.dispose();
  });

  it('asks the scale once per step with the previous record and block stats, and records its σ', async () => {
    const t = toy(10);
    const seen: { step: number; prevStep?: number; mean: number }[] = [];
    const scale = {
      name: 'test-policy',
      async sigma(ctx: ScaleContext) {
        const stats = await ctx.stats();
        seen.push({ step: ctx.step, prevStep: ctx.prev?.step, mean: stats[0].mean });
        return ctx.blocks.map((_, j) => 0.5 + j / 4 + (ctx.prev ? 0.1 : 0));
      },
    };
    const est = createEstimator({ name: 'guided', lr: 0.01 });
    const E = Array.from(t.blocks[0].variable!.dataSync());
    const recs = await runSteps(est, t, 3, { scale });
    expect(seen.map((s) => [s.step, s.prevStep])).toEqual([[0, undefined], [1, 0], [2, 1]]);
    expect(seen[0].mean).toBeCloseTo(E.reduce((a, b) => a + b, 0) / E.length, 5);
    expect(recs[0].sigma).toEqual([0.5, 0.75, 1, 1.25]);
    expect(recs[1].sigma).toEqual([0.6, 0.85, 1.1, 1.35]);
    const bad = createEstimator({ name: 'mezo' });
    await expect(bad.step({ blocks: t.blocks, lossValue: t.lossValue, step: 0, seed: 1, scale: fixedScale([1, 1]) })).rejects.toThrow(/scale "fixed": returned 2 values for 4 blocks/);
    await expect(bad.step({ blocks: t.blocks, lossValue: t.lossValue, step: 0, seed: 1, scale: fixedScale([1, NaN, 1, 1]) })).rejects.toThrow(/σ of block model.layers.0.mlp.up_proj.weight is NaN/);
  });
});
