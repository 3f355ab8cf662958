// Bridging the two kinds of objective: ZO estimators need a number per forward pass (lossValue),
// Adam needs a differentiable tf function (lossTensor). A tf objective serves both.
import * as tf from '@tensorflow/tfjs-core';
import type { LossTensor } from './adam';
import type { LossValue } from './step';

/** lossValue from a tf objective: run it in tidy, read the scalar back, free it. */
export function lossValueOf(lossTensor: LossTensor): LossValue {
  return async () => {
    const t = tf.tidy(lossTensor);
    try {
      return (await t.data())[0];
    } finally {
      t.dispose();
    }
  };
}
