// The losses against values computed independently from the model's full logits (Model.forward on
// each [prompt + candidate] sequence alone), on a tiny random LLaMA.
import * as tf from '@tensorflow/tfjs-core';
import { createTfjsModel, packSequences, randomCheckpoint, type ModelConfig, type TfjsModel } from '@zotune/models';
import { afterAll, describe, expect, test } from 'vitest';
import { collate, type EncodedExample } from './collate';
import { classificationLoss, combineObjective, lmLoss, lossValue, objectiveFor, objectivePartial, objectiveValue } from './objective';

const TINY: ModelConfig = { dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 37, maxSeqLen: 64, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true };
// std 0.5 so that log-probs differ visibly between candidates
const model: TfjsModel = createTfjsModel(randomCheckpoint(TINY, 11, { std: 0.5 }));
afterAll(() => model.dispose());

const examples: EncodedExample[] = [
  { prompt: [1, 5, 9, 12], candidates: [[20, 3], [7]], gold: 1, truncated: 0 },
  { prompt: [1, 30, 2, 2, 8, 14, 6], candidates: [[11], [25, 26, 27]], gold: 0, truncated: 0 },
  { prompt: [1, 4], candidates: [[33, 34], [35, 36]], gold: 1, truncated: 0 },
];

/** log p(cand | prompt) per token, from Model.forward on the sequence prompt + cand alone. */
function tokenLogProbsByForward(prompt: number[], cand: number[]): number[] {
  const seq = [...prompt, ...cand];
  const logits = model.forward(packSequences([seq])); // [1, T, V]
  const logp = tf.tidy(() => tf.logSoftmax(tf.squeeze(logits, [0]))); // [T, V]
  const a = logp.arraySync() as number[][];
  logits.dispose();
  logp.dispose();
  return cand.map((t, i) => a[prompt.length - 1 + i][t]);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('objectives', () => {
  test('classification loss = CE of softmax over mean candidate log-probs (hand-computed)', () => {
    const expected = mean(
      examples.map((e) => {
        const scores = e.candidates.map((c) => mean(tokenLogProbsByForward(e.prompt, c)));
        const lse = Math.log(scores.reduce((s, x) => s + Math.exp(x), 0));
        return lse - scores[e.gold];
      }),
    );
    const batch = collate(examples, 'classification');
    const got = lossValue(model, batch);
    expect(got).toBeCloseTo(expected, 5);
    expect(got).toBeGreaterThan(0.05); // not a degenerate case
  });

  test('teacher-forced CE = mean −log p over every gold-candidate token (all or gold-only packing)', () => {
    const lps = examples.flatMap((e) => tokenLogProbsByForward(e.prompt, e.candidates[e.gold]));
    const expected = -mean(lps);
    const all = collate(examples, 'generation-lm');
    expect(all.goldTokens).toBe(1 + 1 + 2);
    expect(lossValue(model, all)).toBeCloseTo(expected, 5);
    const goldOnly = collate(examples, 'generation-lm', { goldOnly: true });
    expect(goldOnly.packed.numCandidates).toBe(1);
    expect(lossValue(model, goldOnly, lmLoss)).toBeCloseTo(expected, 5);
    expect(objectiveFor('generation-lm')).toBe(lmLoss);
    expect(() => lossValue(model, goldOnly, classificationLoss)).toThrow('one candidate per example');
  });

  test('objectiveValue (host arithmetic over the model scores, any engine) = the tf objective to float32 round-off', async () => {
    for (const [kind, goldOnly] of [['classification', false], ['generation-lm', true], ['generation-lm', false]] as const) {
      const batch = collate(examples, kind, { goldOnly });
      const tfLoss = lossValue(model, batch);
      expect(Math.abs((await objectiveValue(model, batch)) - tfLoss)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(tfLoss)));
    }
  });

  test('shards: one partial is objectiveValue bit for bit; shards combine to the whole batch (the mean of their terms), to float32 round-off', async () => {
    for (const [kind, goldOnly] of [['classification', false], ['generation-lm', true]] as const) {
      const batch = collate(examples, kind, { goldOnly });
      const whole = await objectiveValue(model, batch);
      expect(Object.is(combineObjective(kind, [await objectivePartial(model, batch)]), whole)).toBe(true);
      const parts = [examples.slice(0, 1), examples.slice(1)].map((e) => collate(e, kind, { goldOnly }));
      const partials = await Promise.all(parts.map((b) => objectivePartial(model, b)));
      expect(partials.reduce((n, p) => n + p.count, 0)).toBe(kind === 'classification' ? 3 : batch.goldTokens);
      // an independent reference: the terms' mean from each shard's own objectiveValue, weighted by its count
      const ref = (await Promise.all(parts.map((b) => objectiveValue(model, b)))).reduce((a, v, i) => a + v * partials[i].count, 0) / partials.reduce((n, p) => n + p.count, 0);
      expect(Math.abs(combineObjective(kind, partials) - ref)).toBeLessThanOrEqual(1e-6 * Math.abs(ref));
      expect(Math.abs(combineObjective(kind, partials) - whole)).toBeLessThanOrEqual(1e-5 * Math.abs(whole));
    }
    expect(() => combineObjective('classification', [])).toThrow('no partials');
  });

  test('deterministic, no tensor leaks, and differentiable under tf.variableGrads', () => {
    const batch = collate(examples, 'classification');
    const first = lossValue(model, batch);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) expect(lossValue(model, batch)).toBe(first);
    expect(tf.memory().numTensors).toBe(before);
    const vars = model.blocks.map((b) => b.variable!);
    const { value, grads } = tf.variableGrads(() => classificationLoss(model, batch), vars);
    expect(value.dataSync()[0]).toBeCloseTo(first, 5);
    const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
    expect(Number.isFinite(norm) && norm > 0).toBe(true);
    value.dispose();
    tf.dispose(grads);
    const lm = tf.variableGrads(() => lmLoss(model, collate(examples, 'generation-lm', { goldOnly: true })), vars);
    expect(Object.keys(lm.grads)).toHaveLength(vars.length);
    lm.value.dispose();
    tf.dispose(lm.grads);
    expect(tf.memory().numTensors).toBe(before);
  });
});
