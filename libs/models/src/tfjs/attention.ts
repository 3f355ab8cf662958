// Grouped-query attention with tfjs ops (differentiable; the path used under tf.grad and on backends
// without the fused wasm kernel). Query heads are grouped by the kv head they share, so K and V are
// never repeated: q [B·nkv, g·T, hd] against k, v [B·nkv, T, hd].
import * as tf from '@tensorflow/tfjs-core';

export interface AttentionShape {
  batch: number;
  length: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

/**
 * q [N, nh·hd] (rotated and already scaled by 1/sqrt(hd)), k, v [N, nkv·hd], bias [B, 1, T, S]
 * → [N, nh·hd], with N = B·T. With prefix tuning's keys and values ([P, nkv·hd] each, the same for
 * every row, no RoPE) the keys are [prefix, tokens] and S = P + T; else S = T.
 */
export function attentionOps(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, bias: tf.Tensor4D, s: AttentionShape, prefix?: { keys: tf.Tensor2D; values: tf.Tensor2D }): tf.Tensor2D {
  const { batch: B, length: T, nHeads: nh, nKvHeads: nkv, headDim: hd } = s;
  const g = nh / nkv;
  // HF repeat_kv: query head h uses kv head floor(h / g)
  const qg = tf.reshape(tf.transpose(tf.reshape(q, [B, T, nkv, g, hd]), [0, 2, 3, 1, 4]), [B * nkv, g * T, hd]); // [B·nkv, g·T, hd]
  let kg = tf.reshape(tf.transpose(tf.reshape(k, [B, T, nkv, hd]), [0, 2, 1, 3]), [B * nkv, T, hd]); // [B·nkv, T, hd]
  let vg = tf.reshape(tf.transpose(tf.reshape(v, [B, T, nkv, hd]), [0, 2, 1, 3]), [B * nkv, T, hd]); // [B·nkv, T, hd]
  let S = T;
  if (prefix) {
    const P = prefix.keys.shape[0];
    const rows = (x: tf.Tensor2D) => tf.reshape(tf.tile(tf.transpose(tf.reshape(x, [1, P, nkv, hd]), [0, 2, 1, 3]), [B, 1, 1, 1]), [B * nkv, P, hd]); // [B·nkv, P, hd]
    kg = tf.concat([rows(prefix.keys), kg], 1); // [B·nkv, P + T, hd]
    vg = tf.concat([rows(prefix.values), vg], 1);
    S = P + T;
  }
  const scores = tf.reshape(tf.matMul(qg, kg, false, true), [B, nh, T, S]); // [B, nh, T, S]
  const p = tf.reshape(tf.softmax(tf.add(scores, bias)), [B * nkv, g * T, S]); // [B·nkv, g·T, S]
  const o = tf.reshape(tf.matMul(p, vg), [B, nkv, g, T, hd]); // [B, nkv, g, T, hd]
  return tf.reshape(tf.transpose(o, [0, 3, 1, 2, 4]), [B * T, nh * hd]);
}
