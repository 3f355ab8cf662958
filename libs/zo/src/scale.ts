// Scale: the per-block standard deviation σ_j of the perturbation (ALGORITHMS.md §4). Ones for plain
// MeZO; a learned policy computes σ_j·nf from block statistics and the previous step's losses. The
// estimator asks once per step and records the σ it used, so the update and replay never ask again:
// whatever state a policy needs arrives through the context (the previous record), never hidden.
import * as tf from '@tensorflow/tfjs-core';
import type { Block, PackedBatch } from '@zotune/models';
import type { StepRecord } from '@zotune/artifacts';

/** Mean and unbiased (N − 1) variance of one block's weights. */
export interface BlockStats {
  mean: number;
  variance: number;
}

export interface ScaleContext {
  /** step index */
  step: number;
  /** the model's blocks at the current weights θ_t (before any perturbation of the step) */
  blocks: readonly Block[];
  /** previous step's record: lossPlus, lossMinus and sigma (null = ones) are the policy's L±_{t−1}, σ_{t−1} */
  prev?: StepRecord;
  /** the step's minibatch when the caller has one (the policy's embedding rule counts its distinct tokens) */
  batch?: PackedBatch;
  /** per-block mean and variance at θ_t, computed on the first call and reused */
  stats(): Promise<BlockStats[]>;
}

export interface Scale {
  /** shown in logs and errors */
  readonly name: string;
  /** effective σ_j per block (policy σ times nf), in block order; null means every σ_j = 1 */
  sigma(ctx: ScaleContext): Promise<ArrayLike<number> | null> | ArrayLike<number> | null;
}

/** σ_j = 1 for every block: plain MeZO and the guided estimator without a policy. */
export const onesScale: Scale = { name: 'ones', sigma: () => null };

/** A constant σ per block (tests, or a scale computed elsewhere). */
export function fixedScale(sigma: ArrayLike<number> | null, name = 'fixed'): Scale {
  const s = sigma === null ? null : Array.from(sigma);
  return { name, sigma: () => s };
}

/** Mean and population variance of an array, two passes in float64 (blocks kept in JS memory). */
function momentsHost(x: Float32Array): [number, number] {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const mean = s / x.length;
  let q = 0;
  for (let i = 0; i < x.length; i++) q += (x[i] - mean) * (x[i] - mean);
  return [mean, q / x.length];
}

/**
 * Mean and unbiased variance of each block: tfjs blocks by one reduction each and one read back,
 * blocks held in JS memory (engine ort) on the host.
 */
export async function blockStats(blocks: readonly Block[]): Promise<BlockStats[]> {
  const onDevice = blocks.filter((b) => !b.data);
  let v: ArrayLike<number> = [];
  if (onDevice.length > 0) {
    const packed = tf.tidy(() => tf.stack(onDevice.flatMap((b) => {
      const { mean, variance } = tf.moments(b.variable!);
      return [mean, variance];
    }))); // [2 · tfjs blocks]
    v = await packed.data();
    packed.dispose();
  }
  let j = 0;
  return blocks.map((b) => {
    const [mean, pop] = b.data ? momentsHost(b.data) : [v[2 * j], v[2 * j++ + 1]];
    return { mean, variance: b.size > 1 ? (pop * b.size) / (b.size - 1) : 0 };
  });
}

/** Ask the scale for this step's σ and check it: one finite, non-negative value per block. */
export async function resolveSigma(scale: Scale, ctx: ScaleContext): Promise<number[] | null> {
  const s = await scale.sigma(ctx);
  if (s === null) return null;
  if (s.length !== ctx.blocks.length)
    throw new Error(`scale "${scale.name}": returned ${s.length} values for ${ctx.blocks.length} blocks`);
  const out = Array.from(s);
  out.forEach((x, j) => {
    if (!Number.isFinite(x) || x < 0)
      throw new Error(`scale "${scale.name}": σ of block ${ctx.blocks[j].name} is ${x}, expected a finite value >= 0`);
  });
  return out;
}

/** A ScaleContext whose stats are computed lazily, once. */
export function scaleContext(step: number, blocks: readonly Block[], prev?: StepRecord, batch?: PackedBatch): ScaleContext {
  let stats: Promise<BlockStats[]> | undefined;
  return { step, blocks, prev, batch, stats: () => (stats ??= blockStats(blocks)) };
}
