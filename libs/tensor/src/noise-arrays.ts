// The ZO update of weights that live in plain Float32Arrays (an engine that keeps them outside tfjs,
// e.g. as ONNX Runtime inputs on SharedArrayBuffers), in place, with exactly applyNoiseMany's
// arithmetic: data[k] ← f32(f32(keep·data[k]) + S[k]), S[k] = Σ_t f32(coef_t·z(seed_t, block, k)) summed
// in order from +0. Every element depends on its own index only, so any split of a block into ranges
// (chunks here, threads in noise-pool.ts) gives the same bits.
import { checkNoiseUpdate, combineWeights, noiseSum, type NoiseTerm } from './noise';
import type { NoiseStream } from './noise-ref';

/** One block's update for applyNoiseArrays and NoisePool.apply. */
export interface ArrayNoiseUpdate {
  /** the block's weights, flattened, updated in place */
  data: Float32Array;
  /** noise block id j of z(seed, j, ·) */
  block: number;
  terms: readonly NoiseTerm[];
  /** multiplier of the current weights; default 1 */
  keep?: number;
  /** the noise stream of z; default 1 (trajectory format versions 1–3) */
  stream?: NoiseStream;
}

/** Elements per noiseSum call: the sum and the weights of a chunk stay in L2. */
const CHUNK = 1 << 16;

/** Check every item before any weight changes (one-line errors naming the item). */
export function checkArrayUpdates(items: readonly ArrayNoiseUpdate[], where: string): void {
  items.forEach((it, i) => {
    if (!(it.data instanceof Float32Array)) throw new Error(`${where}: items[${i}].data must be a Float32Array`);
    checkNoiseUpdate(`${where}: items[${i}]`, it.block, it.terms, it.keep ?? 1, it.stream ?? 1);
  });
}

/** data[start, start + n) of one item, chunk by chunk; the caller has checked the item. */
export function applyNoiseRange(it: ArrayNoiseUpdate, start: number, n: number): void {
  const keep = it.keep ?? 1;
  if (it.terms.length === 0 && keep === 1) return;
  for (let a = start; a < start + n; a += CHUNK) {
    const c = Math.min(CHUNK, start + n - a);
    const s = it.terms.length > 0 ? noiseSum(c, it.block, it.terms, a, undefined, it.stream ?? 1) : null; // [c], S of elements a .. a + c − 1
    it.data.set(combineWeights(it.data.subarray(a, a + c), s, keep), a);
  }
}

/**
 * applyNoiseMany for Float32Arrays, on this thread: the same bits as applyNoiseMany on variables
 * holding the same values. Items with no terms and keep 1 are skipped.
 */
export function applyNoiseArrays(items: readonly ArrayNoiseUpdate[]): void {
  checkArrayUpdates(items, 'applyNoiseArrays');
  for (const it of items) applyNoiseRange(it, 0, it.data.length);
}

/** data ← f32(f32(keep·data) + sum) in place with a sum the caller computed (applySum for arrays). */
export function applySumArray(data: Float32Array, sum: Float32Array | null, keep = 1): void {
  if (sum && sum.length !== data.length) throw new Error(`applySumArray: ${sum.length} sums for ${data.length} weights`);
  if (!sum && keep === 1) return;
  data.set(combineWeights(data, sum, keep));
}

/** A Float32Array of n zeros on a SharedArrayBuffer: weights that NoisePool's threads can update. */
export function sharedFloat32Array(n: number): Float32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`sharedFloat32Array: n must be an integer >= 0, got ${n}`);
  return new Float32Array(new SharedArrayBuffer(4 * n));
}
