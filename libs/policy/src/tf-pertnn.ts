// PertNN as tf.Variables, differentiable: the form the meta-trainer backpropagates a look-ahead loss
// into (ALGORITHMS.md §5). All blocks are batched in a handful of ops:
//   h   = tanh(Σ_k x[:, k, None] · W1[:, k, :] + b1)   // [blocks, hidden]
//   out = Σ_m h · W2 + b2                               // [blocks]
//   σ   = |out|
// nf is computed from σ and then treated as a constant (normFactorTensor has zero gradient), so the
// gradient of σ·nf reaches the weights only through σ.
import * as tf from '@tensorflow/tfjs-core';
import { PertNN } from './pertnn';

/** Identity forward, zero gradient (tfjs-core has no stop_gradient). */
const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor),
})) as (x: tf.Tensor) => tf.Tensor;

let instances = 0;

export class TfPertNN {
  /** [blocks, inputs, hidden] */
  readonly w1: tf.Variable;
  /** [blocks, hidden] */
  readonly b1: tf.Variable;
  /** [blocks, hidden] */
  readonly w2: tf.Variable;
  /** [blocks] */
  readonly b2: tf.Variable;

  private constructor(
    readonly blockNames: readonly string[],
    readonly hidden: number,
    /** features per block (5, or 6 with curvature) */
    readonly inputs: number,
    p: PertNN,
    trainable: boolean,
  ) {
    const n = blockNames.length;
    const id = `pertnn${++instances}`;
    const v = (data: Float32Array, shape: number[], name: string) => {
      const t = tf.tensor(data, shape, 'float32');
      const variable = tf.variable(t, trainable, `${id}/${name}`);
      t.dispose();
      return variable;
    };
    this.w1 = v(p.weights.w1, [n, inputs, hidden], 'w1');
    this.b1 = v(p.weights.b1, [n, hidden], 'b1');
    this.w2 = v(p.weights.w2, [n, hidden], 'w2');
    this.b2 = v(p.weights.b2, [n], 'b2');
  }

  /** Variables holding a copy of the policy's weights (trainable unless told otherwise). */
  static fromPolicy(p: PertNN, opts: { trainable?: boolean } = {}): TfPertNN {
    return new TfPertNN([...p.blockNames], p.hidden, p.inputs, p, opts.trainable ?? true);
  }

  get numBlocks(): number {
    return this.blockNames.length;
  }

  /** The variables, in the order w1, b1, w2, b2 (for tf.variableGrads / optimisers). */
  get variables(): tf.Variable[] {
    return [this.w1, this.b1, this.w2, this.b2];
  }

  /** Raw MLP outputs [blocks] for features x [blocks, inputs]. Call inside tf.tidy. */
  outputs(x: tf.Tensor2D | Float32Array): tf.Tensor1D {
    const n = this.numBlocks;
    if (x instanceof Float32Array && x.length !== n * this.inputs)
      throw new Error(`TfPertNN: features hold ${x.length} values, ${n} blocks × ${this.inputs} inputs need ${n * this.inputs}`);
    const xt = x instanceof Float32Array ? tf.tensor2d(x, [n, this.inputs]) : x; // [blocks, inputs]
    if (xt.shape[0] !== n || xt.shape[1] !== this.inputs)
      throw new Error(`TfPertNN: features have shape [${xt.shape.join(',')}], expected [${n},${this.inputs}]`);
    const pre = tf.add(tf.sum(tf.mul(tf.expandDims(xt, 2), this.w1), 1), this.b1); // [blocks, hidden]
    const h = tf.tanh(pre); // [blocks, hidden]
    return tf.add(tf.sum(tf.mul(h, this.w2), 1), this.b2) as tf.Tensor1D; // [blocks]
  }

  /** σ = |MLP(x)| [blocks], differentiable in the weights. Call inside tf.tidy. */
  sigma(x: tf.Tensor2D | Float32Array): tf.Tensor1D {
    return tf.abs(this.outputs(x));
  }

  /** Overwrite the variables with a policy's weights (same blocks and width). */
  assignFrom(p: PertNN): void {
    if (p.numBlocks !== this.numBlocks || p.hidden !== this.hidden || p.inputs !== this.inputs)
      throw new Error(`TfPertNN: cannot assign a policy of ${p.numBlocks} blocks × ${p.inputs} inputs × hidden ${p.hidden} to ${this.numBlocks} × ${this.inputs} × ${this.hidden}`);
    const n = this.numBlocks;
    tf.tidy(() => {
      this.w1.assign(tf.tensor3d(p.weights.w1, [n, this.inputs, this.hidden]));
      this.b1.assign(tf.tensor2d(p.weights.b1, [n, this.hidden]));
      this.w2.assign(tf.tensor2d(p.weights.w2, [n, this.hidden]));
      this.b2.assign(tf.tensor1d(p.weights.b2));
    });
  }

  /** The current weights as a frozen plain-JS policy (for fine-tuning and artifacts). */
  async toPolicy(): Promise<PertNN> {
    const [w1, b1, w2, b2] = (await Promise.all(this.variables.map((v) => v.data()))) as Float32Array[];
    return new PertNN([...this.blockNames], this.hidden, { w1: w1.slice(), b1: b1.slice(), w2: w2.slice(), b2: b2.slice() }, this.inputs);
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

/** nf = sqrt(Σ f_j) / sqrt(Σ f_j σ_j²) as a scalar tensor with zero gradient. Call inside tf.tidy. */
export function normFactorTensor(sigma: tf.Tensor1D, f: ArrayLike<number>): tf.Scalar {
  if (sigma.shape[0] !== f.length) throw new Error(`normFactorTensor: ${sigma.shape[0]} σ for ${f.length} size factors`);
  let sf = 0;
  for (let j = 0; j < f.length; j++) sf += f[j];
  const ft = tf.tensor1d(Float32Array.from(f)); // [blocks]
  const s = stopGradient(sigma); // [blocks]
  return tf.div(Math.sqrt(sf), tf.sqrt(tf.sum(tf.mul(ft, tf.square(s))))) as tf.Scalar;
}

/** σ_j·nf [blocks] with nf a constant: the gradient reaches the weights only through σ. Call inside tf.tidy. */
export function effectiveSigmaTensor(sigma: tf.Tensor1D, f: ArrayLike<number>): tf.Tensor1D {
  return tf.mul(sigma, normFactorTensor(sigma, f));
}
