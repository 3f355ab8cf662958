// The first-order trajectory of θ during meta-training (ALGORITHMS.md §5): SGD with momentum and
// gradient clipping at a global norm, PyTorch semantics:
//   g ← g · min(1, clip / (‖g‖ + 1e-6));  buf ← μ·buf + g;  θ ← θ − lr·buf
// The learning rate is the caller's (it decays within each reset period, see plan.ts).
import * as tf from '@tensorflow/tfjs-core';
// @zotune/models registers tfjs-core's gradients when it loads (the node bundle of tfjs-core has none)
import '@zotune/models';
import type { Block } from '@zotune/models';
import { tfVar } from './tf-var';

export interface MomentumSgdOptions {
  /** μ (0.8 in the reference) */
  momentum: number;
  /** max global gradient norm (1.0 in the reference) */
  clipNorm: number;
}

export interface SgdStepResult {
  /** L(θ; B) before the update */
  loss: number;
  /** global gradient norm before clipping */
  gradNorm: number;
}

export class MomentumSgd {
  /** one buffer per block, in block order, same shape as the block */
  private readonly buffers: tf.Variable[];

  constructor(
    private readonly blocks: readonly Block[],
    private readonly opts: MomentumSgdOptions,
  ) {
    this.buffers = blocks.map((b) => tf.variable(tf.zeros(b.shape), false));
  }

  /** One step on a differentiable loss of the blocks (one forward and one backward pass). */
  async step(lossTensor: () => tf.Scalar, lr: number): Promise<SgdStepResult> {
    const vars = this.blocks.map((b) => tfVar(b));
    const { value, grads } = tf.variableGrads(lossTensor, vars);
    try {
      // a block the loss does not touch has no gradient: it counts as zero
      const sq = tf.tidy(() => tf.addN(vars.map((v) => (grads[v.name] ? tf.sum(tf.square(grads[v.name])) : tf.scalar(0)))));
      const gradNorm = Math.sqrt((await sq.data())[0]);
      sq.dispose();
      const loss = (await value.data())[0];
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm))
        throw new Error(`meta-training: the first-order step's loss is ${loss} (gradient norm ${gradNorm}); lower --lr-llm`);
      const clip = Math.min(1, this.opts.clipNorm / (gradNorm + 1e-6));
      tf.tidy(() => {
        this.blocks.forEach((b, j) => {
          const buf = this.buffers[j];
          const raw = grads[tfVar(b).name];
          const decayed = tf.mul(buf, this.opts.momentum);
          buf.assign(raw ? tf.add(decayed, clip === 1 ? raw : tf.mul(raw, clip)) : decayed);
          tfVar(b).assign(tf.sub(tfVar(b), tf.mul(buf, lr)));
        });
      });
      return { loss, gradNorm };
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  /** Zero the momentum (at every reset of θ). */
  reset(): void {
    tf.tidy(() => this.buffers.forEach((b) => b.assign(tf.zerosLike(b))));
  }

  /** The momentum buffers as host arrays (checkpoints). */
  async state(): Promise<Float32Array[]> {
    return Promise.all(this.buffers.map(async (b) => (await b.data()) as Float32Array));
  }

  /** Restore the momentum buffers (resume). */
  load(state: readonly Float32Array[]): void {
    if (state.length !== this.buffers.length) throw new Error(`momentum state: ${state.length} buffers for ${this.buffers.length} blocks`);
    tf.tidy(() => {
      this.buffers.forEach((b, j) => {
        if (state[j].length !== b.size) throw new Error(`momentum state: block ${this.blocks[j].name} holds ${state[j].length} values, expected ${b.size}`);
        b.assign(tf.tensor(state[j], b.shape, 'float32'));
      });
    });
  }

  dispose(): void {
    tf.dispose(this.buffers);
  }
}
