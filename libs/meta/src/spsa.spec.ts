// The forward-only meta-gradient on a tiny random LLaMA, against the exact one (metaGradient, tfjs backward):
// the host model here is the tfjs model behind the host Model interface (meta.testkit.ts), so both sides compute the same function and any gap is the
// SPSA estimate's own. The ORT engine against tfjs on stories260K: tests/meta-gradient-check.test.ts.
import { describe, expect, it } from 'vitest';
import { createTfjsModel, randomCheckpoint, type Model } from '@zotune/models';
import { classificationLoss } from '@zotune/tasks';
import { INITIAL_FEATURE_STATE, TfPertNN, initPertNN } from '@zotune/policy';
import { metaGradient, policyGradient } from './meta-step';
import { recordedMetaConfig, parseMetaConfig } from './config';
import { applyPolicySgdHost, flatGrads, gradientAgreement, policyGradientHost, rademacher, spsaMetaGradient } from './spsa';
import { applyPolicySgd } from './meta-step';
import { batch, config, hostOf } from './meta.testkit';


describe('policyGradientHost', () => {
  it('equals the tfjs policyGradient (the exact path\'s chain rule through the PertNN)', async () => {
    const names = ['a', 'b', 'c'];
    const p = initPertNN(names, { seed: 3, hidden: 8 });
    const x = Float32Array.from({ length: 15 }, (_, i) => Math.sin(i + 1));
    const c = [0.7, -1.3, 0.2];
    const tp = TfPertNN.fromPolicy(p);
    const want = await policyGradient(tp, [{ x, c }]);
    const got = policyGradientHost(p, x, c);
    for (const k of ['w1', 'b1', 'w2', 'b2'] as const) for (let i = 0; i < got.grads[k].length; i++) expect(got.grads[k][i]).toBeCloseTo(want.grads[k][i], 5);
    expect(got.gradNorm).toBeCloseTo(want.gradNorm, 5);
    // and the SGD steps agree
    applyPolicySgd(tp, want.grads, 0.1);
    applyPolicySgdHost(p, got.grads, 0.1);
    const after = await tp.toPolicy();
    for (const k of ['w1', 'b1', 'w2', 'b2'] as const) for (let i = 0; i < p.weights[k].length; i++) expect(p.weights[k][i]).toBeCloseTo(after.weights[k][i], 6);
    tp.dispose();
  });
});

describe('rademacher', () => {
  it('is a pure function of (seed, k): ±1, balanced, and different per direction and seed', () => {
    const a = rademacher(9, 0, 4000);
    expect(rademacher(9, 0, 4000)).toEqual(a);
    expect([...a].every((v) => v === 1 || v === -1)).toBe(true);
    expect(Math.abs(a.reduce((s, v) => s + v, 0))).toBeLessThan(200); // 4000 fair signs: sd 63
    expect(gradientAgreement(a, rademacher(9, 1, 4000)).cosine).toBeLessThan(0.1);
    expect(gradientAgreement(a, rademacher(10, 0, 4000)).cosine).toBeLessThan(0.1);
  });
});

describe('spsaMetaGradient', () => {
  it('points along the exact meta-gradient (σ space better than ω space), leaves θ and ω as they were', async () => {
    const model = createTfjsModel(randomCheckpoint(config, 11, { std: 0.3 }), { kernels: false });
    const host = hostOf(model);
    const names = model.blocks.map((b) => b.name);
    const policy = initPertNN(names, { seed: 5, hidden: 8 });
    const before = host.blocks.map((b) => b.data!.slice());
    const omega = flatGrads(policy.weights);
    // η 0.05: meta(σ) is smooth at the SPSA scale c = 0.05 (at η 0.5 the random model's look-ahead lands in another
    // regime, and the cosine at c = 0.05 fell to 0.26, 0.92 at c = 0.005: c must stay within the linear range)
    const common = { batch, features: INITIAL_FEATURE_STATE, seed: 1234, eps: 1e-3, metaLr: 0.05 };
    const tp = TfPertNN.fromPolicy(policy);
    const exact = await metaGradient({ model, policy: tp, objective: classificationLoss, ...common });
    tp.dispose();
    const sigma = await spsaMetaGradient({ model: host, policy, ...common, spsa: { directions: 64, scale: 0.05, space: 'sigma' } });
    const omegaSpace = await spsaMetaGradient({ model: host, policy, ...common, spsa: { directions: 64, scale: 0.05, space: 'omega' } });
    // the same losses as the exact path (same function, same weights)
    expect(sigma.lossPlus).toBeCloseTo(exact.lossPlus, 5);
    expect(sigma.metaLoss).toBeCloseTo(exact.metaLoss, 4); // ĝ differs in its last bits (host float32 sums), and η·ĝ scales the look-ahead
    expect(sigma.forwardPasses).toBe(3 + 2 * 64);
    const cs = gradientAgreement(flatGrads(exact.grads), flatGrads(sigma.grads)).cosine;
    const co = gradientAgreement(flatGrads(exact.grads), flatGrads(omegaSpace.grads)).cosine;
    // 64 directions in 21 blocks' σ: √(64/85) ≈ 0.87 for an exact linear model; in ω (21·(5·8+17) = 1,197 weights): √(64/1261) ≈ 0.23
    // (measured: 0.886)
    expect(cs).toBeGreaterThan(0.8);
    expect(co).toBeLessThan(cs);
    expect(gradientAgreement(exact.dMetaDSigma, sigma.dMetaDSigma!).cosine).toBeGreaterThan(0.7);
    // θ bit for bit, ω untouched
    host.blocks.forEach((b, j) => expect(b.data).toEqual(before[j]));
    expect(flatGrads(policy.weights)).toEqual(omega);
    model.dispose();
  });

  it('refuses bad options and tfjs blocks in one line', async () => {
    const model = createTfjsModel(randomCheckpoint(config, 11, { std: 0.3 }), { kernels: false });
    const policy = initPertNN(model.blocks.map((b) => b.name), { seed: 5, hidden: 8 });
    const input = { batch, features: INITIAL_FEATURE_STATE, seed: 1, eps: 1e-3, metaLr: 0.5, policy };
    await expect(spsaMetaGradient({ ...input, model: hostOf(model), spsa: { directions: 0, scale: 0.05, space: 'sigma' } })).rejects.toThrow(/^spsa: directions must be an integer >= 1, got 0$/);
    await expect(spsaMetaGradient({ ...input, model: model as unknown as Model, spsa: { directions: 1, scale: 0.05, space: 'sigma' } })).rejects.toThrow(/keeps its weights in a tfjs variable/);
    model.dispose();
  });
});

describe('recordedMetaConfig', () => {
  it('drops the SPSA settings of an exact run (its identity and artifact stay as before) and keeps a spsa run\'s', () => {
    const exact = recordedMetaConfig(parseMetaConfig({}));
    expect(Object.keys(exact).some((k) => k.startsWith('spsa') || k === 'metaGrad')).toBe(false);
    expect(recordedMetaConfig(parseMetaConfig({ metaGrad: 'spsa', spsaDirections: 4 }))).toMatchObject({ metaGrad: 'spsa', spsaDirections: 4, spsaScale: 0.05, spsaSpace: 'sigma' });
    expect(() => parseMetaConfig({ metaGrad: 'fast' })).toThrow(/^meta-training config: metaGrad: .*\(got "fast"\)$/);
  });
});
