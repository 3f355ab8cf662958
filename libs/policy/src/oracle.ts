// Oracle block allocations: yardsticks for what a per-block σ can buy at all. They need BACKWARD
// passes (tfjs autodiff), so they are not forward-only fine-tuning; they bound what a learned
// policy (which sees only forward-pass information) could earn on a model.
//
// Per block j, measured at θ on a few training minibatches b = 1..B:
//   G_j = mean_b ‖∇_j L_b(θ)‖²                                   gradient energy
//   h_j = max(ĥ_j, floor),  ĥ_j = mean_p v_pjᵀ (∇_j L(θ + δv_p) − ∇_j L(θ − δv_p)) / (2δ n_j)
//         (Hutchinson with v_p ~ N(0, I) over all blocks: E[v_jᵀ (Hv)_j] = tr H_jj, per parameter;
//          floor = 1e-3 × the largest |ĥ|, since a noisy or negative estimate must not divide by ~0)
// Rules (raw σ before the norm-preserving rescale of features.ts, Σ f_j (σ_j·nf)² = Σ f_j):
//   density:   σ_j² ∝ G_j / n_j                 (the torch-oracle study's rule)
//   curvature: σ_j² ∝ G_j / (n_j · h_j)
// Predicted gain over uniform σ (quadratic model, one ZO step at each allocation's own best lr):
// the expected decrease of a two-point step with D = diag(σ) is η Σσ²G − η²/2 Σσ²G · Σσ²nh (large d),
// maximal at η* = 1/Σσ²nh, giving Σσ²G / (2 Σσ²nh); the ratio of that to uniform's is the gain.
// The same model predicts each rule's best lr relative to uniform's: Σ n h / Σ σ²nh.
import * as tf from '@tensorflow/tfjs-core';
import { blockVariable, type Block } from '@zotune/models';
import { deriveSeed, normalFill } from '@zotune/tensor';
import type { Scale } from '@zotune/zo';
import { normFactor, sizeFactors } from './features';

export const ORACLE_RULES = ['density', 'curvature'] as const;
export type OracleRule = (typeof ORACLE_RULES)[number];

/** What the oracle measured of one block. */
export interface BlockHeadroom {
  name: string;
  size: number;
  /** G_j = mean over batches of ‖∇_j L‖² */
  gradEnergy: number;
  /** G_j / n_j */
  density: number;
  /** ĥ_j: the raw per-parameter curvature estimate (may be ≤ 0); null when not measured */
  curvature: number | null;
}

export interface MeasureOptions {
  /** random directions of the curvature estimate (0: no curvature) */
  probes: number;
  /** finite-difference step δ of the gradient differences */
  delta: number;
  /** seed of the probe directions */
  seed: number;
}

/** ∇L per block on one batch at the blocks' current values (float32 arrays in block order) + the loss. */
async function gradients(blocks: readonly Block[], loss: () => tf.Scalar): Promise<{ value: number; grads: Float32Array[] }> {
  const vars = blocks.map((b) => blockVariable(b, 'an oracle policy'));
  const { value, grads } = tf.variableGrads(loss, vars);
  try {
    const out = await Promise.all(vars.map((v) => (grads[v.name] ? (grads[v.name].data() as Promise<Float32Array>) : Promise.resolve(new Float32Array(v.size)))));
    return { value: (await value.data())[0], grads: out };
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}

/**
 * Measure G_j (over `losses`, one closure per minibatch) and, with probes > 0, ĥ_j (probe p on
 * minibatch p mod B). The blocks are restored to their exact values afterwards (copies, not
 * subtraction: θ + δv − δv is not θ in float32).
 */
export async function measureHeadroom(blocks: readonly Block[], losses: readonly (() => tf.Scalar)[], opts: MeasureOptions): Promise<BlockHeadroom[]> {
  if (losses.length === 0) throw new Error('oracle: no minibatch to measure gradients on');
  const energy = new Float64Array(blocks.length);
  for (const loss of losses) {
    const { grads } = await gradients(blocks, loss);
    grads.forEach((g, j) => {
      let s = 0;
      for (let i = 0; i < g.length; i++) s += g[i] * g[i];
      energy[j] += s / losses.length;
    });
  }
  let curv: Float64Array | null = null;
  if (opts.probes > 0) {
    curv = new Float64Array(blocks.length);
    const saved = blocks.map((b) => tf.clone(blockVariable(b, 'an oracle policy')));
    try {
      for (let p = 0; p < opts.probes; p++) {
        // the project's counter-based noise (not tf.randomNormal, which treats seed 0 as "unseeded")
        const probeSeed = deriveSeed(opts.seed, p);
        const v = blocks.map((b, j) => {
          const z = new Float32Array(b.size);
          normalFill(z, probeSeed, j);
          return tf.tensor(z, b.shape, 'float32');
        });
        const at = async (sign: number) => {
          blocks.forEach((b, j) => blockVariable(b, 'an oracle policy').assign(tf.tidy(() => tf.add(saved[j], tf.mul(v[j], sign * opts.delta)))));
          return (await gradients(blocks, losses[p % losses.length])).grads;
        };
        const plus = await at(1);
        const minus = await at(-1);
        const vs = await Promise.all(v.map((t) => t.data() as Promise<Float32Array>));
        blocks.forEach((b, j) => {
          let s = 0;
          for (let i = 0; i < b.size; i++) s += vs[j][i] * (plus[j][i] - minus[j][i]);
          curv![j] += s / (2 * opts.delta * b.size * opts.probes);
        });
        tf.dispose(v);
      }
    } finally {
      blocks.forEach((b, j) => blockVariable(b, 'an oracle policy').assign(saved[j]));
      tf.dispose(saved);
    }
  }
  return blocks.map((b, j) => ({ name: b.name, size: b.size, gradEnergy: energy[j], density: energy[j] / b.size, curvature: curv ? curv[j] : null }));
}

/** h_j with the floor applied (1e-3 of the largest |ĥ|). */
export function flooredCurvature(h: readonly BlockHeadroom[]): number[] {
  const raw = h.map((b) => {
    if (b.curvature === null) throw new Error(`oracle: block ${b.name} has no curvature estimate (probes = 0)`);
    return b.curvature;
  });
  const floor = 1e-3 * Math.max(...raw.map(Math.abs));
  return raw.map((x) => Math.max(x, floor > 0 ? floor : Number.MIN_VALUE));
}

/** Raw σ_j of a rule (before the rescale). */
export function oracleRawSigma(rule: OracleRule, h: readonly BlockHeadroom[]): number[] {
  const curv = rule === 'curvature' ? flooredCurvature(h) : null;
  return h.map((b, j) => Math.sqrt(curv ? b.density / curv[j] : b.density));
}

/**
 * Predicted gain of σ² allocation `s2` (per block) over uniform: [Σσ²G / Σσ²nh] / [ΣG / Σnh] (scale-free),
 * and the lr ratio (best lr over uniform's best) = Σnh / Σσ²nh, which holds for σ on uniform's scale (Σ f σ² = Σ f).
 */
export function predictedGain(s2: readonly number[], h: readonly BlockHeadroom[]): { gain: number; lrRatio: number } {
  const curv = flooredCurvature(h);
  let sg = 0, snh = 0, g = 0, nh = 0;
  h.forEach((b, j) => {
    sg += s2[j] * b.gradEnergy;
    snh += s2[j] * b.size * curv[j];
    g += b.gradEnergy;
    nh += b.size * curv[j];
  });
  return { gain: sg / snh / (g / nh), lrRatio: nh / snh };
}

export interface OracleScaleOptions {
  rule: OracleRule;
  /** refresh every K steps (σ is measured at steps 0, K, 2K, …; in between the previous record's σ is reused) */
  every: number;
  /** the minibatch losses to measure on at a refresh step (deterministic in the step: resume recomputes them) */
  losses: (step: number) => (() => tf.Scalar)[];
  probes: number;
  delta: number;
  seed: number;
  /** called after each refresh (logging) */
  onRefresh?: (step: number, h: BlockHeadroom[], effective: number[]) => void;
}

/**
 * An oracle as a @zotune/zo Scale. Between refreshes σ comes from ctx.prev (the previous record's
 * σ), so there is no hidden state: resume continues with the recorded σ, and replay never calls it.
 */
export function oracleScale(opts: OracleScaleOptions): Scale {
  if (!Number.isInteger(opts.every) || opts.every < 1) throw new Error(`oracle: refresh interval must be an integer >= 1, got ${opts.every}`);
  return {
    name: `oracle-${opts.rule}`,
    sigma: async (ctx) => {
      if (ctx.step % opts.every !== 0 && ctx.prev?.sigma) return ctx.prev.sigma;
      const h = await measureHeadroom(ctx.blocks, opts.losses(ctx.step), {
        probes: opts.rule === 'curvature' ? opts.probes : 0,
        delta: opts.delta,
        seed: (opts.seed + ctx.step) >>> 0,
      });
      const raw = oracleRawSigma(opts.rule, h);
      const nf = normFactor(raw, sizeFactors(ctx.blocks, ctx.batch));
      const effective = raw.map((s) => s * nf);
      opts.onRefresh?.(ctx.step, h, effective);
      return effective;
    },
  };
}
