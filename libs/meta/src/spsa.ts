// A forward-only meta-gradient (issue 23): the meta step of meta-step.ts with the LLM backward replaced by
// SPSA with common random numbers, on a host model (engine ort: @zotune/models' Model, whose blocks
// keep their weights in JS memory; no tfjs tensor holds the model).
//
// It estimates the gradient of the same function metaGradient differentiates exactly (metaLossAt):
//   meta(ω) = L(θ + a(σ(ω; x))⊙z(s); B),   a_j = −η·ĝ·nf·σ_j,
// with the features x, ĝ = (L⁺ − L⁻)/(2ε), nf (unless nfGrad), the noise seed s and the batch B fixed at
// their values at ω. Every evaluation of meta uses the same s, z and B (common random numbers), so the
// difference m⁺ − m⁻ carries only the effect of the perturbation of the policy.
//
// Two spaces to perturb (spsaSpace):
//   sigma (default): meta depends on ω only through σ ∈ R^blocks, so perturb σ: σ± = σ ± c·rms(σ)·Δ_k
//     (Δ_k Rademacher, seeded), ĝ_σ = mean_k (m⁺_k − m⁻_k)/(2c·rms(σ))·Δ_k, and ∇_ω = J_σ(ω)ᵀ ĝ_σ through
//     the tiny networks (policyGradientHost, exact: a few thousand multiply-adds). The estimate lives in
//     a space of `blocks` dimensions (47 on stories260K, 272 on SmolLM2-135M).
//   omega: perturb the policy weights themselves, ω± = ω ± c·rms(ω)·Δ_k, σ± = PertNN(ω±; x), and
//     ĝ_ω = mean_k (m⁺_k − m⁻_k)/(2c·rms(ω))·Δ_k: the textbook SPSA, in blocks·(I·H + 2H + 1) dimensions
//     (21,103 on stories260K), so with K directions its cosine with the true gradient is about √(K/d).
// Cost per estimate: 3 + 2K forward passes (L±, meta(ω), and m± per direction), no backward. The step's
// z and θ are kept (HostStep: two model-size arrays, reused from step to step), so every evaluation point
// θ + a⊙z is written in one fused pass from them, with no regeneration and no restore in between
// (float32: θ_j,i ← fround(θ_j,i + fround(a_j·z_j,i)), the bits of Perturber's update); θ is put back bit
// for bit at the end.
import type { Block, Model } from '@zotune/models';
import { PertNN, normFactor, policyFeatures, sizeFactors } from '@zotune/policy';
import { objectiveValue } from '@zotune/tasks';
import { deriveSeed, hash32, noiseKeys, normalFill } from '@zotune/tensor';
import { blockStats } from '@zotune/zo';
import type { MetaStepCommon, PolicyGrads } from './meta-step';

export type SpsaSpace = 'sigma' | 'omega';

export interface SpsaOptions {
  /** K, the directions averaged */
  directions: number;
  /** c: the perturbation, relative to the rms of what is perturbed (σ or ω) */
  scale: number;
  space: SpsaSpace;
}

export interface HostMetaStepInput extends MetaStepCommon {
  model: Model;
  policy: PertNN;
  spsa: SpsaOptions;
  /** the step's saved θ and z to reuse (captured and filled here, left so for the caller); default fresh ones */
  point?: HostStep;
}

export interface HostMetaStepResult {
  /** x [blocks, inputs] */
  features: Float32Array;
  sigma: Float64Array;
  sizes: Float64Array;
  nf: number;
  effective: number[];
  lossPlus: number;
  lossMinus: number;
  projectedGrad: number;
  /** L(θ'; B) at ω */
  metaLoss: number;
  /** the estimate of dMeta/dσ_j (space sigma; undefined for omega) */
  dMetaDSigma?: Float64Array;
  /** the estimate of ∇_ω meta */
  grads: PolicyGrads;
  gradNorm: number;
  forwardPasses: number;
}

/** The blocks' weights copied aside, restored bit for bit (host blocks only). */
export class HostSnapshot {
  private readonly saved: Float32Array[];
  constructor(private readonly blocks: readonly Block[]) {
    this.saved = blocks.map((b) => hostData(b).slice());
  }
  /** take the blocks' current weights (reusing the arrays: no model-size allocation per step) */
  capture(): void {
    this.blocks.forEach((b, j) => this.saved[j].set(hostData(b)));
  }
  restore(): void {
    this.blocks.forEach((b, j) => hostData(b).set(this.saved[j]));
  }
  /** the saved weights of block j */
  at(j: number): Float32Array {
    return this.saved[j];
  }
}

/**
 * One step's θ (captured) and z(s, j) (filled once per seed), so that any point θ + Σ_j a_j·z(s, j) is
 * one pass: moveTo(a) writes it into the blocks from the saved θ, and restore() puts θ back.
 */
export class HostStep {
  private readonly theta: HostSnapshot;
  private readonly z: Float32Array[];
  private seed: number | undefined;
  constructor(private readonly blocks: readonly Block[]) {
    this.theta = new HostSnapshot(blocks);
    this.z = blocks.map((b) => new Float32Array(b.size));
  }
  /** take the blocks' current weights as θ, and z(seed, j) */
  start(seed: number): void {
    this.theta.capture();
    if (seed !== this.seed) {
      this.blocks.forEach((b, j) => normalFill(this.z[j], seed, b.index));
      this.seed = seed;
    }
  }
  /** blocks ← θ + a⊙z (a_j per block; a_j = 0 copies θ_j) */
  moveTo(a: ArrayLike<number>): void {
    const f = Math.fround;
    this.blocks.forEach((b, j) => {
      const out = hostData(b);
      const t = this.theta.at(j);
      const aj = f(a[j]);
      if (aj === 0) {
        out.set(t);
        return;
      }
      const z = this.z[j];
      for (let i = 0; i < out.length; i++) out[i] = f(t[i] + f(aj * z[i]));
    });
  }
  restore(): void {
    this.theta.restore();
  }
}

function hostData(b: Block): Float32Array {
  if (!b.data) throw new Error(`forward-only meta-gradient: block ${b.name} keeps its weights in a tfjs variable; it needs the ort engine's host blocks`);
  return b.data;
}

/** Keeps the SPSA directions apart from every other stream under the step's seed. */
const SPSA_STREAM = 0x73707361; // 'spsa'

/** Rademacher direction k of a step: n signs ±1, a pure function of (seed, k). */
export function rademacher(seed: number, k: number, n: number): Float64Array {
  const [k0, k1] = noiseKeys(deriveSeed(seed, SPSA_STREAM), k);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = hash32(i, k0, k1) & 1 ? 1 : -1;
  return out;
}

const rms = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s / a.length);
};

/** The policy's weights as one vector [w1, b1, w2, b2] and back (the ω of the omega space). */
const flatten = (p: PertNN): Float64Array => flatGrads(p.weights);

function unflatten(p: PertNN, v: ArrayLike<number>): PolicyGrads {
  const { w1, b1, w2, b2 } = p.weights;
  let o = 0;
  const take = (n: number) => {
    const a = Float32Array.from({ length: n }, (_, i) => v[o + i]);
    o += n;
    return a;
  };
  return { w1: take(w1.length), b1: take(b1.length), w2: take(w2.length), b2: take(b2.length) };
}

const normOf = (g: PolicyGrads): number => {
  let sq = 0;
  for (const a of [g.w1, g.b1, g.w2, g.b2]) for (let i = 0; i < a.length; i++) sq += a[i] * a[i];
  return Math.sqrt(sq);
};

/**
 * ∇_ω Σ_j c_j·σ_j(ω; x) with c constant, on the host (the tfjs policyGradient's function):
 * per block, h = tanh(W1ᵀx + b1), out = w2·h + b2, σ = |out|, so with s = sign(out)·c_j:
 * ∂b2 = s, ∂w2_m = s·h_m, ∂b1_m = s·w2_m·(1 − h_m²), ∂W1_{k,m} = ∂b1_m·x_k.
 */
export function policyGradientHost(policy: PertNN, x: ArrayLike<number>, c: ArrayLike<number>): { grads: PolicyGrads; gradNorm: number } {
  const n = policy.numBlocks;
  const H = policy.hidden;
  const I = policy.inputs;
  if (c.length !== n) throw new Error(`policyGradientHost: ${c.length} coefficients for ${n} blocks`);
  const out = policy.outputs(x);
  const { w1, b1, w2 } = policy.weights;
  const g: PolicyGrads = { w1: new Float32Array(w1.length), b1: new Float32Array(b1.length), w2: new Float32Array(w2.length), b2: new Float32Array(n) };
  for (let j = 0; j < n; j++) {
    const s = Math.sign(out[j]) * c[j];
    g.b2[j] = s;
    for (let m = 0; m < H; m++) {
      let a = b1[j * H + m];
      for (let k = 0; k < I; k++) a += x[j * I + k] * w1[j * I * H + k * H + m];
      const h = Math.tanh(a);
      g.w2[j * H + m] = s * h;
      const db = s * w2[j * H + m] * (1 - h * h);
      g.b1[j * H + m] = db;
      for (let k = 0; k < I; k++) g.w1[j * I * H + k * H + m] = db * x[j * I + k];
    }
  }
  return { grads: g, gradNorm: normOf(g) };
}

/** SGD on a host policy in place: ω ← ω − lr·∇_ω (float32, as applyPolicySgd). */
export function applyPolicySgdHost(policy: PertNN, grads: PolicyGrads, lr: number): void {
  const f = Math.fround;
  for (const k of ['w1', 'b1', 'w2', 'b2'] as const) {
    const w = policy.weights[k];
    const g = grads[k];
    for (let i = 0; i < w.length; i++) w[i] = f(w[i] - f(g[i] * lr));
  }
}

/** Validate SPSA options; one line naming the field. */
export function checkSpsaOptions(o: SpsaOptions): void {
  if (!(Number.isInteger(o.directions) && o.directions >= 1)) throw new Error(`spsa: directions must be an integer >= 1, got ${o.directions}`);
  if (!(o.scale > 0 && Number.isFinite(o.scale))) throw new Error(`spsa: scale must be a number > 0, got ${o.scale}`);
  if (o.space !== 'sigma' && o.space !== 'omega') throw new Error(`spsa: space must be sigma or omega, got ${String(o.space)}`);
}

/** One meta step's losses and the SPSA estimate of ∇_ω meta, forward passes only; θ is left bit for bit as it was, ω untouched. */
export async function spsaMetaGradient(input: HostMetaStepInput): Promise<HostMetaStepResult> {
  checkSpsaOptions(input.spsa);
  const { model, policy, batch, eps, metaLr, seed } = input;
  const { directions: K, scale: c, space } = input.spsa;
  const blocks = model.blocks;
  const sizes = sizeFactors(blocks, batch.packed);
  const features = policyFeatures(await blockStats(blocks), input.features, input.curvature);
  const sigma = policy.sigma(features);
  const nf = normFactor(sigma, sizes);
  const effective = Array.from(sigma, (s) => s * nf);
  const point = input.point ?? new HostStep(blocks);
  point.start(seed);
  let passes = 0;
  // L(θ + Σ_j scale_j·coef·z(s, j))
  const lossAlong = async (scaleJ: ArrayLike<number>, coef: number): Promise<number> => {
    point.moveTo(Float64Array.from(scaleJ, (v) => v * coef));
    passes++;
    return objectiveValue(model, batch);
  };
  try {
    const lossPlus = await lossAlong(effective, eps);
    const lossMinus = await lossAlong(effective, -eps);
    if (!Number.isFinite(lossPlus) || !Number.isFinite(lossMinus))
      throw new Error(`meta step: L+ = ${lossPlus}, L- = ${lossMinus}; the weights diverged (lower --eps or --meta-lr)`);
    const projectedGrad = (lossPlus - lossMinus) / (2 * eps);
    // meta at a given σ: a_j = −η·ĝ·nf·σ_j (nf recomputed from σ with nfGrad, as metaLossAt)
    const metaAt = (s: ArrayLike<number>) => {
      const n = input.nfGrad ? normFactor(s, sizes) : nf;
      return lossAlong(Float64Array.from(s, (v) => -metaLr * projectedGrad * n * v), 1);
    };
    const metaLoss = await metaAt(sigma);
    let grads: PolicyGrads;
    let dMetaDSigma: Float64Array | undefined;
    if (space === 'sigma') {
      const r = rms(sigma) || 1;
      const h = c * r;
      dMetaDSigma = new Float64Array(sigma.length);
      for (let k = 0; k < K; k++) {
        const d = rademacher(seed, k, sigma.length);
        const mp = await metaAt(Float64Array.from(sigma, (s, j) => s + h * d[j]));
        const mm = await metaAt(Float64Array.from(sigma, (s, j) => s - h * d[j]));
        const coef = (mp - mm) / (2 * h * K);
        for (let j = 0; j < d.length; j++) dMetaDSigma[j] += coef * d[j];
      }
      grads = policyGradientHost(policy, features, dMetaDSigma).grads;
    } else {
      const w = flatten(policy);
      const h = c * (rms(w) || 1);
      const acc = new Float64Array(w.length);
      const probe = policy.clone();
      const sigmaAt = (v: Float64Array) => {
        const g = unflatten(policy, v);
        for (const key of ['w1', 'b1', 'w2', 'b2'] as const) probe.weights[key].set(g[key]);
        return probe.sigma(features);
      };
      for (let k = 0; k < K; k++) {
        const d = rademacher(seed, k, w.length);
        const mp = await metaAt(sigmaAt(Float64Array.from(w, (v, i) => v + h * d[i])));
        const mm = await metaAt(sigmaAt(Float64Array.from(w, (v, i) => v - h * d[i])));
        const coef = (mp - mm) / (2 * h * K);
        for (let i = 0; i < d.length; i++) acc[i] += coef * d[i];
      }
      grads = unflatten(policy, acc);
    }
    return {
      features, sigma, sizes, nf, effective, lossPlus, lossMinus, projectedGrad, metaLoss,
      ...(dMetaDSigma ? { dMetaDSigma } : {}),
      grads, gradNorm: normOf(grads), forwardPasses: passes,
    };
  } finally {
    point.restore();
  }
}

/** How well an estimate b points along a reference a: cosine, and the share of a's nonzero entries whose sign b has. */
export function gradientAgreement(a: ArrayLike<number>, b: ArrayLike<number>): { cosine: number; signAgreement: number } {
  if (a.length !== b.length) throw new Error(`gradientAgreement: ${a.length} and ${b.length} entries`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  let same = 0;
  let nonzero = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    if (a[i] !== 0) {
      nonzero++;
      if (Math.sign(a[i]) === Math.sign(b[i])) same++;
    }
  }
  return { cosine: aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0, signAgreement: nonzero ? same / nonzero : 0 };
}

/** The four arrays of a policy gradient end to end [w1, b1, w2, b2] (gradientAgreement's input). */
export function flatGrads(g: PolicyGrads): Float64Array {
  const out = new Float64Array(g.w1.length + g.b1.length + g.w2.length + g.b2.length);
  let o = 0;
  for (const a of [g.w1, g.b1, g.w2, g.b2]) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}
