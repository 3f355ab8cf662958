// Evaluation: argmax of the candidate scores, accuracy, per-class counts and a confusion matrix.
// Examples are sorted by packed length and cut into batches (capped by rows and by padded slots so
// long-passage tasks, BoolQ and MultiRC, stay within memory); the scores come back in input order.
//
// The 'planned' layout (default) packs without the candidates' last tokens (packBatch's trimLast: they
// predict nothing) and cuts the sorted examples where the total cost is least, a forward costing
// FORWARD_OVERHEAD slots plus its rows × longest row: a batch that mixes short and long rows pads the
// short ones (SmolLM2-135M on SST-2: 42 % of the slots of 64-row batches were padding). 'greedy' is the
// layout before it (full rows, the next batchSize sorted examples per forward), kept as the benchmark's
// baseline (`zotune bench eval`). Both give the same scores within float tolerance (tested).
import type { Model } from '@zotune/models';
import type { Collator, EncodedExample } from './collate';
import { collate } from './collate';
import type { Example } from './types';

export type EvalLayout = 'planned' | 'greedy';

/**
 * A forward's fixed cost in padded slots (row tokens). SmolLM2-135M on ORT, 2 threads, CPU ms per
 * forward of B rows × T slots (trimmed SST-2-like rows): 1×8 110, 8×8 215, 64×8 1,045, 64×16 1,897,
 * i.e. ~100–190 ms per forward (MatMul packs every weight matrix it is fed) plus 1.7–1.9 ms per slot.
 */
export const FORWARD_OVERHEAD = 64;

export interface EvalOptions {
  /** examples per forward pass, at most (default 64) */
  batchSize?: number;
  /** cap on padded slots (rows × row length) per forward pass (default 8192; an example longer than it runs alone) */
  maxTokens?: number;
  /** how examples become forward passes (default planned; see the file comment) */
  layout?: EvalLayout;
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
  /** [example][candidate] mean log-probability of each candidate, in input order */
  scores: number[][];
  /** the forwards as run: their count, real tokens and padded slots (rows × row length) */
  forwards: { count: number; tokens: number; slots: number };
  seconds: number;
  examplesPerSecond: number;
}

/** Slots of an example's row: its prompt and candidates (without their last tokens when trimmed). */
const rowLength = (e: EncodedExample, trimLast: boolean) => e.prompt.length + e.candidates.reduce((s, c) => s + c.length - (trimLast ? 1 : 0), 0);

/**
 * Cut rows sorted by length (ascending) into consecutive batches of at most `batchSize` rows and
 * `maxTokens` slots (a row longer than that alone) at the least total cost Σ (overhead + rows × longest):
 * the end (exclusive) of every batch. Dynamic programming over the cut points, O(n · batchSize); on rows
 * sorted by length consecutive batches lose nothing against any other grouping.
 */
export function planBatches(lengths: ArrayLike<number>, batchSize: number, maxTokens: number, overhead = FORWARD_OVERHEAD): number[] {
  const n = lengths.length;
  const best = new Float64Array(n + 1).fill(Infinity);
  const from = new Int32Array(n + 1);
  best[0] = 0;
  for (let i = 1; i <= n; i++) {
    const longest = lengths[i - 1];
    for (let j = i - 1; j >= 0 && i - j <= batchSize; j--) {
      if (i - j > 1 && (i - j) * longest > maxTokens) break;
      const c = best[j] + overhead + (i - j) * longest;
      // <=: on a tie the larger batch (fewer forwards)
      if (c <= best[i]) {
        best[i] = c;
        from[i] = j;
      }
    }
  }
  const ends: number[] = [];
  for (let i = n; i > 0; i = from[i]) ends.push(i);
  return ends.reverse();
}

/** The former batches: the next `batchSize` sorted rows, fewer where they would pass `maxTokens` slots. */
function greedyBatches(lengths: ArrayLike<number>, batchSize: number, maxTokens: number): number[] {
  const ends: number[] = [];
  for (let done = 0; done < lengths.length; ) {
    let end = done + 1;
    while (end < lengths.length && end - done < batchSize && (end - done + 1) * lengths[end] <= maxTokens) end++;
    ends.push((done = end));
  }
  return ends;
}

export async function evaluate(model: Model, collator: Collator, examples: Example[], opts: EvalOptions = {}): Promise<EvalResult> {
  const batchSize = opts.batchSize ?? 64;
  const maxTokens = opts.maxTokens ?? 8192;
  const layout = opts.layout ?? 'planned';
  if (layout !== 'planned' && layout !== 'greedy') throw new Error(`layout: expected planned or greedy, got "${String(layout)}"`);
  const trimLast = layout === 'planned';
  const K = collator.task.numClasses;
  const t0 = performance.now();
  const encoded = examples.map((e) => collator.encode(e));
  const lengths = encoded.map((e) => rowLength(e, trimLast));
  const order = encoded.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const sorted = order.map((i) => lengths[i]);
  const ends = layout === 'planned' ? planBatches(sorted, batchSize, maxTokens) : greedyBatches(sorted, batchSize, maxTokens);
  const predictions = new Array<number>(examples.length).fill(-1);
  const scores: number[][] = new Array(examples.length);
  const forwards = { count: 0, tokens: 0, slots: 0 };
  let lossSum = 0;
  let done = 0;
  for (const end of ends) {
    const idx = order.slice(done, end);
    const batch = collate(idx.map((i) => encoded[i]), collator.task.kind, { trimLast });
    forwards.count++;
    forwards.slots += batch.packed.batch * batch.packed.length;
    for (const i of idx) forwards.tokens += lengths[i];
    const s = await model.scoreCandidates(batch.packed); // [rows · K]
    idx.forEach((i, r) => {
      let best = 0;
      for (let k = 1; k < K; k++) if (s[r * K + k] > s[r * K + best]) best = k;
      predictions[i] = best;
      scores[i] = Array.from(s.subarray(r * K, (r + 1) * K));
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
  return { accuracy: n ? correct / n : 0, loss: n ? lossSum / n : NaN, n, perClass, confusion, predictions, scores, forwards, seconds, examplesPerSecond: seconds > 0 ? n / seconds : 0 };
}
