// Evaluation: argmax of the candidate scores, accuracy, per-class counts and a confusion matrix.
// Examples are sorted by packed length so each forward pads little; batches are capped by rows and
// by tokens so long-passage tasks (BoolQ, MultiRC) stay within memory.
import type { Model } from '@zotune/models';
import type { Collator, EncodedExample } from './collate';
import { collate } from './collate';
import type { Example } from './types';

export interface EvalOptions {
  /** examples per forward pass (default 64) */
  batchSize?: number;
  /** cap on packed tokens per forward pass (default 8192) */
  maxTokens?: number;
  /** called after each batch with the examples done so far */
  onProgress?: (done: number, total: number) => void;
}

export interface ClassCounts {
  /** examples whose gold is this class */
  gold: number;
  /** examples predicted as this class */
  pred: number;
  /** examples of this class predicted right */
  correct: number;
}

export interface EvalResult {
  accuracy: number;
  /**
   * mean cross-entropy of the softmax over the candidate scores at the gold candidate, nats: the
   * classification training loss, measured on these examples (a smoother selection signal than accuracy)
   */
  loss: number;
  n: number;
  /** per class name */
  perClass: Record<string, ClassCounts>;
  /** confusion[gold][pred] */
  confusion: number[][];
  /** argmax candidate of every example, in input order */
  predictions: number[];
  seconds: number;
  examplesPerSecond: number;
}

const rowLength = (e: EncodedExample) => e.prompt.length + e.candidates.reduce((s, c) => s + c.length, 0);

export async function evaluate(model: Model, collator: Collator, examples: Example[], opts: EvalOptions = {}): Promise<EvalResult> {
  const batchSize = opts.batchSize ?? 64;
  const maxTokens = opts.maxTokens ?? 8192;
  const K = collator.task.numClasses;
  const t0 = performance.now();
  const encoded = examples.map((e) => collator.encode(e));
  const order = encoded.map((_, i) => i).sort((a, b) => rowLength(encoded[a]) - rowLength(encoded[b]) || a - b);
  const predictions = new Array<number>(examples.length).fill(-1);
  let lossSum = 0;
  let done = 0;
  while (done < order.length) {
    // rows are sorted ascending, so the batch's last row is its longest
    let end = done + 1;
    while (end < order.length && end - done < batchSize && (end - done + 1) * rowLength(encoded[order[end]]) <= maxTokens) end++;
    const idx = order.slice(done, end);
    const batch = collate(idx.map((i) => encoded[i]), collator.task.kind);
    const s = await model.scoreCandidates(batch.packed); // [rows · K]
    idx.forEach((i, r) => {
      let best = 0;
      for (let k = 1; k < K; k++) if (s[r * K + k] > s[r * K + best]) best = k;
      predictions[i] = best;
      // −log softmax(s)[gold] = logsumexp(s) − s[gold], shifted by the max for stability
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(s[r * K + k] - s[r * K + best]);
      lossSum += Math.log(z) + s[r * K + best] - s[r * K + encoded[i].gold];
    });
    done = end;
    opts.onProgress?.(done, order.length);
  }
  const seconds = (performance.now() - t0) / 1000;
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let correct = 0;
  encoded.forEach((e, i) => {
    confusion[e.gold][predictions[i]]++;
    if (e.gold === predictions[i]) correct++;
  });
  const perClass: Record<string, ClassCounts> = {};
  collator.task.classNames.forEach((name, k) => {
    perClass[name] = {
      gold: confusion[k].reduce((a, b) => a + b, 0),
      pred: confusion.reduce((a, row) => a + row[k], 0),
      correct: confusion[k][k],
    };
  });
  const n = examples.length;
  return { accuracy: n ? correct / n : 0, loss: n ? lossSum / n : NaN, n, perClass, confusion, predictions, seconds, examplesPerSecond: seconds > 0 ? n / seconds : 0 };
}
