// The first-order baseline: Adam on tfjs autodiff (tf.variableGrads), with decoupled weight decay on
// embedding and matrix blocks only. It needs the objective as a differentiable tf function (lossTensor),
// not a number closure, and it keeps activations and two moment tensors per block: its memory is what
// zeroth-order fine-tuning avoids.
import * as tf from '@tensorflow/tfjs-core';
// @zotune/models registers tfjs-core's gradients when it loads (the node bundle of tfjs-core has none)
import { blockVariable, type Block } from '@zotune/models';
import { decays } from './update';

/** The objective as a tf function of the current weights: a scalar loss, differentiable in the blocks. */
export type LossTensor = () => tf.Scalar;

export interface AdamOptions {
  /** learning rate */
  lr: number;
  /** first-moment decay (default 0.9) */
  beta1?: number;
  /** second-moment decay (default 0.999) */
  beta2?: number;
  /** denominator epsilon (default 1e-8) */
  epsilon?: number;
  /** decoupled weight decay λ (AdamW), embedding and matrix blocks only (default 0) */
  weightDecay?: number;
}

export interface AdamRecord {
  step: number;
  /** loss before the update */
  loss: number;
  forwardPasses: number;
  backwardPasses: number;
}

export interface Adam {
  /** one forward and backward pass on lossTensor, then the Adam update */
  step(input: { lossTensor: LossTensor; step: number }): Promise<AdamRecord>;
  /** free the moment tensors */
  dispose(): void;
}

export function createAdam(blocks: readonly Block[], opts: AdamOptions): Adam {
  const { lr, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, weightDecay = 0 } = opts;
  if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`adam: lr must be a finite number > 0, got ${lr}`);
  const vars = blocks.map((b) => blockVariable(b, 'adam'));
  const untrainable = blocks.find((b, j) => !vars[j].trainable);
  if (untrainable) throw new Error(`adam: block ${untrainable.name} is not trainable (create the model's variables trainable for first-order training)`);
  const optimizer = tf.train.adam(lr, beta1, beta2, epsilon);
  const decayed = vars.filter((_, j) => weightDecay > 0 && decays(blocks[j]));
  return {
    async step({ lossTensor, step }) {
      const { value, grads } = tf.variableGrads(lossTensor, vars);
      const present: { name: string; tensor: tf.Tensor }[] = [];
      for (const [name, tensor] of Object.entries(grads)) if (tensor) present.push({ name, tensor });
      let loss: number;
      try {
        loss = (await value.data())[0];
        if (!Number.isFinite(loss)) throw new Error(`adam: step ${step}: loss is ${loss}; the run diverged, lower lr`);
        optimizer.applyGradients(present);
      } finally {
        value.dispose();
        tf.dispose(present.map((g) => g.tensor));
      }
      if (decayed.length) {
        // AdamW: θ ← θ − lr·λ·θ after the Adam step
        tf.tidy(() => {
          for (const v of decayed) v.assign(tf.mul(v, 1 - lr * weightDecay));
        });
      }
      return { step, loss, forwardPasses: 1, backwardPasses: 1 };
    },
    dispose() {
      optimizer.dispose();
    },
  };
}
