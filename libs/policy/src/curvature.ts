// The `curvature` feature set's input (issue 12, item 2): each block's curvature at the run's start,
// measured with forward passes only, so a ZO fine-tune can afford it.
//
// Per block j and probe p (z_p = z(deriveSeed(seed, p), j), the project's counter-based noise, on
// block j alone), at θ on one fixed probe batch:
//   ĥ_j = (1/P) Σ_p [L(θ + δz_p) + L(θ − δz_p) − 2L(θ)] / (δ²·‖z_p‖²)
// the Rayleigh quotient z_pᵀ H_jj z_p / ‖z_p‖² of a symmetric second difference: exact for a quadratic
// (the spec checks it), an unbiased-in-direction estimate of tr(H_jj)/n_j otherwise. Cost: 1 + 2·P·B
// forward passes for B blocks (stories260K, P = 2: 189), once per run.
// The weights are written back bit for bit (copies, not θ + δz − δz), so a probe never moves the run.
//
// The feature is scale-free across models and tasks: κ_j = clip(log10(h_j / median_k h_k), ±3) with
// h_j = max(ĥ_j, 1e-3·max_k |ĥ_k|): a noisy or negative estimate (the headroom bench saw 13 of 47
// with 8 gradient-difference probes) reads as "flat", never as a division by ~0.
import * as tf from '@tensorflow/tfjs-core';
import type { CurvatureProbe } from '@zotune/artifacts';
import { blockValuesAsync, type Block } from '@zotune/models';
import { deriveSeed, normalFill } from '@zotune/tensor';

/** The probe meta-training uses unless told otherwise (recorded in every curvature policy). */
export const DEFAULT_CURVATURE_PROBE: CurvatureProbe = Object.freeze({ delta: 1e-2, probes: 2, examples: 16 });

/** Seed domain of a run's curvature probe (its batch and directions), apart from the run's other streams. */
export const CURVATURE_SEED_DOMAIN = 0x63757276; // 'curv'

/** κ is clipped to ±KAPPA_CLIP decades. */
export const KAPPA_CLIP = 3;

export interface CurvatureMeasurement {
  /** ĥ_j per block (per-parameter curvature, may be ≤ 0 from noise) */
  raw: number[];
  /** κ_j, the feature */
  kappa: number[];
  /** L(θ) on the probe batch */
  loss: number;
  forwardPasses: number;
}

/** Overwrite a block's weights with `values` ([size]). */
function writeBlock(b: Block, values: Float32Array): void {
  if (b.data) b.data.set(values);
  else if (b.variable) {
    const t = tf.tensor(values, b.shape, 'float32');
    b.variable.assign(t);
    t.dispose();
  } else throw new Error(`block ${b.name}: holds no weights (neither data nor variable)`);
}

/**
 * Measure ĥ and κ at the blocks' current weights. `loss` is one forward pass on the probe batch at
 * the current weights. The blocks hold their exact original values afterwards, even on error.
 */
export async function probeCurvature(blocks: readonly Block[], loss: () => Promise<number> | number, opts: CurvatureProbe & { seed: number }): Promise<CurvatureMeasurement> {
  if (!(opts.delta > 0) || !Number.isInteger(opts.probes) || opts.probes < 1) throw new Error(`curvature probe: delta must be > 0 and probes an integer >= 1, got ${opts.delta}, ${opts.probes}`);
  let forwardPasses = 0;
  const at = async () => {
    const v = await loss();
    forwardPasses++;
    if (!Number.isFinite(v)) throw new Error(`curvature probe: the loss is ${v}`);
    return v;
  };
  const l0 = await at();
  const raw = new Array<number>(blocks.length).fill(0);
  const d = Math.fround(opts.delta);
  for (const b of blocks) {
    const saved = (await blockValuesAsync(b)).slice(); // [size]
    const moved = new Float32Array(b.size);
    const z = new Float32Array(b.size);
    try {
      for (let p = 0; p < opts.probes; p++) {
        normalFill(z, deriveSeed(opts.seed, p), b.index);
        let zz = 0;
        for (let i = 0; i < z.length; i++) zz += z[i] * z[i];
        for (let i = 0; i < z.length; i++) moved[i] = saved[i] + d * z[i];
        writeBlock(b, moved);
        const plus = await at();
        for (let i = 0; i < z.length; i++) moved[i] = saved[i] - d * z[i];
        writeBlock(b, moved);
        const minus = await at();
        raw[b.index] += (plus + minus - 2 * l0) / (opts.delta * opts.delta * zz * opts.probes);
      }
    } finally {
      writeBlock(b, saved);
    }
  }
  return { raw, kappa: curvatureFeature(raw), loss: l0, forwardPasses };
}

/** κ_j = clip(log10(h_j / median h), ±3), h_j = max(ĥ_j, 1e-3·max|ĥ|) (see the file comment). */
export function curvatureFeature(raw: readonly number[]): number[] {
  if (raw.length === 0) return [];
  if (raw.some((x) => !Number.isFinite(x))) throw new Error(`curvature feature: a block's estimate is not finite (${raw.find((x) => !Number.isFinite(x))})`);
  const top = Math.max(...raw.map(Math.abs));
  if (top === 0) return raw.map(() => 0);
  const h = raw.map((x) => Math.max(x, 1e-3 * top));
  const sorted = [...h].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : Math.sqrt(sorted[mid - 1] * sorted[mid]);
  return h.map((x) => Math.min(KAPPA_CLIP, Math.max(-KAPPA_CLIP, Math.log10(x / median))));
}
