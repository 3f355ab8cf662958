// The frozen policy as a @zotune/zo Scale: per step, block statistics + one MLP forward per block +
// the rescale, all from the ScaleContext (θ_t, the previous record, the batch). Nothing is kept
// between calls, so a resumed or replayed run sees exactly the σ of the uninterrupted one.
import type { Scale, ScaleContext } from '@zotune/zo';
import { featureStateFromRecord, normFactor, policyFeatures, sizeFactors } from './features';
import { CURVATURE_INPUTS, type PertNN } from './pertnn';

/** One step's policy evaluation, with its intermediate values (diagnostics, tests, benchmarks). */
export interface PolicyEvaluation {
  /** x [blocks, inputs] row-major */
  features: Float32Array;
  /** σ_j = |MLP_j(x_j)| */
  sigma: Float64Array;
  /** f_j of the rescale */
  sizes: Float64Array;
  /** nf */
  nf: number;
  /** σ_j·nf: what the estimator perturbs with */
  effective: number[];
}

/**
 * Evaluate the policy on a step's context. A curvature policy (6 inputs) needs the run's κ
 * (curvature.ts), measured before its first step; a base policy takes none.
 */
export async function evaluatePolicy(policy: PertNN, ctx: ScaleContext, curvature?: readonly number[]): Promise<PolicyEvaluation> {
  const n = ctx.blocks.length;
  if (n !== policy.numBlocks) throw new Error(`policy: it has ${policy.numBlocks} block networks, the model has ${n} blocks`);
  ctx.blocks.forEach((b, j) => {
    if (b.name !== policy.blockNames[j]) throw new Error(`policy: block ${j} is ${b.name} in the model, ${policy.blockNames[j]} in the policy`);
  });
  checkCurvatureInput(policy, curvature);
  const state = featureStateFromRecord(ctx.prev, n);
  const features = policyFeatures(await ctx.stats(), state, curvature);
  const sigma = policy.sigma(features);
  const sizes = sizeFactors(ctx.blocks, ctx.batch);
  const nf = normFactor(sigma, sizes);
  return { features, sigma, sizes, nf, effective: Array.from(sigma, (s) => s * nf) };
}

/** A curvature policy has κ, a base policy has none. */
function checkCurvatureInput(policy: PertNN, curvature: readonly number[] | undefined): void {
  const wants = policy.inputs === CURVATURE_INPUTS;
  if (wants && !curvature) throw new Error('policy: it reads the curvature feature set, and no curvature (κ) was measured for this run');
  if (!wants && curvature) throw new Error(`policy: it reads ${policy.inputs} features, not the curvature set; κ was passed`);
}

/**
 * The policy as the σ of an estimator (ALGORITHMS.md §4: σ_j ← σ_j·nf, recomputed every step).
 * `curvature`: the run's κ for a curvature policy, a constant of the run like the weights.
 */
export function policyScale(policy: PertNN, name = 'pertnn', curvature?: readonly number[]): Scale {
  checkCurvatureInput(policy, curvature);
  const kappa = curvature ? [...curvature] : undefined;
  return {
    name,
    sigma: async (ctx) => (await evaluatePolicy(policy, ctx, kappa)).effective,
  };
}
