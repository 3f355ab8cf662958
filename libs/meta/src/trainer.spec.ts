// The loop on a tiny random LLaMA with two made-up tasks (a classification and a teacher-forced one):
// it trains the policy, resets θ on schedule, does not leak, and a run restored from a checkpoint
// ends exactly where the uninterrupted run ends.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createTfjsModel } from '@zotune/models';
import { decodeMetaCheckpoint, encodeMetaCheckpoint } from './checkpoint';
import { parseMetaConfig } from './config';
import { MetaTrainer, type MetaStepLog } from './trainer';
import { ckpt, tasks } from './meta.testkit';

const metaConfig = parseMetaConfig({ batch: 2, epochs: 3, resetEvery: 2, metaLr: 0.05, lrMlp: 0.1, lrLlm: 0.01, seed: 3, hidden: 8 });

const read = async (vs: tf.Variable[] | tf.Tensor[]) => Promise.all(vs.map(async (v) => ((await v.data()) as Float32Array).slice()));

describe('MetaTrainer', () => {
  it('trains ω, resets θ every R epochs, leaks nothing, and resumes exactly from a checkpoint', async () => {
    const model = createTfjsModel(ckpt);
    const base = await read(model.blocks.map((b) => b.variable!));
    const trainer = new MetaTrainer({ model, tasks: tasks(), config: metaConfig });
    expect(trainer.plan.stepsPerEpoch).toBe(3);
    expect(trainer.plan.totalSteps).toBe(9);
    const omega0 = (await trainer.currentPolicy()).weights;
    const logs: MetaStepLog[] = [];
    let tensors = 0;
    while (!trainer.finished) {
      logs.push(await trainer.runStep());
      if (trainer.step === 2) tensors = tf.memory().numTensors;
      if (trainer.step > 2) expect(tf.memory().numTensors).toBe(tensors);
      if (trainer.step === 7) {
        // step 7 followed a reset: θ is the pretrained weights plus one clipped SGD step (momentum zeroed)
        const theta = await read(model.blocks.map((b) => b.variable!));
        let sq = 0;
        theta.forEach((t, j) => t.forEach((v, i) => (sq += (v - base[j][i]) ** 2)));
        expect(Math.sqrt(sq)).toBeGreaterThan(0);
        expect(Math.sqrt(sq)).toBeLessThanOrEqual(metaConfig.lrLlm * metaConfig.clipNorm * (1 + 1e-4));
      }
    }
    expect(logs.map((l) => l.task)).toEqual(['cls', 'lm', 'cls', 'cls', 'lm', 'cls', 'cls', 'lm', 'cls']);
    expect(logs.map((l) => l.reset)).toEqual([false, false, false, false, false, false, true, false, false]);
    for (const l of logs) for (const k of ['metaLoss', 'loss', 'lossPlus', 'lossMinus', 'meanSigma', 'nf', 'policyGradNorm'] as const) expect(Number.isFinite(l[k])).toBe(true);
    const omega = (await trainer.currentPolicy()).weights;
    expect(omega.w1).not.toEqual(omega0.w1);
    expect(omega.b2).not.toEqual(omega0.b2);
    const finalTheta = await read(model.blocks.map((b) => b.variable!));

    // interrupted run: 4 steps, checkpoint through the codec, a fresh process-like restart
    const model2 = createTfjsModel(ckpt);
    const t2 = new MetaTrainer({ model: model2, tasks: tasks(), config: metaConfig });
    for (let i = 0; i < 4; i++) await t2.runStep();
    const names = model2.blocks.map((b) => b.name);
    const bytes = encodeMetaCheckpoint(await t2.state(), names, 'ab'.repeat(32), 1.5);
    t2.dispose();
    model2.dispose();
    const saved = decodeMetaCheckpoint(bytes, 'mem');
    expect(saved.state.step).toBe(4);
    expect(saved.seconds).toBe(1.5);
    const model3 = createTfjsModel(ckpt);
    const t3 = new MetaTrainer({ model: model3, tasks: tasks(), config: metaConfig });
    t3.load(saved.state);
    const resumed: MetaStepLog[] = [];
    while (!t3.finished) resumed.push(await t3.runStep());
    expect(resumed).toEqual(logs.slice(4));
    expect((await t3.currentPolicy()).weights).toEqual(omega);
    expect(await read(model3.blocks.map((b) => b.variable!))).toEqual(finalTheta);
    t3.dispose();
    model3.dispose();
    trainer.dispose();
    model.dispose();
  });

  it('with lr_mlp 0 the policy stays at its initial networks (the untrained control) while θ still trains', async () => {
    const model = createTfjsModel(ckpt);
    const base = await read(model.blocks.map((b) => b.variable!));
    const trainer = new MetaTrainer({ model, tasks: tasks(), config: { ...metaConfig, lrMlp: 0, epochs: 1 } });
    const omega0 = (await trainer.currentPolicy()).weights;
    while (!trainer.finished) await trainer.runStep();
    expect((await trainer.currentPolicy()).weights).toEqual(omega0);
    expect(await read(model.blocks.map((b) => b.variable!))).not.toEqual(base);
    trainer.dispose();
    model.dispose();
  });

  it('--lookahead-steps 2: each step unrolls two look-ahead steps (6 forward passes), trains ω and leaks nothing', async () => {
    const model = createTfjsModel(ckpt);
    const trainer = new MetaTrainer({ model, tasks: tasks(), config: { ...metaConfig, epochs: 1, lookaheadSteps: 2 } });
    const omega0 = (await trainer.currentPolicy()).weights;
    const logs: MetaStepLog[] = [];
    let tensors = 0;
    while (!trainer.finished) {
      logs.push(await trainer.runStep());
      if (trainer.step === 1) tensors = tf.memory().numTensors;
      else expect(tf.memory().numTensors).toBe(tensors);
    }
    expect(logs.map((l) => [l.forwardPasses, l.backwardPasses])).toEqual(logs.map(() => [6, 2]));
    for (const l of logs) expect(Number.isFinite(l.metaLoss) && Number.isFinite(l.policyGradNorm)).toBe(true);
    expect((await trainer.currentPolicy()).weights.b2).not.toEqual(omega0.b2);
    trainer.dispose();
    model.dispose();
  });

  it('refuses a corrupted checkpoint with a one-line reason', () => {
    expect(() => decodeMetaCheckpoint(new Uint8Array([1, 2, 3]), 'x.zmeta')).toThrow(/x\.zmeta: not a zotune meta-training checkpoint/);
  });
});
