// PertNN (ALGORITHMS.md §4): one tiny MLP per block, Linear(I→H) → tanh → Linear(H→1), σ_j = |out|,
// I = 5 features (the paper's set) or 6 (with the block's relative curvature: features.ts).
// This is the frozen, plain-JS form used while fine-tuning: a few thousand multiply-adds per step, no
// tensors. The differentiable tfjs form (tf-pertnn.ts) holds the same numbers in tf.Variables.
//
// Layout (the artifact's, policy-schema.ts): per block j, w1 is [inputs, hidden] row-major
// (w1[k·H + m] is the weight from feature k to hidden unit m), b1 [hidden], w2 [hidden], b2 [1].
// Here all blocks are packed end to end: w1 [blocks, inputs, hidden], b1 [blocks, hidden],
// w2 [blocks, hidden], b2 [blocks].
//
// Initialisation (initPertNN) mirrors PyTorch's nn.Linear default: every weight and bias of a layer
// with fan-in n is uniform in [−1/√n, 1/√n) (kaiming_uniform with a = √5 gives exactly that bound for
// weights; biases use the same bound). So w1, b1 ~ U(±1/√5) and w2, b2 ~ U(±1/√H). The uniforms are a
// pure function of (seed, tensor, block, element): hash32 of the element index keyed by
// noiseKeys(deriveSeed(seed, tensor), block) from @zotune/tensor, top 24 bits → [0, 1). Never Math.random.
import { POLICY_FEATURE_SETS } from '@zotune/artifacts';
import { deriveSeed, hash32, noiseKeys } from '@zotune/tensor';

/** Features per block of the paper's set: mean(θ_j), unbiased var(θ_j), L⁺_{t−1}, L⁻_{t−1}, σ_{j,t−1}. */
export const POLICY_INPUTS: number = POLICY_FEATURE_SETS.base;
/** Features per block of the curvature set: the paper's five, then the block's relative curvature κ_j (features.ts). */
export const CURVATURE_INPUTS: number = POLICY_FEATURE_SETS.curvature;
/** Hidden width of the paper's PertNN. */
export const DEFAULT_HIDDEN = 64;

/** The packed weights of every block's MLP. */
export interface PertNNWeights {
  /** [blocks, inputs, hidden] */
  w1: Float32Array;
  /** [blocks, hidden] */
  b1: Float32Array;
  /** [blocks, hidden] */
  w2: Float32Array;
  /** [blocks] */
  b2: Float32Array;
}

export class PertNN {
  /**
   * @param blockNames the model's block names in block order (one MLP each)
   * @param hidden hidden width H
   * @param weights packed weights (taken, not copied)
   * @param inputs features per block I (5, or 6 with curvature)
   */
  constructor(
    readonly blockNames: readonly string[],
    readonly hidden: number,
    readonly weights: PertNNWeights,
    readonly inputs: number = POLICY_INPUTS,
  ) {
    if (!Number.isInteger(hidden) || hidden < 1) throw new Error(`PertNN: hidden must be an integer >= 1, got ${hidden}`);
    if (!Number.isInteger(inputs) || inputs < 1) throw new Error(`PertNN: inputs must be an integer >= 1, got ${inputs}`);
    const n = blockNames.length;
    const want = { w1: n * inputs * hidden, b1: n * hidden, w2: n * hidden, b2: n };
    for (const k of ['w1', 'b1', 'w2', 'b2'] as const) {
      if (weights[k].length !== want[k])
        throw new Error(`PertNN: ${k} holds ${weights[k].length} floats, ${n} blocks of hidden ${hidden} need ${want[k]}`);
    }
  }

  get numBlocks(): number {
    return this.blockNames.length;
  }

  /** Number of policy weights. */
  get parameters(): number {
    return this.numBlocks * (this.inputs * this.hidden + 2 * this.hidden + 1);
  }

  /** One block's arrays as views (w1 [inputs, hidden], b1 [hidden], w2 [hidden], b2 [1]). */
  block(j: number): PertNNWeights {
    const H = this.hidden;
    const I = this.inputs;
    return {
      w1: this.weights.w1.subarray(j * I * H, (j + 1) * I * H),
      b1: this.weights.b1.subarray(j * H, (j + 1) * H),
      w2: this.weights.w2.subarray(j * H, (j + 1) * H),
      b2: this.weights.b2.subarray(j, j + 1),
    };
  }

  /** Raw output of every block's MLP (before the absolute value). x: [blocks, inputs] row-major. */
  outputs(x: ArrayLike<number>): Float64Array {
    const n = this.numBlocks;
    const H = this.hidden;
    const I = this.inputs;
    if (x.length !== n * I) throw new Error(`PertNN: features hold ${x.length} values, ${n} blocks need ${n * I}`);
    const { w1, b1, w2, b2 } = this.weights;
    const out = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const xo = j * I;
      const wo = j * I * H;
      const ho = j * H;
      let acc = b2[j];
      for (let m = 0; m < H; m++) {
        let a = b1[ho + m];
        for (let k = 0; k < I; k++) a += x[xo + k] * w1[wo + k * H + m];
        acc += Math.tanh(a) * w2[ho + m];
      }
      out[j] = acc;
    }
    return out;
  }

  /** σ_j = |MLP_j(x_j)| for every block. x: [blocks, inputs] row-major. */
  sigma(x: ArrayLike<number>): Float64Array {
    return this.outputs(x).map(Math.abs);
  }

  /** A deep copy. */
  clone(): PertNN {
    const { w1, b1, w2, b2 } = this.weights;
    return new PertNN([...this.blockNames], this.hidden, { w1: w1.slice(), b1: b1.slice(), w2: w2.slice(), b2: b2.slice() }, this.inputs);
  }
}

/** Uniform in [−bound, bound) for element k of `tensor` of block j: a pure function of its arguments. */
function uniformFill(out: Float32Array, seed: number, tensor: number, block: number, bound: number): void {
  const [k0, k1] = noiseKeys(deriveSeed(seed, tensor), block);
  for (let k = 0; k < out.length; k++) {
    const u = (hash32(k, k0, k1) >>> 8) / 16777216; // [0, 1), 24 bits
    out[k] = (2 * u - 1) * bound;
  }
}

/** A freshly initialised policy (PyTorch nn.Linear default init, seeded; see the file comment). */
export function initPertNN(blockNames: readonly string[], opts: { seed: number; hidden?: number; inputs?: number }): PertNN {
  const H = opts.hidden ?? DEFAULT_HIDDEN;
  const I = opts.inputs ?? POLICY_INPUTS;
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) throw new Error(`initPertNN: seed must be a uint32, got ${opts.seed}`);
  if (!Number.isInteger(H) || H < 1) throw new Error(`initPertNN: hidden must be an integer >= 1, got ${H}`);
  const n = blockNames.length;
  const w = { w1: new Float32Array(n * I * H), b1: new Float32Array(n * H), w2: new Float32Array(n * H), b2: new Float32Array(n) };
  const p = new PertNN([...blockNames], H, w, I);
  const bound1 = 1 / Math.sqrt(I);
  const bound2 = 1 / Math.sqrt(H);
  for (let j = 0; j < n; j++) {
    const b = p.block(j);
    uniformFill(b.w1, opts.seed, 0, j, bound1);
    uniformFill(b.b1, opts.seed, 1, j, bound1);
    uniformFill(b.w2, opts.seed, 2, j, bound2);
    uniformFill(b.b2, opts.seed, 3, j, bound2);
  }
  return p;
}
