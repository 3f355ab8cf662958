// evaluate(): sorted, batched scoring gives the same predictions as scoring each example alone;
// deterministic for a seed; counts add up.
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { REPO_ROOT } from '@zotune/data';
import { createTfjsModel, randomCheckpoint, STORIES260K_CONFIG } from '@zotune/models';
import { loadTokenizer } from '@zotune/tokenizers';
import { afterAll, describe, expect, test } from 'vitest';
import { Collator, evaluate, planBatches, resolveTask } from './index';
import { collate } from './collate';

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

  test.each(['copa', 'cb'])('%s: the planned layout (trimmed rows, planned cuts) gives every example the scores of its own full packing, within 1e-5', async (name) => {
    const task = resolveTask(name); // copa: candidates of several tokens (trimming matters); cb: 3 classes
    const examples = task.splits(DATA, 0).test.slice(0, 30);
    const col = new Collator(task, tok, model.config.maxSeqLen);
    const planned = await evaluate(model, col, examples, { batchSize: 7, maxTokens: 1500 });
    const greedy = await evaluate(model, col, examples, { batchSize: 7, maxTokens: 1500, layout: 'greedy' });
    // the reference: each example alone, every candidate token in its row
    const alone = examples.map((e) => Array.from(tf.tidy(() => model.scoreCandidatesTensor(collate([col.encode(e)], task.kind).packed)).dataSync() as Float32Array));
    const maxDiff = (a: number[][]) => Math.max(...a.flatMap((row, i) => row.map((x, k) => Math.abs(x - alone[i][k]))));
    expect(planned.scores.map((r) => r.length)).toEqual(examples.map(() => task.numClasses));
    expect(maxDiff(planned.scores)).toBeLessThan(1e-5);
    expect(maxDiff(greedy.scores)).toBeLessThan(1e-5);
    expect(planned.predictions).toEqual(greedy.predictions);
    expect(planned.accuracy).toBe(greedy.accuracy);
    expect(planned.loss).toBeCloseTo(greedy.loss, 5);
    // trimming drops K slots per example; the plan pads no more than the greedy cuts
    expect(planned.forwards.tokens).toBe(greedy.forwards.tokens - task.numClasses * examples.length);
    expect(planned.forwards.slots - planned.forwards.tokens).toBeLessThanOrEqual(greedy.forwards.slots - greedy.forwards.tokens);
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

describe('planBatches', () => {
  const costOf = (groups: number[][], overhead: number) => groups.reduce((c, g) => c + overhead + g.length * Math.max(...g), 0);
  /** the least cost over every grouping of the rows (set partitions), not only consecutive runs of the sorted rows */
  function bruteForce(lengths: number[], batchSize: number, maxTokens: number, overhead: number): number {
    let best = Infinity;
    const groups: number[][] = [];
    const place = (i: number) => {
      if (i === lengths.length) {
        if (groups.every((g) => g.length <= batchSize && (g.length === 1 || g.length * Math.max(...g) <= maxTokens))) best = Math.min(best, costOf(groups, overhead));
        return;
      }
      for (const g of groups) {
        g.push(lengths[i]);
        place(i + 1);
        g.pop();
      }
      groups.push([lengths[i]]);
      place(i + 1);
      groups.pop();
    };
    place(0);
    return best;
  }

  test('the least total cost over every grouping, within the row and slot caps', () => {
    let s = 7;
    const next = (m: number) => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % m;
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + next(7);
      const lengths = Array.from({ length: n }, () => 1 + next(40)).sort((a, b) => a - b);
      const batchSize = 1 + next(4);
      const maxTokens = 20 + next(80);
      const overhead = next(30);
      const ends = planBatches(lengths, batchSize, maxTokens, overhead);
      const groups = ends.map((e, k) => lengths.slice(k ? ends[k - 1] : 0, e));
      expect(groups.flat()).toEqual(lengths);
      for (const g of groups) {
        expect(g.length).toBeLessThanOrEqual(batchSize);
        if (g.length > 1) expect(g.length * Math.max(...g)).toBeLessThanOrEqual(maxTokens);
      }
      expect(costOf(groups, overhead)).toBe(bruteForce(lengths, batchSize, maxTokens, overhead));
    }
  });

  test('a row longer than maxTokens runs alone; no overhead cuts where the length changes', () => {
    expect(planBatches([5, 50], 8, 40)).toEqual([1, 2]);
    expect(planBatches([3, 3, 4, 4, 4], 8, 100, 0)).toEqual([2, 5]);
    expect(planBatches([3, 3, 4, 4, 4], 8, 100, 3)).toEqual([5]);
  });
});
