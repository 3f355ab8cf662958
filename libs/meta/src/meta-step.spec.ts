// The meta-gradient against finite differences on a tiny random LLaMA: perturb single policy weights
// by ±h, recompute the look-ahead loss L(θ − η·ĝ·nf·σ(ω±h)⊙z) with the same seed, ĝ and nf, and
// compare the central difference with the analytic ∇_ω of metaGradient.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createTfjsModel, randomCheckpoint } from '@zotune/models';
import { classificationLoss } from '@zotune/tasks';
import { PertNN, TfPertNN, initPertNN, nextFeatureState, normFactor } from '@zotune/policy';
import { batch, config } from './meta.testkit';
import { applyPolicySgd, lookaheadCoefs, lookaheadSeed, lossAlongNoise, metaGradient, metaLossAt, policyGradient, policySigma, type MetaStepInput, type MetaStepResult } from './meta-step';

const snapshot = async (vars: tf.Variable[]) => Promise.all(vars.map(async (v) => ((await v.data()) as Float32Array).slice()));

/** A copy of `p` with one weight moved by delta. */
function nudged(p: PertNN, key: 'w1' | 'b1' | 'w2' | 'b2', index: number, delta: number): PertNN {
  const q = p.clone();
  q.weights[key][index] += delta;
  return q;
}

function argmaxAbs(a: ArrayLike<number>, from = 0, to = a.length): number {
  let best = from;
  for (let i = from; i < to; i++) if (Math.abs(a[i]) > Math.abs(a[best])) best = i;
  return best;
}

/**
 * The analytic ∇_ω entry of `r` against the central difference of metaLossAt (the step's x_k, ĝ_k, nf_k
 * and seeds held fixed) with one weight of `start` moved by ±h; leaves the policy at that last nudge.
 */
async function expectFiniteDifference(input: MetaStepInput, start: PertNN, r: MetaStepResult, key: 'w1' | 'b1' | 'w2' | 'b2', index: number, h: number) {
  input.policy.assignFrom(nudged(start, key, index, h));
  const up = await metaLossAt(input, r);
  input.policy.assignFrom(nudged(start, key, index, -h));
  const down = await metaLossAt(input, r);
  const numeric = (up - down) / (2 * h);
  const analytic = r.grads[key][index];
  if (process.env.META_FD_DEBUG) console.log(`K=${r.steps.length}`, key, index, numeric, analytic);
  expect(Math.abs(analytic), `${key}[${index}]`).toBeGreaterThan(1e-3);
  expect(Math.abs(numeric - analytic) / Math.abs(analytic), `${key}[${index}]: numeric ${numeric}, analytic ${analytic}`).toBeLessThan(5e-3);
}

describe('metaGradient', () => {
  it('matches central finite differences of the look-ahead loss in every kind of policy weight', async () => {
    // plain tfjs ops everywhere (no fused kernels), so the analytic and the numeric side run the same function
    const model = createTfjsModel(randomCheckpoint(config, 11, { std: 0.3 }), { kernels: false });
    const names = model.blocks.map((b) => b.name);
    const start = initPertNN(names, { seed: 5, hidden: 8 });
    const policy = TfPertNN.fromPolicy(start);
    // a large η makes the look-ahead step, hence the loss differences, big enough for float32
    const input: MetaStepInput = {
      model, policy, objective: classificationLoss, batch, features: nextFeatureState(0.71, 0.69, null), seed: 1234, eps: 1e-2, metaLr: 2,
    };
    const theta0 = await snapshot(model.blocks.map((b) => b.variable!));
    const omega0 = await snapshot(policy.variables);
    await metaGradient(input); // warm-up: the model caches derived weights (the tied classifier) once
    const tensors0 = tf.memory().numTensors;

    const r = await metaGradient(input);

    expect(tf.memory().numTensors).toBe(tensors0); // no leak
    expect(await snapshot(model.blocks.map((b) => b.variable!))).toEqual(theta0); // θ restored bit for bit
    expect(await snapshot(policy.variables)).toEqual(omega0); // ω untouched
    expect(Math.abs(r.projectedGrad)).toBeGreaterThan(1e-3);
    expect(r.effective.every((u) => u > 0)).toBe(true);

    // the block whose σ matters most, and in it the largest entry of each weight array
    const H = start.hidden;
    const j = argmaxAbs(r.dMetaDSigma);
    const m = argmaxAbs(r.grads.b1, j * H, (j + 1) * H) - j * H; // hidden unit
    const entries: ['w1' | 'b1' | 'w2' | 'b2', number][] = [
      ['b2', j],
      ['w2', argmaxAbs(r.grads.w2, j * H, (j + 1) * H)],
      ['b1', j * H + m],
      ['w1', j * 5 * H + 2 * H + m], // from feature 2 (L⁺_{t−1} = 0.71) into that unit
      ['w1', j * 5 * H + 0 * H + m], // from feature 0 (the block's mean)
    ];
    for (const [key, index] of entries) await expectFiniteDifference(input, start, r, key, index, 1e-2);
    // b2_j moves σ_j one for one (σ = |out|): its gradient is dMeta/dσ_j up to the sign of out_j
    expect(Math.abs(r.grads.b2[j]) / Math.abs(r.dMetaDSigma[j])).toBeCloseTo(1, 5);

    // an SGD step against the gradient lowers the meta-loss (same seed, ĝ, nf)
    policy.assignFrom(start);
    const before = await metaLossAt(input, r);
    applyPolicySgd(policy, r.grads, 1e-2 / r.gradNorm); // a step of length 1e-2 in ω
    const after = await metaLossAt(input, r);
    expect(before - after).toBeGreaterThan(0.5 * 1e-2 * r.gradNorm); // at least half the linear prediction
    policy.dispose();
    model.dispose();
  });

  it('the curvature feature set: κ is the sixth input, and the gradient of its weights matches finite differences', async () => {
    const model = createTfjsModel(randomCheckpoint(config, 11, { std: 0.3 }), { kernels: false });
    const names = model.blocks.map((b) => b.name);
    const start = initPertNN(names, { seed: 5, hidden: 8, inputs: 6 });
    const policy = TfPertNN.fromPolicy(start);
    const curvature = names.map((_, j) => ((j % 5) - 2) / 2); // κ in [−1, 1]
    const input: MetaStepInput = {
      model, policy, objective: classificationLoss, batch, features: nextFeatureState(0.71, 0.69, null), seed: 1234, eps: 1e-2, metaLr: 2, curvature,
    };
    await metaGradient(input);
    const r = await metaGradient(input);
    expect(r.features.length).toBe(6 * names.length);
    expect(Array.from(r.features.filter((_, i) => i % 6 === 5))).toEqual(curvature.map(Math.fround));
    const H = start.hidden;
    const j = argmaxAbs(r.dMetaDSigma.map((d, k) => (curvature[k] === 0 ? 0 : d)));
    const m = argmaxAbs(r.grads.b1, j * H, (j + 1) * H) - j * H;
    await expectFiniteDifference(input, start, r, 'w1', j * 6 * H + 5 * H + m, 1e-2); // from κ_j into that unit
    await expect(metaGradient({ ...input, curvature: curvature.slice(1) })).rejects.toThrow(/κ holds \d+ values/);
    policy.dispose();
    model.dispose();
  });

  it('--nf-grad: the gradient through nf(σ) matches finite differences where nf is recomputed from σ', async () => {
    const model = createTfjsModel(randomCheckpoint(config, 11, { std: 0.3 }), { kernels: false });
    const start = initPertNN(model.blocks.map((b) => b.name), { seed: 5, hidden: 8 });
    const policy = TfPertNN.fromPolicy(start);
    const input: MetaStepInput = {
      model, policy, objective: classificationLoss, batch, features: nextFeatureState(0.71, 0.69, null), seed: 1234, eps: 1e-2, metaLr: 2, nfGrad: true,
    };
    await metaGradient(input);
    const r = await metaGradient(input);
    const fixed = await metaGradient({ ...input, nfGrad: false });
    // the loss with nf a function of σ (the variant's meta-loss)
    const lossNf = async () => {
      const sigma = await policySigma(policy, r.features);
      return lossAlongNoise(model, classificationLoss, batch, input.seed, lookaheadCoefs(sigma, normFactor(sigma, r.sizes), r.projectedGrad, input.metaLr));
    };
    const h = 1e-2;
    let differs = 0;
    // the block with the largest share of Σ f σ² is where nf's dependence on σ matters most
    const share = Array.from(r.sigma, (x, k) => r.sizes[k] * x * x);
    for (const j of [argmaxAbs(r.dMetaDSigma), argmaxAbs(share)]) {
      policy.assignFrom(nudged(start, 'b2', j, h));
      const up = await lossNf();
      policy.assignFrom(nudged(start, 'b2', j, -h));
      const down = await lossNf();
      const numeric = (up - down) / (2 * h);
      expect(Math.abs(numeric - r.grads.b2[j]) / Math.abs(r.grads.b2[j]), `b2[${j}]: numeric ${numeric}, analytic ${r.grads.b2[j]}`).toBeLessThan(5e-3);
      if (Math.abs(r.grads.b2[j] - fixed.grads.b2[j]) > 0.05 * Math.abs(r.grads.b2[j])) differs++;
    }
    expect(differs).toBeGreaterThan(0); // the nf term is not negligible here
    policy.dispose();
    model.dispose();
  });

  it('--lookahead-steps: K = 1 is the one-step meta step; for K = 2 the meta-gradient through both steps matches finite differences of L(θ₂)', async () => {
    const model = createTfjsModel(randomCheckpoint(config, 11, { std: 0.3 }), { kernels: false });
    const start = initPertNN(model.blocks.map((b) => b.name), { seed: 5, hidden: 8 });
    const policy = TfPertNN.fromPolicy(start);
    const input: MetaStepInput = {
      model, policy, objective: classificationLoss, batch, features: nextFeatureState(0.71, 0.69, null), seed: 1234, eps: 1e-2, metaLr: 1,
    };
    const theta0 = await snapshot(model.blocks.map((b) => b.variable!));
    await metaGradient(input);

    // K = 1: the same numbers as the default, and exactly the single look-ahead composed by hand
    const r1 = await metaGradient({ ...input, lookaheadSteps: 1 });
    const rDefault = await metaGradient(input);
    expect(r1).toEqual(rDefault);
    expect(r1.steps).toHaveLength(1);
    expect(r1.steps[0].seed).toBe(input.seed);
    expect(r1.metaLoss).toBe(await lossAlongNoise(model, classificationLoss, batch, input.seed, lookaheadCoefs(r1.sigma, r1.nf, r1.projectedGrad, input.metaLr)));
    expect((await policyGradient(policy, [{ x: r1.features, c: r1.dMetaDSigma }])).grads).toEqual(r1.grads);

    const tensors0 = tf.memory().numTensors;
    const r = await metaGradient({ ...input, lookaheadSteps: 2 });
    expect(tf.memory().numTensors).toBe(tensors0); // no leak
    expect(await snapshot(model.blocks.map((b) => b.variable!))).toEqual(theta0); // θ restored bit for bit
    const [s0, s1] = r.steps;
    expect(r.steps).toHaveLength(2);
    // step 0 is the one-step meta step's probe at θ; step 1 has its own noise and sees θ₁ as fine-tuning would
    expect({ ...s0, dMetaDSigma: null }).toEqual({ ...r1.steps[0], dMetaDSigma: null });
    expect(s1.seed).toBe(lookaheadSeed(input.seed, 1));
    expect(s1.seed).not.toBe(s0.seed);
    const n = model.blocks.length;
    for (let j = 0; j < n; j++) {
      expect(s1.features[j * 5 + 2]).toBe(Math.fround(s0.lossPlus));
      expect(s1.features[j * 5 + 3]).toBe(Math.fround(s0.lossMinus));
      expect(s1.features[j * 5 + 4]).toBe(Math.fround(s0.effective[j]));
    }
    expect(Array.from(s1.features).filter((_, i) => i % 5 === 1)).not.toEqual(Array.from(s0.features).filter((_, i) => i % 5 === 1)); // θ₁'s variances
    expect(Math.abs(s1.projectedGrad)).toBeGreaterThan(1e-3);
    expect(r.metaLoss).not.toBe(r1.metaLoss);

    const H = start.hidden;
    const j = argmaxAbs(r.grads.b2);
    const m = argmaxAbs(r.grads.b1, j * H, (j + 1) * H) - j * H;
    const entries: ['w1' | 'b1' | 'w2' | 'b2', number][] = [
      ['b2', j],
      ['b2', argmaxAbs(s1.dMetaDSigma)], // the block where step 1's term is largest
      ['w2', argmaxAbs(r.grads.w2, j * H, (j + 1) * H)],
      ['b1', j * H + m],
      ['w1', j * 5 * H + 4 * H + m], // from feature 4 (σ·nf of the previous step: 1 at step 0, σ₀·nf₀ at step 1)
    ];
    const h = 1e-3; // L(θ₂) is strongly curved in ω here: at h = 1e-2 the central difference is off by 1 %
    let stepOneMatters = 0;
    for (const [key, index] of entries) {
      await expectFiniteDifference(input, start, r, key, index, h);
      if (Math.abs(r.grads[key][index] - r1.grads[key][index]) > 0.05 * Math.abs(r.grads[key][index])) stepOneMatters++;
    }
    expect(stepOneMatters).toBeGreaterThan(0); // the second step's term is not negligible: the gradient is not the one-step one
    policy.assignFrom(start);
    await expect(metaGradient({ ...input, lookaheadSteps: 0 })).rejects.toThrow(/lookaheadSteps must be an integer >= 1, got 0/);
    policy.dispose();
    model.dispose();
  });
});
