// The rotary tables as tfjs tensors and their application (see ../rope.ts for the rotate_half form).
import * as tf from '@tensorflow/tfjs-core';
import { ropeHost } from '../rope';

export interface RopeTables {
  /** [maxSeqLen, hd] cos(p·f(d mod hd/2)) */
  cos: tf.Tensor2D;
  /** [maxSeqLen, hd] -sin for the first half, +sin for the second */
  sin: tf.Tensor2D;
  /** [hd, hd] permutation: x · rot = x[perm], a cheap 2-D matMul (wasm's gather on the last axis is slow) */
  rot: tf.Tensor2D;
  /** host copies, for kernels outside tfjs */
  cosHost: Float32Array;
  sinHost: Float32Array;
}

/** Tables for positions 0..maxSeqLen-1. Computed in float64 then rounded, like llama2.c's float path. */
export function ropeTables(headDim: number, maxSeqLen: number, theta: number): RopeTables {
  const half = headDim / 2;
  const { cosHost, sinHost } = ropeHost(headDim, maxSeqLen, theta);
  const rot = new Float32Array(headDim * headDim);
  for (let d = 0; d < headDim; d++) rot[((d + half) % headDim) * headDim + d] = 1; // column d picks x[perm(d)]
  return {
    cos: tf.tensor2d(cosHost, [maxSeqLen, headDim]),
    sin: tf.tensor2d(sinHost, [maxSeqLen, headDim]),
    rot: tf.tensor2d(rot, [headDim, headDim]),
    cosHost,
    sinHost,
  };
}

export function disposeRope(t: RopeTables): void {
  t.cos.dispose();
  t.sin.dispose();
  t.rot.dispose();
}

/**
 * Rotate x [N, heads, hd] by the per-row tables cos, sin [N, 1, hd] (gathered by position once per
 * batch and shared by all layers).
 */
export function applyRope(x: tf.Tensor3D, cos: tf.Tensor3D, sin: tf.Tensor3D, rot: tf.Tensor2D): tf.Tensor3D {
  const [n, heads, hd] = x.shape;
  const partner = tf.reshape(tf.matMul(tf.reshape(x, [n * heads, hd]), rot), [n, heads, hd]); // x[perm]
  return tf.add(tf.mul(x, cos), tf.mul(partner, sin));
}
