// Bridging the two kinds of objective: ZO estimators need a number per forward pass (lossValue),
// Adam needs a differentiable tf function (lossTensor). A tf objective serves both.
import * as tf from '@tensorflow/tfjs-core';
import type { LossTensor } from './adam';

/** lossValue from a tf objective: run it in tidy, read the scalar back, free it. */
export function lossValueOf(lossTensor: LossTensor): () => Promise<number> {
  return async () => {
    const t = tf.tidy(lossTensor);
    try {
      return (await t.data())[0];
    } finally {
      t.dispose();
    }
  };
}
