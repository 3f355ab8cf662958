// One meta step of ALGORITHMS.md §5, in the first-order-memory formulation:
//   1. σ = PertNN(ω; x) (x: the block features), nf from σ and then a constant, u_j = σ_j·nf
//   2. L± = L(θ ± ε·u⊙z(s)) without gradients, ĝ = (L⁺ − L⁻)/(2ε), a constant
//   3. look-ahead θ'_j = θ_j + a_j·z(s, j) with a_j = −η·ĝ·nf·σ_j
//   4. meta-loss L(θ'; B). Its gradient reaches ω only through σ:
//        dMeta/dσ_j = (∂L/∂a_j)·(∂a_j/∂σ_j) = ⟨g'_j, z_j⟩·(−η·ĝ·nf),  g' = ∇_θ' L(θ')
//      so one LLM backward at θ' gives every dMeta/dσ_j (z_j regenerated block by block from the seed),
//      and ∇_ω meta = ∇_ω Σ_j c_j·σ_j(ω) with c_j = dMeta/dσ_j held constant: a backward through the
//      tiny PertNN only. This equals backpropagating L(θ') through the look-ahead into ω exactly.
//
// Multi-step look-ahead (variant, K = lookaheadSteps > 1): steps 1–3 repeat K times, θ = θ₀ → θ₁ → … → θ_K,
// step k with its own noise seed s_k (s₀ = s), σ_k = PertNN(ω; x_k) from the features at θ_k (block
// statistics of θ_k, and L±, σ·nf of step k−1, as fine-tuning would see them: nextFeatureState), and the
// meta-loss is the final L(θ_K; B). With ĝ_k, nf_k and x_k held constant (as K = 1 holds ĝ and nf),
//   θ_K = θ₀ + Σ_k a_k(σ_k(ω))⊙z(s_k),  so  dMeta/dσ_{k,j} = ⟨g_K,j, z(s_k, j)⟩·(−η·ĝ_k·nf_k),  g_K = ∇L(θ_K)
// and ∇_ω meta = ∇_ω Σ_k Σ_j c_{k,j}·σ_{k,j}(ω; x_k): still one LLM backward (at θ_K), memory flat in K.
// Not differentiated: ĝ_k's own dependence on θ_k (a Hessian-vector product through the ZO estimate).
// θ is restored bit for bit at the end (the pre-step weights are kept as tensors, not recomputed).
import * as tf from '@tensorflow/tfjs-core';
import type { Block, TensorModel } from '@zotune/models';
import { tfVar } from './tf-var';
import type { Objective, TaskBatch } from '@zotune/tasks';
import { applyNoise, deriveSeed, normalFill } from '@zotune/tensor';
import { blockStats } from '@zotune/zo';
import { nextFeatureState, normFactor, policyFeatures, sizeFactors, type FeatureState, type TfPertNN } from '@zotune/policy';

export interface MetaStepInput {
  model: TensorModel;
  /** the policy being trained (its variables are ω) */
  policy: TfPertNN;
  objective: Objective;
  /** the step's minibatch; every loss of the step uses it */
  batch: TaskBatch;
  /** the task's L±, σ of its previous step */
  features: FeatureState;
  /** noise seed s of z(s, j) */
  seed: number;
  /** ε */
  eps: number;
  /** η of the look-ahead */
  metaLr: number;
  /** also differentiate through nf(σ) (the variant; default: nf is a constant) */
  nfGrad?: boolean;
  /** K, the look-ahead steps unrolled before the meta-loss (the variant; default 1) */
  lookaheadSteps?: number;
  /** the task's κ per block (the curvature feature set; a constant of the trajectory) */
  curvature?: readonly number[];
}

/** ∇_ω of the meta-loss, one array per policy variable (same layout as TfPertNN's). */
export interface PolicyGrads {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

/** One look-ahead step θ_k → θ_{k+1} of the unroll (k = 0 is the step at θ itself). */
export interface LookaheadStep {
  /** noise seed s_k of z(s_k, j) (s₀ = the step's seed) */
  seed: number;
  /** x_k [blocks, inputs] at θ_k */
  features: Float32Array;
  /** σ_{k,j} = |MLP_j(x_{k,j})| */
  sigma: Float64Array;
  nf: number;
  /** σ_{k,j}·nf_k: the scale step k perturbed with (step k+1's σ feature) */
  effective: number[];
  lossPlus: number;
  lossMinus: number;
  /** ĝ_k */
  projectedGrad: number;
  /** dMeta/dσ_{k,j} */
  dMetaDSigma: Float64Array;
}

/** The meta step: the fields of its first look-ahead step (what fine-tuning's step at θ would do), the unroll and ∇_ω. */
export interface MetaStepResult extends Omit<LookaheadStep, 'seed'> {
  /** size factors f_j of the rescale (one batch: the same for every step) */
  sizes: Float64Array;
  /** the K look-ahead steps, steps[0] being the fields above */
  steps: LookaheadStep[];
  /** L(θ_K; B) */
  metaLoss: number;
  grads: PolicyGrads;
  /** ‖∇_ω meta‖ */
  gradNorm: number;
}

/** The blocks' weights as tensors that survive reassignment of the variables (cheap: no copy). */
export class ThetaSnapshot {
  private readonly saved: tf.Tensor[];
  constructor(private readonly blocks: readonly Block[]) {
    this.saved = blocks.map((b) => tf.keep(tf.clone(tfVar(b))));
  }
  restore(): void {
    this.blocks.forEach((b, j) => tfVar(b).assign(this.saved[j]));
  }
  dispose(): void {
    tf.dispose(this.saved);
  }
}

/** θ_j += a_j·z(seed, j) for every block with a_j ≠ 0. */
export function moveAlongNoise(blocks: readonly Block[], seed: number, coefs: ArrayLike<number>): void {
  for (const b of blocks) if (coefs[b.index] !== 0) applyNoise(tfVar(b), b.index, [{ seed, coef: coefs[b.index] }]);
}

/** The objective's value at the current weights (forward only, no tape). */
export async function lossAt(model: TensorModel, objective: Objective, batch: TaskBatch): Promise<number> {
  const t = tf.tidy(() => objective(model, batch));
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

/** L(θ + Σ_j a_j·z(seed, j)); θ is restored exactly afterwards. */
export async function lossAlongNoise(model: TensorModel, objective: Objective, batch: TaskBatch, seed: number, coefs: ArrayLike<number>): Promise<number> {
  const snap = new ThetaSnapshot(model.blocks);
  try {
    moveAlongNoise(model.blocks, seed, coefs);
    return await lossAt(model, objective, batch);
  } finally {
    snap.restore();
    snap.dispose();
  }
}

/** Look-ahead coefficients a_j = −η·ĝ·nf·σ_j. */
export function lookaheadCoefs(sigma: ArrayLike<number>, nf: number, projectedGrad: number, metaLr: number): Float64Array {
  return Float64Array.from(sigma, (s) => -metaLr * projectedGrad * nf * s);
}

/** σ_j = |MLP_j(x_j)| at the policy's current weights, as numbers. */
export async function policySigma(policy: TfPertNN, x: Float32Array): Promise<Float64Array> {
  const t = tf.tidy(() => policy.sigma(x));
  const v = await t.data();
  t.dispose();
  return Float64Array.from(v);
}

/** Keeps the noise of look-ahead steps k ≥ 1 apart from the step's own seed. */
const LOOKAHEAD_SEED_STREAM = 0x6c6b; // 'lk'

/** Seed of look-ahead step k of a meta step with seed s: s itself for k = 0, so K = 1 is the single-step meta step. */
export function lookaheadSeed(seed: number, k: number): number {
  return k === 0 ? seed : deriveSeed(seed, LOOKAHEAD_SEED_STREAM, k);
}

/**
 * The meta-loss as a function of the policy alone, with every step's features x_k, ĝ_k, nf_k and seed
 * held fixed (what the meta-gradient differentiates; the finite-difference tests evaluate it at
 * perturbed ω): L(θ + Σ_k a_k⊙z(s_k)), a_{k,j} = −η·ĝ_k·nf_k·σ_j(ω; x_k). With nfGrad, nf_k = nf(σ_k) is
 * recomputed from σ instead (the variant's meta-loss).
 */
export async function metaLossAt(
  input: Pick<MetaStepInput, 'model' | 'policy' | 'objective' | 'batch' | 'metaLr' | 'nfGrad'>,
  fixed: Pick<MetaStepResult, 'sizes'> & { steps: readonly Pick<LookaheadStep, 'seed' | 'features' | 'nf' | 'projectedGrad'>[] },
): Promise<number> {
  const { model, policy, metaLr } = input;
  const snap = new ThetaSnapshot(model.blocks);
  try {
    for (const st of fixed.steps) {
      const sigma = await policySigma(policy, st.features);
      const nf = input.nfGrad ? normFactor(sigma, fixed.sizes) : st.nf;
      moveAlongNoise(model.blocks, st.seed, lookaheadCoefs(sigma, nf, st.projectedGrad, metaLr));
    }
    return await lossAt(model, input.objective, input.batch);
  } finally {
    snap.restore();
    snap.dispose();
  }
}

/** Compute one meta step's losses and ∇_ω meta; θ is left as it was, ω untouched. */
export async function metaGradient(input: MetaStepInput): Promise<MetaStepResult> {
  const { model, policy, objective, batch, eps, metaLr } = input;
  const K = input.lookaheadSteps ?? 1;
  if (!(Number.isInteger(K) && K >= 1)) throw new Error(`meta step: lookaheadSteps must be an integer >= 1, got ${K}`);
  const blocks = model.blocks;
  const sizes = sizeFactors(blocks, batch.packed);
  const snap = new ThetaSnapshot(blocks);
  try {
    const unroll: Omit<LookaheadStep, 'dMetaDSigma'>[] = [];
    let state = input.features;
    for (let k = 0; k < K; k++) {
      const seed = lookaheadSeed(input.seed, k);
      const features = policyFeatures(await blockStats(blocks), state, input.curvature);
      const sigma = await policySigma(policy, features);
      const nf = normFactor(sigma, sizes);
      const effective = Array.from(sigma, (s) => s * nf);
      // the ±ε probes return to θ_k exactly (θ₀ is the step's snapshot; later θ_k get their own)
      const at = k === 0 ? snap : new ThetaSnapshot(blocks);
      let lossPlus: number, lossMinus: number;
      try {
        moveAlongNoise(blocks, seed, effective.map((u) => eps * u));
        lossPlus = await lossAt(model, objective, batch);
        at.restore();
        moveAlongNoise(blocks, seed, effective.map((u) => -eps * u));
        lossMinus = await lossAt(model, objective, batch);
        at.restore();
      } finally {
        if (at !== snap) at.dispose();
      }
      if (!Number.isFinite(lossPlus) || !Number.isFinite(lossMinus))
        throw new Error(`meta step: L+ = ${lossPlus}, L- = ${lossMinus} at look-ahead step ${k}; the weights diverged (lower --lr-llm, --eps or --meta-lr)`);
      const projectedGrad = (lossPlus - lossMinus) / (2 * eps);
      moveAlongNoise(blocks, seed, lookaheadCoefs(sigma, nf, projectedGrad, metaLr));
      unroll.push({ seed, features, sigma, nf, effective, lossPlus, lossMinus, projectedGrad });
      state = nextFeatureState(lossPlus, lossMinus, effective);
    }
    const vars = blocks.map((b) => tfVar(b));
    const { value, grads } = tf.variableGrads(() => objective(model, batch), vars);
    let metaLoss: number;
    const dots: Float32Array[] = [];
    try {
      metaLoss = (await value.data())[0];
      for (const st of unroll) {
        // ⟨g_K,j, z(s_k, j)⟩ per block, z regenerated one block at a time
        const dotT = tf.tidy(() =>
          tf.stack(
            blocks.map((b) => {
              const g = grads[tfVar(b).name];
              if (!g) return tf.scalar(0);
              const z = new Float32Array(b.size);
              normalFill(z, st.seed, b.index);
              return tf.sum(tf.mul(g, tf.tensor(z, b.shape, 'float32')));
            }),
          ),
        ); // [blocks]
        dots.push((await dotT.data()) as Float32Array);
        dotT.dispose();
      }
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
    const steps: LookaheadStep[] = unroll.map((st, k) => {
      const c = -metaLr * st.projectedGrad * st.nf;
      const dMetaDSigma = Float64Array.from(dots[k], (d) => c * d);
      if (input.nfGrad) addNormFactorTerm(dMetaDSigma, st.sigma, sizes, dots[k], c);
      return { ...st, dMetaDSigma };
    });
    const { grads: pg, gradNorm } = await policyGradient(policy, steps.map((st) => ({ x: st.features, c: st.dMetaDSigma })));
    const { features, sigma, nf, effective, lossPlus, lossMinus, projectedGrad, dMetaDSigma } = steps[0];
    return { features, sigma, sizes, nf, effective, lossPlus, lossMinus, projectedGrad, dMetaDSigma, steps, metaLoss, grads: pg, gradNorm };
  } finally {
    snap.restore();
    snap.dispose();
  }
}

/**
 * The nf(σ) term of dMeta/dσ (variant nfGrad): a_j = k·nf(σ)·σ_j/nf₀ with k = −η·ĝ·nf₀ and
 * nf = sqrt(Σf)/sqrt(Σ f σ²), so ∂nf/∂σ_k = −nf·f_k σ_k / Σ f σ², and
 *   dMeta/dσ_k = k·[d_k − (f_k σ_k / Σ_j f_j σ_j²)·Σ_j σ_j d_j],   d_j = ⟨g'_j, z_j⟩.
 * `out` holds k·d_k already; the second term is added in place.
 */
export function addNormFactorTerm(out: Float64Array, sigma: ArrayLike<number>, f: ArrayLike<number>, d: ArrayLike<number>, k: number): void {
  let sfs = 0;
  let sd = 0;
  for (let j = 0; j < sigma.length; j++) {
    sfs += f[j] * sigma[j] * sigma[j];
    sd += sigma[j] * d[j];
  }
  for (let j = 0; j < sigma.length; j++) out[j] -= (k * f[j] * sigma[j] * sd) / sfs;
}

/**
 * ∇_ω Σ_k Σ_j c_{k,j}·σ_j(ω; x_k) with c constant: the chain rule's last link, through the PertNN only
 * (one term per look-ahead step; a single term is the one-step meta step).
 */
export async function policyGradient(policy: TfPertNN, terms: readonly { x: Float32Array; c: ArrayLike<number> }[]): Promise<{ grads: PolicyGrads; gradNorm: number }> {
  if (terms.length === 0) throw new Error('policyGradient: no terms');
  const cts = terms.map((t) => tf.tensor1d(Float32Array.from(t.c))); // [blocks] each
  const [w1, b1, w2, b2] = policy.variables;
  const { value, grads } = tf.variableGrads(
    () => terms.map((t, k) => tf.sum(tf.mul(cts[k], policy.sigma(t.x))) as tf.Scalar).reduce((acc, v) => tf.add(acc, v) as tf.Scalar),
    policy.variables,
  );
  try {
    const read = async (v: tf.Variable) => (grads[v.name] ? ((await grads[v.name].data()) as Float32Array).slice() : new Float32Array(v.size));
    const out: PolicyGrads = { w1: await read(w1), b1: await read(b1), w2: await read(w2), b2: await read(b2) };
    let sq = 0;
    for (const a of Object.values(out)) for (let i = 0; i < a.length; i++) sq += a[i] * a[i];
    return { grads: out, gradNorm: Math.sqrt(sq) };
  } finally {
    tf.dispose(cts);
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}

/** Plain SGD on ω: ω ← ω − lr·∇_ω. */
export function applyPolicySgd(policy: TfPertNN, grads: PolicyGrads, lr: number): void {
  const [w1, b1, w2, b2] = policy.variables;
  tf.tidy(() => {
    for (const [v, g] of [[w1, grads.w1], [b1, grads.b1], [w2, grads.w2], [b2, grads.b2]] as const)
      v.assign(tf.sub(v, tf.mul(tf.tensor(g, v.shape, 'float32'), lr)));
  });
}
