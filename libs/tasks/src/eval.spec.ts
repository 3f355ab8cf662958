// evaluate(): sorted, batched scoring gives the same predictions as scoring each example alone;
// deterministic for a seed; counts add up.
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { REPO_ROOT } from '@zotune/data';
import { createTfjsModel, randomCheckpoint, STORIES260K_CONFIG } from '@zotune/models';
import { loadTokenizer } from '@zotune/tokenizers';
import { afterAll, describe, expect, test } from 'vitest';
import { Collator, evaluate, resolveTask } from './index';

const DATA = process.env.ZOTUNE_DATA ?? resolve(REPO_ROOT, '../shared/data');
const tok = loadTokenizer(resolve(DATA, 'models/stories260K/tok512.bin'), { vocabSize: 512 });
// random weights of the stories260K shape: predictions are arbitrary but fixed, and vary across examples
const model = createTfjsModel(randomCheckpoint(STORIES260K_CONFIG, 5, { std: 0.3 }));
afterAll(() => model.dispose());

describe('evaluate', () => {
  test('batched, length-sorted predictions equal one-example-at-a-time argmax; counts add up', async () => {
    const task = resolveTask('cb'); // 3 classes
    const examples = task.splits(DATA, 0).test.slice(0, 24);
    const col = new Collator(task, tok, model.config.maxSeqLen);
    await evaluate(model, col, examples.slice(0, 2)); // warm-up: the model caches derived weights once
    const before = tf.memory().numTensors;
    const r = await evaluate(model, col, examples, { batchSize: 5, maxTokens: 2000 });
    expect(tf.memory().numTensors).toBe(before);
    const scores = examples.map((e) => (tf.tidy(() => model.scoreCandidatesTensor(col.batch([e]).packed)).arraySync() as number[][])[0]);
    const alone = scores.map((s) => s.indexOf(Math.max(...s)));
    expect(r.predictions).toEqual(alone);
    // the dev loss: −log softmax(scores)[gold], averaged, in float64 from the one-at-a-time scores
    const ce = scores.map((s, i) => Math.log(s.reduce((a, x) => a + Math.exp(x), 0)) - s[examples[i].gold]);
    expect(r.loss).toBeCloseTo(ce.reduce((a, b) => a + b, 0) / 24, 5);
    expect(r.loss).toBeGreaterThan(0);
    expect(new Set(alone).size).toBeGreaterThan(1);
    expect(r.n).toBe(24);
    const correct = examples.filter((e, i) => e.gold === alone[i]).length;
    expect(r.accuracy).toBeCloseTo(correct / 24, 10);
    expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(24);
    expect(Object.keys(r.perClass)).toEqual(['entailment', 'contradiction', 'neutral']);
    expect(Object.values(r.perClass).reduce((a, c) => a + c.gold, 0)).toBe(24);
    expect(Object.values(r.perClass).reduce((a, c) => a + c.pred, 0)).toBe(24);
    expect(Object.values(r.perClass).reduce((a, c) => a + c.correct, 0)).toBe(correct);
  });

  test('deterministic for a seed: same split, same result', async () => {
    const run = async () => {
      const task = resolveTask('sst2');
      const ex = task.splits(DATA, 3).test.slice(0, 24);
      const r = await evaluate(model, new Collator(task, tok, 512), ex, { batchSize: 16 });
      return { acc: r.accuracy, pred: r.predictions, ids: ex.map((e) => e.id) };
    };
    expect(await run()).toEqual(await run());
  });
});
