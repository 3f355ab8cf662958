// The forward-only loop on a tiny random LLaMA behind the host Model interface (meta.testkit.ts): it trains
// the policy with no backward pass, θ follows MeZO and resets on schedule, the untrained control
// (lrMlp 0) sees exactly the same θ, and a run restored from a checkpoint ends where the uninterrupted one ends.
import { describe, expect, it } from 'vitest';
import { createTfjsModel } from '@zotune/models';
import { decodeMetaCheckpoint, encodeMetaCheckpoint } from './checkpoint';
import { parseMetaConfig } from './config';
import { ckpt, hostOf, tasks } from './meta.testkit';
import { SpsaMetaTrainer } from './spsa-trainer';
import type { MetaStepLog } from './trainer';

const metaConfig = parseMetaConfig({ batch: 2, epochs: 3, resetEvery: 2, metaLr: 0.05, lrMlp: 0.1, seed: 3, hidden: 8, metaGrad: 'spsa', spsaDirections: 3 });
const host = () => hostOf(createTfjsModel(ckpt));
const theta = (m: ReturnType<typeof host>) => m.blocks.map((b) => b.data!.slice());

describe('SpsaMetaTrainer', () => {
  it('trains ω with forward passes only, resets θ every R epochs, and resumes exactly from a checkpoint', async () => {
    const model = host();
    const base = theta(model);
    const trainer = new SpsaMetaTrainer({ model, tasks: tasks(), config: metaConfig });
    expect(trainer.plan.totalSteps).toBe(9);
    const omega0 = (await trainer.currentPolicy()).weights;
    const logs: MetaStepLog[] = [];
    while (!trainer.finished) {
      logs.push(await trainer.runStep());
      if (trainer.step === 7) {
        // step 7 followed a reset: θ is the pretrained weights plus one MeZO update, −η·ĝ·z (z ~ N(0, 1) per weight)
        const now = theta(model);
        let sq = 0;
        let n = 0;
        now.forEach((t, j) => t.forEach((v, i) => ((sq += (v - base[j][i]) ** 2), n++)));
        const g = logs[6].gradNorm; // |ĝ| of θ's MeZO step
        expect(Math.sqrt(sq / n)).toBeGreaterThan(0.5 * metaConfig.metaLr * g);
        expect(Math.sqrt(sq / n)).toBeLessThan(1.5 * metaConfig.metaLr * g);
      }
    }
    expect(logs.map((l) => l.reset)).toEqual([false, false, false, false, false, false, true, false, false]);
    expect(logs.map((l) => [l.forwardPasses, l.backwardPasses])).toEqual(logs.map(() => [2 * 3 + 6, 0]));
    for (const l of logs) for (const k of ['metaLoss', 'loss', 'lossPlus', 'lossMinus', 'meanSigma', 'nf', 'policyGradNorm'] as const) expect(Number.isFinite(l[k])).toBe(true);
    const omega = (await trainer.currentPolicy()).weights;
    expect(omega.w1).not.toEqual(omega0.w1);
    expect(omega.b2).not.toEqual(omega0.b2);
    expect((await trainer.omegaMoved()).all).toBeGreaterThan(0);
    const finalTheta = theta(model);

    const m2 = host();
    const t2 = new SpsaMetaTrainer({ model: m2, tasks: tasks(), config: metaConfig });
    for (let i = 0; i < 4; i++) await t2.runStep();
    const bytes = encodeMetaCheckpoint(await t2.state(), m2.blocks.map((b) => b.name), 'cd'.repeat(32), 2);
    const saved = decodeMetaCheckpoint(bytes, 'mem');
    const m3 = host();
    const t3 = new SpsaMetaTrainer({ model: m3, tasks: tasks(), config: metaConfig });
    t3.load(saved.state);
    const resumed: MetaStepLog[] = [];
    while (!t3.finished) resumed.push(await t3.runStep());
    expect(resumed).toEqual(logs.slice(4));
    expect((await t3.currentPolicy()).weights).toEqual(omega);
    expect(theta(m3)).toEqual(finalTheta);
  });

  it('with lr_mlp 0 (the paired control) the policy stays put and θ, L(θ) are the trained run\'s at every step', async () => {
    const a = host();
    const b = host();
    const trained = new SpsaMetaTrainer({ model: a, tasks: tasks(), config: { ...metaConfig, epochs: 1 } });
    const control = new SpsaMetaTrainer({ model: b, tasks: tasks(), config: { ...metaConfig, epochs: 1, lrMlp: 0 } });
    const omega0 = (await control.currentPolicy()).weights;
    while (!trained.finished) {
      const t = await trained.runStep();
      const c = await control.runStep();
      expect(c.loss).toBe(t.loss);
    }
    expect(theta(b)).toEqual(theta(a));
    expect((await control.currentPolicy()).weights).toEqual(omega0);
    expect((await trained.currentPolicy()).weights).not.toEqual(omega0);
  });

  it('refuses what it cannot do in one line', () => {
    expect(() => new SpsaMetaTrainer({ model: host(), tasks: tasks(), config: { ...metaConfig, metaGrad: 'exact' } })).toThrow(/^SpsaMetaTrainer: the config's metaGrad is exact, expected spsa$/);
    expect(() => new SpsaMetaTrainer({ model: host(), tasks: tasks(), config: { ...metaConfig, lookaheadSteps: 2 } })).toThrow(/--meta-grad spsa runs one look-ahead step/);
    expect(() => new SpsaMetaTrainer({ model: createTfjsModel(ckpt) as never, tasks: tasks(), config: metaConfig })).toThrow(/keeps its weights in a tfjs variable/);
  });
});
