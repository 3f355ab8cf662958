// In-place block-wise perturbation: θ_j ← keep_j·θ_j + σ_j·Σ_i coef_i·z(seed_i, j) for every block j.
// z is regenerated from its seed block by block (applyNoiseMany of @zotune/tensor: one call per pass,
// no tfjs op on the wasm and cpu backends), so at most one block's noise exists at a time and memory
// stays that of inference. Every perturbation, restore and update of a run, live or replayed, goes
// through Perturber.move: the same float32 operations in the same order, which is what makes replay
// bit-identical. A block whose weights live in JS memory (Block.data, engine ort) is updated in place
// with the same arithmetic by NoisePool (@zotune/tensor), which splits passes of at least 2^20 elements
// across `threads` worker threads: any split gives the bits of one thread, so the thread count never
// changes a run or its replay.
import type { Block } from '@zotune/models';
import {
  applyNoiseMany, applySum, applySumArray, checkNoiseStream, checkThreads, normalFill, sharedNoisePool,
  type ArrayNoiseUpdate, type NoiseStream, type NoiseTerm, type NoiseUpdate,
} from '@zotune/tensor';

export type { NoiseTerm };

export interface PerturberOptions {
  /**
   * Keep z(seed, j) of the current step in memory (one Float32Array per seed and block: M·d floats
   * for M seeds) instead of regenerating it on every move. Same results, bit for bit.
   */
  cacheNoise?: boolean;
  /**
   * Threads that update the blocks held in JS memory (Block.data; in place when on SharedArrayBuffers,
   * else the threads make the noise sums and this thread adds them); default 1. Same results, bit for
   * bit, for any count. Blocks in tfjs variables use this thread.
   */
  threads?: number;
  /**
   * The noise stream of z (NoiseStream of @zotune/tensor); default 1. A run's trajectory format version
   * fixes it (noiseStreamOf in estimator.ts): 1 for versions 1–3, 2 from version 4.
   */
  stream?: NoiseStream;
}

export class Perturber {
  private cache: Map<string, Float32Array> | undefined;
  private sum = new Float32Array(0);
  readonly threads: number;
  readonly stream: NoiseStream;

  constructor(opts: PerturberOptions = {}) {
    this.setCaching(opts.cacheNoise ?? false);
    this.threads = checkThreads(opts.threads ?? 1, 'Perturber: threads');
    this.stream = checkNoiseStream(opts.stream ?? 1, 'Perturber: stream');
  }

  /** Start a step: forget the cached noise, and cache this step's noise or not. */
  setCaching(on: boolean): void {
    this.cache = on ? new Map() : undefined;
  }

  /**
   * θ_j ← keep(block)·θ_j + σ_j·Σ coef·z(seed, j), block by block; `terms` may differ per block (a
   * function of the block: the fused restore and update, whose coefficients depend on the block's
   * weight decay). sigma null means ones; a block whose every coefficient is 0 and whose keep is 1 is
   * left untouched. Blocks in tfjs variables are updated before this returns its promise; blocks in
   * JS memory when it resolves.
   */
  async move(
    blocks: readonly Block[], sigma: readonly number[] | null,
    terms: readonly NoiseTerm[] | ((block: Block) => readonly NoiseTerm[]), keep?: (block: Block) => number,
  ): Promise<void> {
    const pass: NoiseUpdate[] = [];
    const arrays: ArrayNoiseUpdate[] = [];
    for (const b of blocks) {
      const s = sigma === null ? 1 : sigma[b.index];
      const k = keep ? keep(b) : 1;
      const all = typeof terms === 'function' ? terms(b) : terms;
      const t = s === 0 ? [] : all.filter((x) => x.coef !== 0).map((x) => ({ seed: x.seed, coef: x.coef * s }));
      if (t.length === 0 && k === 1) continue;
      if (this.cache && t.length > 0) this.applyCached(b, t, k);
      else if (b.data) arrays.push({ data: b.data, block: b.index, terms: t, keep: k, stream: this.stream });
      else pass.push({ variable: b.variable!, block: b.index, terms: t, keep: k, stream: this.stream });
    }
    applyNoiseMany(pass);
    if (arrays.length > 0) await sharedNoisePool(this.threads).apply(arrays);
  }

  dispose(): void {
    this.cache?.clear();
    this.sum = new Float32Array(0);
  }

  /**
   * applyNoise's arithmetic with cached z: S = Σ_t f32(f32(coef_t)·z_t) summed in order from +0 (as
   * noiseSum), then θ ← f32(keep·θ) + S by applySum, applyNoise's own update. The spec test checks
   * the bits agree.
   */
  private applyCached(b: Block, terms: readonly NoiseTerm[], keep: number): void {
    if (this.sum.length < b.size) this.sum = new Float32Array(b.size);
    const S = this.sum.subarray(0, b.size); // [size]
    S.fill(0);
    const f = Math.fround;
    for (const t of terms) {
      const z = this.noise(t.seed, b);
      const a = f(t.coef);
      for (let i = 0; i < S.length; i++) S[i] = f(S[i] + f(a * z[i]));
    }
    if (b.data) applySumArray(b.data, S, keep);
    else applySum(b.variable!, S, keep);
  }

  private noise(seed: number, b: Block): Float32Array {
    const key = `${seed}:${b.index}`;
    let z = this.cache!.get(key);
    if (!z) {
      z = new Float32Array(b.size);
      normalFill(z, seed, b.index, 0, this.stream);
      this.cache!.set(key, z);
    }
    return z;
  }
}
