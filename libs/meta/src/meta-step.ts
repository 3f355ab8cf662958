// One meta step of ALGORITHMS.md §5, in the first-order-memory formulation:
//   1. σ = PertNN(ω; x) (x: the block features), nf from σ and then a constant, u_j = σ_j·nf
//   2. L± = L(θ ± ε·u⊙z(s)) without gradients, ĝ = (L⁺ − L⁻)/(2ε), a constant
//   3. look-ahead θ'_j = θ_j + a_j·z(s, j) with a_j = −η·ĝ·nf·σ_j
//   4. meta-loss L(θ'; B). Its gradient reaches ω only through σ:
//        dMeta/dσ_j = (∂L/∂a_j)·(∂a_j/∂σ_j) = ⟨g'_j, z_j⟩·(−η·ĝ·nf),  g' = ∇_θ' L(θ')
//      so one LLM backward at θ' gives every dMeta/dσ_j (z_j regenerated block by block from the seed),
//      and ∇_ω meta = ∇_ω Σ_j c_j·σ_j(ω) with c_j = dMeta/dσ_j held constant: a backward through the
//      tiny PertNN only. This equals backpropagating L(θ') through the look-ahead into ω exactly.
// θ is restored bit for bit at the end (the pre-step weights are kept as tensors, not recomputed).
import * as tf from '@tensorflow/tfjs-core';
import type { Block, Model } from '@zotune/models';
import { tfVar } from './tf-var';
import type { Objective, TaskBatch } from '@zotune/tasks';
import { applyNoise, normalFill } from '@zotune/tensor';
import { blockStats } from '@zotune/zo';
import { normFactor, policyFeatures, sizeFactors, type FeatureState, type TfPertNN } from '@zotune/policy';

export interface MetaStepInput {
  model: Model;
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
}

/** ∇_ω of the meta-loss, one array per policy variable (same layout as TfPertNN's). */
export interface PolicyGrads {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

export interface MetaStepResult {
  /** x [blocks, 5] */
  features: Float32Array;
  /** σ_j = |MLP_j(x_j)| */
  sigma: Float64Array;
  /** size factors f_j of the rescale */
  sizes: Float64Array;
  nf: number;
  /** σ_j·nf: the scale the step perturbed with (the next step's σ feature) */
  effective: number[];
  lossPlus: number;
  lossMinus: number;
  /** ĝ */
  projectedGrad: number;
  /** L(θ'; B) */
  metaLoss: number;
  /** dMeta/dσ_j */
  dMetaDSigma: Float64Array;
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
export async function lossAt(model: Model, objective: Objective, batch: TaskBatch): Promise<number> {
  const t = tf.tidy(() => objective(model, batch));
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

/** L(θ + Σ_j a_j·z(seed, j)); θ is restored exactly afterwards. */
export async function lossAlongNoise(model: Model, objective: Objective, batch: TaskBatch, seed: number, coefs: ArrayLike<number>): Promise<number> {
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

/**
 * The meta-loss as a function of the policy alone, with ĝ, nf and the seed held fixed (what the
 * meta-gradient differentiates; the finite-difference test evaluates it at perturbed ω).
 */
export async function metaLossAt(
  input: Pick<MetaStepInput, 'model' | 'policy' | 'objective' | 'batch' | 'seed' | 'metaLr'>,
  x: Float32Array,
  fixed: { nf: number; projectedGrad: number },
): Promise<number> {
  const sigma = await policySigma(input.policy, x);
  return lossAlongNoise(input.model, input.objective, input.batch, input.seed, lookaheadCoefs(sigma, fixed.nf, fixed.projectedGrad, input.metaLr));
}

/** Compute one meta step's losses and ∇_ω meta; θ is left as it was, ω untouched. */
export async function metaGradient(input: MetaStepInput): Promise<MetaStepResult> {
  const { model, policy, objective, batch, seed, eps, metaLr } = input;
  const blocks = model.blocks;
  const features = policyFeatures(await blockStats(blocks), input.features);
  const sigma = await policySigma(policy, features);
  const sizes = sizeFactors(blocks, batch.packed);
  const nf = normFactor(sigma, sizes);
  const effective = Array.from(sigma, (s) => s * nf);

  const snap = new ThetaSnapshot(blocks);
  let lossPlus: number, lossMinus: number, metaLoss: number;
  let dots: Float32Array;
  try {
    moveAlongNoise(blocks, seed, effective.map((u) => eps * u));
    lossPlus = await lossAt(model, objective, batch);
    snap.restore();
    moveAlongNoise(blocks, seed, effective.map((u) => -eps * u));
    lossMinus = await lossAt(model, objective, batch);
    snap.restore();
    if (!Number.isFinite(lossPlus) || !Number.isFinite(lossMinus))
      throw new Error(`meta step: L+ = ${lossPlus}, L- = ${lossMinus}; the weights diverged (lower --lr-llm or --eps)`);
    const projectedGrad = (lossPlus - lossMinus) / (2 * eps);
    moveAlongNoise(blocks, seed, lookaheadCoefs(sigma, nf, projectedGrad, metaLr));
    const vars = blocks.map((b) => tfVar(b));
    const { value, grads } = tf.variableGrads(() => objective(model, batch), vars);
    try {
      metaLoss = (await value.data())[0];
      // ⟨g'_j, z(seed, j)⟩ per block, z regenerated one block at a time
      const dotT = tf.tidy(() =>
        tf.stack(
          blocks.map((b) => {
            const g = grads[tfVar(b).name];
            if (!g) return tf.scalar(0);
            const z = new Float32Array(b.size);
            normalFill(z, seed, b.index);
            return tf.sum(tf.mul(g, tf.tensor(z, b.shape, 'float32')));
          }),
        ),
      ); // [blocks]
      dots = (await dotT.data()) as Float32Array;
      dotT.dispose();
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
    const dMetaDSigma = Float64Array.from(dots, (d) => -metaLr * projectedGrad * nf * d);
    if (input.nfGrad) addNormFactorTerm(dMetaDSigma, sigma, sizes, dots, -metaLr * projectedGrad * nf);
    const { grads: pg, gradNorm } = await policyGradient(policy, features, dMetaDSigma);
    return { features, sigma, sizes, nf, effective, lossPlus, lossMinus, projectedGrad, metaLoss, dMetaDSigma, grads: pg, gradNorm };
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

/** ∇_ω Σ_j c_j·σ_j(ω; x) with c_j constant: the chain rule's last link, through the PertNN only. */
export async function policyGradient(policy: TfPertNN, x: Float32Array, c: ArrayLike<number>): Promise<{ grads: PolicyGrads; gradNorm: number }> {
  const ct = tf.tensor1d(Float32Array.from(c)); // [blocks]
  const [w1, b1, w2, b2] = policy.variables;
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(ct, policy.sigma(x))) as tf.Scalar, policy.variables);
  try {
    const read = async (v: tf.Variable) => (grads[v.name] ? ((await grads[v.name].data()) as Float32Array).slice() : new Float32Array(v.size));
    const out: PolicyGrads = { w1: await read(w1), b1: await read(b1), w2: await read(w2), b2: await read(b2) };
    let sq = 0;
    for (const a of Object.values(out)) for (let i = 0; i < a.length; i++) sq += a[i] * a[i];
    return { grads: out, gradNorm: Math.sqrt(sq) };
  } finally {
    ct.dispose();
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
