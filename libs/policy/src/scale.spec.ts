// The policy as the σ of a real ZO step: a tiny random LLaMA scoring packed candidate batches.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createTfjsModel, packBatch, randomCheckpoint, type ModelConfig } from '@zotune/models';
import { createEstimator, lossValueOf, scaleContext, stepSeed, type StepRecord } from '@zotune/zo';
import { initPertNN } from './pertnn';
import { evaluatePolicy, policyScale } from './scale';

const config: ModelConfig = {
  dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 48, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true,
};
const batch = packBatch(
  [[1, 5, 9, 12], [1, 7, 3], [1, 20, 21, 22, 23], [1, 30]],
  [[[40], [41]], [[40, 2], [41]], [[40], [41, 3]], [[40], [41]]],
);
const gold = tf.tensor1d([0, 1, 1, 0], 'int32'); // [batch]
afterAll(() => gold.dispose());

describe('policyScale in a zo step', () => {
  it('gives the estimator σ·nf from θ_t and the previous record, with no hidden state and no leak', async () => {
    const model = createTfjsModel(randomCheckpoint(config, 3, { std: 0.3 }));
    const lossValue = lossValueOf(() => tf.tidy(() => {
      const logp = tf.logSoftmax(model.scoreCandidatesTensor(batch)); // [batch, K]
      return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(gold, 2)), 1))) as tf.Scalar;
    }));
    const policy = initPertNN(model.blocks.map((b) => b.name), { seed: 1 });
    const scale = policyScale(policy);
    const est = createEstimator({ name: 'mezo', lr: 2e-3, eps: 1e-3 });
    const start = await lossValue();
    let prev: StepRecord | undefined;
    let tensors = -1;
    for (let step = 0; step < 8; step++) {
      if (step === 2) tensors = tf.memory().numTensors;
      // what the policy says at θ_t given the previous record, asked twice: no state between calls
      const ev = await evaluatePolicy(policy, scaleContext(step, model.blocks, prev, batch));
      const again = await scale.sigma(scaleContext(step, model.blocks, prev, batch));
      expect(again).toEqual(ev.effective);
      const x = ev.features;
      for (let j = 0; j < model.blocks.length; j++) {
        expect(x[5 * j + 2]).toBe(Math.fround(prev?.lossPlus ?? 0));
        expect(x[5 * j + 3]).toBe(Math.fround(prev?.lossMinus ?? 0));
        expect(x[5 * j + 4]).toBe(Math.fround(prev?.sigma?.[j] ?? 1));
      }
      const sumF = ev.sizes.reduce((a, b) => a + b, 0);
      expect(ev.sizes.reduce((s, f, j) => s + f * ev.effective[j] ** 2, 0)).toBeCloseTo(sumF, 10);
      // the embedding's factor counts the batch's distinct tokens × dim
      expect(ev.sizes[0]).toBe((new Set([1, 5, 9, 12, 7, 3, 20, 21, 22, 23, 30, 40, 41, 2]).size * config.dim) / 1e6);

      const record = await est.step({ blocks: model.blocks, lossValue, step, seed: stepSeed(1, step), scale, prev, batch });
      expect(record.sigma).toEqual(ev.effective);
      await est.update(model.blocks, record);
      prev = record;
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await lossValue()).not.toBe(start);
    // the policy's σ varies across blocks (a policy, not ones)
    const s = prev!.sigma!;
    expect(Math.max(...s) / Math.min(...s)).toBeGreaterThan(1.05);
    est.dispose();
    model.dispose();
  });

  it('plugs into the guided estimator too, and refuses another model', async () => {
    const model = createTfjsModel(randomCheckpoint(config, 4, { std: 0.3 }));
    const lossValue = lossValueOf(() => tf.tidy(() => tf.neg(tf.mean(model.scoreCandidatesTensor(batch))) as tf.Scalar));
    const policy = initPertNN(model.blocks.map((b) => b.name), { seed: 2 });
    const est = createEstimator({ name: 'guided', candidates: 4, lr: 1e-3 });
    const r = await est.step({ blocks: model.blocks, lossValue, step: 0, seed: 5, scale: policyScale(policy), batch });
    expect(r.sigma).toHaveLength(model.blocks.length);
    expect(r.forwardPasses).toBe(6);
    const other = initPertNN(model.blocks.slice(1).map((b) => b.name), { seed: 2 });
    await expect(est.step({ blocks: model.blocks, lossValue, step: 0, seed: 5, scale: policyScale(other), batch })).rejects.toThrow(
      /policy: it has 19 block networks, the model has 20 blocks/,
    );
    // the embedding rule needs the batch
    await expect(est.step({ blocks: model.blocks, lossValue, step: 0, seed: 5, scale: policyScale(policy) })).rejects.toThrow(/needs the step's batch/);
    est.dispose();
    model.dispose();
  });
});
