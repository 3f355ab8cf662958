// The policy's inputs and its norm-preserving rescale (ALGORITHMS.md §4).
//
// Features of block j at step t, in this order, not normalised:
//   x_j = [ mean(θ_j), var(θ_j) (unbiased), L⁺_{t−1}, L⁻_{t−1}, σ_{j,t−1} ]
// with initial L± = 0 and σ = 1.
//
// What σ_{j,t−1} is, precisely: the EFFECTIVE scale the previous step perturbed block j with,
// σ_{j,t−1}·nf_{t−1}, i.e. the StepRecord's `sigma` (null = ones). Reasons:
//  - it is what the record holds, so resume and replay rebuild the features from the trajectory alone
//    (the raw |MLP| output is not recoverable from the record: σ·nf is invariant to scaling σ);
//  - "initial σ = 1" then means exactly "the previous step was plain MeZO" (a record with sigma null),
//    and the feature keeps one scale across steps (Σ f_j (σ_j·nf)² = Σ f_j), where the raw output would
//    jump from the initial 1 to whatever magnitude the network happens to produce;
//  - meta-training keeps the same quantity in its per-task feature state (nextFeatureState).
// L±_{t−1} are the record's lossPlus / lossMinus (the mean over its two-point probes).
//
// The `curvature` feature set (a variant, recorded in the artifact) appends x_j[5] = κ_j, the block's
// relative curvature at the run's start θ₀ (curvature.ts: a forward-only probe, then
// log10 of ĥ_j over the median block's, clipped to ±3). κ is a constant of the run: measured once
// before the first step and recorded in the trajectory header, so resume sees the same κ.
//
// Rescale: f_j = d_j / 1e6 for every block except the embedding table, whose f is
// (distinct non-padding tokens of the batch) × hidden / 1e6: only those rows receive signal; a learned
// position table (kind position: OPT, GPT-2) likewise counts the batch's distinct positions.
// nf = sqrt(Σ f_j) / sqrt(Σ f_j σ_j²), so that Σ f_j (σ_j·nf)² = Σ f_j.
import type { BlockStats, StepRecord } from '@zotune/zo';
import { PAD_SEGMENT, type Block, type PackedBatch } from '@zotune/models';
import { CURVATURE_INPUTS, POLICY_INPUTS } from './pertnn';

/** What the policy remembers of the previous step. */
export interface FeatureState {
  /** L⁺_{t−1} (0 before the first step) */
  lossPlus: number;
  /** L⁻_{t−1} (0 before the first step) */
  lossMinus: number;
  /** effective σ_{j,t−1}·nf_{t−1} per block; null = ones (before the first step, or after plain MeZO) */
  sigma: readonly number[] | null;
}

/** The state before any step: L± = 0, σ = 1. */
export const INITIAL_FEATURE_STATE: FeatureState = Object.freeze({ lossPlus: 0, lossMinus: 0, sigma: null });

/** The feature state a step leaves for the next one. */
export function nextFeatureState(lossPlus: number, lossMinus: number, effectiveSigma: ArrayLike<number> | null): FeatureState {
  return { lossPlus, lossMinus, sigma: effectiveSigma === null ? null : Array.from(effectiveSigma) };
}

/** The feature state after `prev` (the previous step's record), or the initial one. */
export function featureStateFromRecord(prev: StepRecord | undefined, numBlocks: number): FeatureState {
  if (!prev) return INITIAL_FEATURE_STATE;
  if (prev.sigma !== null && prev.sigma.length !== numBlocks)
    throw new Error(`policy features: the record of step ${prev.step} holds σ for ${prev.sigma.length} blocks, the model has ${numBlocks}`);
  return nextFeatureState(prev.lossPlus, prev.lossMinus, prev.sigma);
}

/**
 * x [blocks, 5] row-major from the block statistics at θ_t and the previous step's state; with
 * `curvature` (κ per block, the curvature feature set), x [blocks, 6] with κ_j last.
 */
export function policyFeatures(stats: readonly BlockStats[], state: FeatureState, curvature?: ArrayLike<number> | null): Float32Array {
  const n = stats.length;
  if (state.sigma !== null && state.sigma.length !== n) throw new Error(`policy features: σ_{t−1} holds ${state.sigma.length} values for ${n} blocks`);
  if (curvature && curvature.length !== n) throw new Error(`policy features: κ holds ${curvature.length} values for ${n} blocks`);
  for (const [what, v] of [['L+', state.lossPlus], ['L-', state.lossMinus]] as const)
    if (!Number.isFinite(v)) throw new Error(`policy features: the previous step's ${what} is ${v}; the policy needs finite losses (the run diverged?)`);
  const I = curvature ? CURVATURE_INPUTS : POLICY_INPUTS;
  const x = new Float32Array(n * I);
  for (let j = 0; j < n; j++) {
    const o = j * I;
    x[o] = stats[j].mean;
    x[o + 1] = stats[j].variance;
    x[o + 2] = state.lossPlus;
    x[o + 3] = state.lossMinus;
    x[o + 4] = state.sigma === null ? 1 : state.sigma[j];
    if (curvature) x[o + 5] = curvature[j];
  }
  return x;
}

/** Number of distinct token ids in the batch's non-padding slots. */
export function distinctTokens(batch: Pick<PackedBatch, 'tokens' | 'segments'>): number {
  const seen = new Set<number>();
  for (let i = 0; i < batch.tokens.length; i++) if (batch.segments[i] !== PAD_SEGMENT) seen.add(batch.tokens[i]);
  return seen.size;
}

/**
 * Size factors f_j of the rescale. The embedding rule needs the step's batch; a model with an
 * embedding block and no batch is an error (the estimator passes it as ScaleContext.batch).
 */
export function sizeFactors(blocks: readonly Pick<Block, 'name' | 'kind' | 'shape' | 'size'>[], batch?: Pick<PackedBatch, 'tokens' | 'segments' | 'positions'>): Float64Array {
  let tokens: number | undefined;
  let positions: number | undefined;
  return Float64Array.from(blocks, (b) => {
    if (b.kind !== 'embedding' && b.kind !== 'position') return b.size / 1e6;
    if (!batch) throw new Error(`policy: block ${b.name} is an ${b.kind} table, and its size factor needs the step's batch (pass batch to the estimator's step)`);
    if (b.shape.length !== 2) throw new Error(`policy: ${b.kind} block ${b.name} has shape [${b.shape.join(',')}], expected [rows, hidden]`);
    // only the rows the batch reads receive signal: its distinct tokens, or its distinct positions
    const rows = b.kind === 'embedding' ? (tokens ??= distinctTokens(batch)) : (positions ??= distinctPositions(batch));
    return (rows * b.shape[1]) / 1e6;
  });
}

/** Number of distinct positions in the batch's non-padding slots (the rows a learned position table gives). */
export function distinctPositions(batch: Pick<PackedBatch, 'positions' | 'segments'>): number {
  const seen = new Set<number>();
  for (let i = 0; i < batch.positions.length; i++) if (batch.segments[i] !== PAD_SEGMENT) seen.add(batch.positions[i]);
  return seen.size;
}

/** nf = sqrt(Σ f_j) / sqrt(Σ f_j σ_j²) (float64). */
export function normFactor(sigma: ArrayLike<number>, f: ArrayLike<number>): number {
  if (sigma.length !== f.length) throw new Error(`normFactor: ${sigma.length} σ for ${f.length} size factors`);
  let sf = 0;
  let sfs = 0;
  for (let j = 0; j < f.length; j++) {
    sf += f[j];
    sfs += f[j] * sigma[j] * sigma[j];
  }
  if (!(sfs > 0) || !Number.isFinite(sfs))
    throw new Error(`policy: Σ f_j σ_j² is ${sfs}; the network gives σ = 0 (or a non-finite σ) on every block that matters`);
  return Math.sqrt(sf) / Math.sqrt(sfs);
}
