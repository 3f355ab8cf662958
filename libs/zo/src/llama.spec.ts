// The engine on a real model: a tiny random LLaMA scoring packed candidate batches.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendRecord, createTrajectory, openTrajectory } from '@zotune/artifacts';
import { createTfjsModel, packBatch, randomCheckpoint, type ModelConfig, type TfjsModel, type PackedBatch } from '@zotune/models';
import { createAdam } from './adam';
import { stepSeed } from './config';
import { createEstimator } from './estimator';
import { trajectoryHeader } from './header';
import { lossValueOf } from './loss';
import { replay } from './replay';
import { sameBits } from './toy.testkit';

const config: ModelConfig = {
  dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 48, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true,
};
// 4 examples, 2 candidates each; the gold candidate is index gold[b]
const batch: PackedBatch = packBatch(
  [[1, 5, 9, 12], [1, 7, 3], [1, 20, 21, 22, 23], [1, 30]],
  [[[40], [41]], [[40, 2], [41]], [[40], [41, 3]], [[40], [41]]],
);
const gold = tf.tensor1d([0, 1, 1, 0], 'int32'); // [batch]

function objective(model: TfjsModel, b: PackedBatch): () => tf.Scalar {
  return () => tf.tidy(() => {
    const scores = model.scoreCandidatesTensor(b); // [batch, K]
    const logp = tf.logSoftmax(scores); // [batch, K]
    return tf.neg(tf.mean(tf.sum(tf.mul(logp, tf.oneHot(gold, b.numCandidates)), 1))) as tf.Scalar;
  });
}

const snapshot = (m: TfjsModel) => m.blocks.map((b) => (b.variable!.dataSync() as Float32Array).slice());
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zotune-zo-llama-'));
});
afterAll(() => {
  gold.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('ZO engine on a tiny random LLaMA', () => {
  for (const name of ['mezo', 'guided'] as const) {
    it(`${name}: trains, leaks nothing, and replays bit for bit`, async () => {
      const model = createTfjsModel(randomCheckpoint(config, 3, { std: 0.3 }));
      const lossValue = lossValueOf(objective(model, batch));
      const est = createEstimator({ name, lr: 2e-3, eps: 1e-3 });
      const path = join(dir, `${name}.trajectory`);
      createTrajectory(path, await trajectoryHeader(model.blocks, { runSeed: 1, family: model.family, estimator: est.config }));
      const start = await lossValue();
      let prev;
      let n = -1;
      for (let step = 0; step < 12; step++) {
        if (step === 2) n = tf.memory().numTensors;
        prev = await est.step({ blocks: model.blocks, lossValue, step, seed: stepSeed(1, step), prev, batch });
        await est.update(model.blocks, prev);
        appendRecord(path, prev);
      }
      expect(tf.memory().numTensors).toBe(n);
      const end = await lossValue();
      console.log(`${name}: d = ${model.blocks.reduce((s, b) => s + b.size, 0)}, loss ${start} → ${end}`);
      expect(end).toBeLessThan(start);
      est.dispose();

      const base = createTfjsModel(randomCheckpoint(config, 3, { std: 0.3 }));
      const t = openTrajectory(path);
      await replay(base.blocks, t.header, t.records);
      expect(sameBits(snapshot(base), snapshot(model))).toBe(true);
      model.dispose();
      base.dispose();
    });
  }

  it('adam differentiates the same objective through the model', async () => {
    const model = createTfjsModel(randomCheckpoint(config, 3, { std: 0.3 }));
    const lossTensor = objective(model, batch);
    const adam = createAdam(model.blocks, { lr: 1e-2 });
    const first = await adam.step({ lossTensor, step: 0 });
    let last = first;
    for (let step = 1; step < 10; step++) last = await adam.step({ lossTensor, step });
    expect(last.loss).toBeLessThan(first.loss);
    adam.dispose();
    model.dispose();
  });
});
