// The ZO engine's hot-path primitive: add a sum of seeded Gaussian directions to parameter blocks in
// place, regenerating the noise from its seeds (ALGORITHMS.md §1–2), one block at a time.
//
// Two paths give the same bits. The direct path (wasm and cpu backends) reads the weights where the
// backend keeps them, computes the update in the noise kernel's SIMD memory and uploads the result as
// the variable's new tensor: no tfjs op, whose fixed cost (≈ 5–10 µs on wasm, paid two or three times
// per block) was a third of a pass over a small model. The ops path (other backends, or when forced)
// uploads S and runs tf.mul/tf.add. Writing the result into the variable's own memory would save the
// upload too, but tensors and caches that share its data id (TfjsModel's derived weights) would go
// stale: the variable gets a new tensor, as with Variable.assign.
import * as tf from '@tensorflow/tfjs-core';
import { checkNoiseUpdate, combineWeights, noiseSum, type NoiseTerm } from './noise';
import type { NoiseStream } from './noise-ref';
import { replaceWeights, weightsAccess, weightsView } from './weights-heap';

export interface ApplyNoiseOptions {
  /** multiplier of the current weights (1 - η·λ applies weight decay); default 1 */
  keep?: number;
  /** buffer of at least variable.size floats to generate into; default: a reused internal buffer */
  scratch?: Float32Array;
  /** the noise stream of z; default 1 (trajectory format versions 1–3) */
  stream?: NoiseStream;
}

/** One block's update for applyNoiseMany. */
export interface NoiseUpdate {
  variable: tf.Variable;
  /** noise block id j of z(seed, j, ·) (the block's index in the model) */
  block: number;
  terms: readonly NoiseTerm[];
  /** multiplier of the current weights; default 1 */
  keep?: number;
  /** the noise stream of z; default 1 (trajectory format versions 1–3) */
  stream?: NoiseStream;
}

export type WeightUpdatePath = 'direct' | 'tfjs-ops';

let forcedOps = false;

/** The path updates take now: 'direct' on the wasm and cpu backends, else 'tfjs-ops'. */
export function weightUpdatePath(): WeightUpdatePath {
  return !forcedOps && weightsAccess() !== 'none' ? 'direct' : 'tfjs-ops';
}

/** Force the tfjs-ops path, or back to 'auto'. For tests and benchmarks: both give the same bits. */
export function useWeightUpdatePath(choice: 'auto' | 'tfjs-ops'): WeightUpdatePath {
  forcedOps = choice === 'tfjs-ops';
  return weightUpdatePath();
}

function checkUpdate(variable: tf.Variable, keep: number, where: string): void {
  if (!Number.isFinite(keep)) throw new Error(`${where}: keep must be finite, got ${keep}`);
  if (variable.dtype !== 'float32') throw new Error(`${where}: variable ${variable.name} is ${variable.dtype}, expected float32`);
  if (variable.isDisposed) throw new Error(`${where}: variable ${variable.name} is disposed`);
}

/** variable ← f32(f32(keep·variable) + s) (s null: f32(keep·variable)) by the fastest path available. */
function update(variable: tf.Variable, s: Float32Array | null, keep: number): void {
  const access = forcedOps ? 'none' : weightsAccess();
  const w = weightsView(variable, access); // [size], valid until the upload below
  if (w) {
    replaceWeights(variable, combineWeights(w, s, keep), access);
    return;
  }
  tf.tidy(() => {
    let next: tf.Tensor = keep === 1 ? variable : tf.mul(variable, tf.scalar(keep, 'float32'));
    if (s) next = tf.add(next, tf.tensor(s, variable.shape, 'float32'));
    variable.assign(next);
  });
}

/**
 * variable ← f32(f32(keep · variable) + S), S = Σ_t f32(coef_t · z(seed_t, block, ·)) summed in order
 * (noiseSum), element k of the flattened variable using z(·, block, k). keep = 1 skips the multiply;
 * no terms skip the addition. The variable gets a new tensor (as Variable.assign gives); no tensor
 * survives. Undoing it with the negated terms restores the weights up to rounding:
 * |w'' − w| ≤ 2·min(|S|, 2^-24·|w + S|).
 */
export function applyNoise(variable: tf.Variable, block: number, terms: readonly NoiseTerm[], opts: ApplyNoiseOptions = {}): void {
  const keep = opts.keep ?? 1;
  checkUpdate(variable, keep, 'applyNoise');
  if (terms.length === 0 && keep === 1) return;
  update(variable, terms.length > 0 ? noiseSum(variable.size, block, terms, 0, opts.scratch, opts.stream ?? 1) : null, keep);
}

/**
 * applyNoise on many blocks in one call (a whole pass of the ZO engine over the model), with the same
 * bits. Every item is checked before any weight changes; items with no terms and keep 1 are skipped.
 */
export function applyNoiseMany(items: readonly NoiseUpdate[]): void {
  items.forEach((it, i) => {
    checkUpdate(it.variable, it.keep ?? 1, `applyNoiseMany: items[${i}]`);
    checkNoiseUpdate(`applyNoiseMany: items[${i}]`, it.block, it.terms, it.keep ?? 1, it.stream ?? 1);
  });
  for (const it of items) {
    const keep = it.keep ?? 1;
    if (it.terms.length === 0 && keep === 1) continue;
    update(it.variable, it.terms.length > 0 ? noiseSum(it.variable.size, it.block, it.terms, 0, undefined, it.stream ?? 1) : null, keep);
  }
}

/**
 * variable ← f32(f32(keep · variable) + sum) with a sum the caller computed (e.g. from cached noise);
 * applyNoise is applySum with sum = noiseSum(…). sum null: keep only.
 */
export function applySum(variable: tf.Variable, sum: Float32Array | null, keep = 1): void {
  checkUpdate(variable, keep, 'applySum');
  if (sum && sum.length !== variable.size) throw new Error(`applySum: ${sum.length} sums for variable ${variable.name} of ${variable.size}`);
  if (!sum && keep === 1) return;
  update(variable, sum, keep);
}
