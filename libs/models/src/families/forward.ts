// The forward of any family in plain tfjs ops (differentiable, any backend), walking its Arch: token
// (+ learned position) embedding, per layer attention and FFN with the family's norm placement,
// activation and biases. LLaMA and Qwen2 run LlamaModel's fused-kernel path instead; this path serves
// the LayerNorm families (OPT, GPT-2). The ONNX graph (libs/ort/src/arch-graph.ts) follows the same
// roles in the same order of operations.
import * as tf from '@tensorflow/tfjs-core';
import type { PackedBatch } from '../batch';
import { attentionOps } from '../llama/attention';
import { attentionBias } from '../llama/mask';
import { applyRope, type RopeTables } from '../llama/rope';
import type { AttentionPrefix, LlamaConfig } from '../types';
import type { Arch, Param } from './arch';

export type PlainBatch = Pick<PackedBatch, 'batch' | 'length' | 'tokens' | 'positions' | 'segments'>;

/** The model's weights by Hugging Face name (matrices [in, out]). */
export type Weights = (name: string) => tf.Tensor;

/** GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))). */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** norm(x) over the last axis: RMSNorm x·rsqrt(mean(x²)+eps)·w, or LayerNorm (x−μ)·rsqrt(var+eps)·w + b. */
export function archNorm(arch: Arch, eps: number, W: Weights, x: tf.Tensor2D, p: Param): tf.Tensor2D {
  if (arch.norm === 'rms') return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), W(p.w)) as tf.Tensor2D;
  const { mean, variance } = tf.moments(x, -1, true); // [N, 1] each (biased variance, as torch)
  const y = tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), W(p.w)) as tf.Tensor2D;
  return p.b ? (tf.add(y, W(p.b)) as tf.Tensor2D) : y;
}

function linear(W: Weights, x: tf.Tensor2D, p: Param): tf.Tensor2D {
  const y = tf.matMul(x, W(p.w) as tf.Tensor2D) as tf.Tensor2D;
  return p.b ? (tf.add(y, W(p.b)) as tf.Tensor2D) : y;
}

/**
 * Final hidden states before the final norm: [B·T, dim], or [n, dim] at the flat rows `select` only
 * (after the last attention only those rows are carried). `rope` is needed by rotary families;
 * `prefix` (prefix tuning) puts its keys and values before every row's own, the tokens keeping their
 * positions. Call inside tf.tidy.
 */
export function archHidden(arch: Arch, c: LlamaConfig, W: Weights, batch: PlainBatch, select?: Int32Array, rope?: RopeTables, prefix?: AttentionPrefix): tf.Tensor2D {
  const { batch: B, length: T } = batch;
  const N = B * T;
  const { nHeads: nh, nKvHeads: nkv, normEps: eps } = c;
  const hd = c.dim / nh;
  let x = tf.gather(W(arch.embed), tf.tensor1d(batch.tokens, 'int32')) as tf.Tensor2D; // [N, dim]
  if (arch.positions === 'learned') {
    // learned table row p + offset (OPT: 2); packed candidates restart their positions, so each sees its own
    const rows = Int32Array.from(batch.positions, (p) => p + arch.posOffset);
    x = tf.add(x, tf.gather(W(arch.posEmbed!), tf.tensor1d(rows, 'int32')));
  }
  let cos: tf.Tensor3D | undefined;
  let sin: tf.Tensor3D | undefined;
  if (arch.positions === 'rope') {
    if (!rope) throw new Error(`${arch.family}: rotary positions need RoPE tables`);
    const pos = tf.tensor1d(batch.positions, 'int32');
    cos = tf.reshape(tf.gather(rope.cos, pos), [N, 1, hd]) as tf.Tensor3D; // [N, 1, hd]
    sin = tf.reshape(tf.gather(rope.sin, pos), [N, 1, hd]) as tf.Tensor3D;
  }
  const scale = 1 / Math.sqrt(hd);
  const P = prefix?.tokens ?? 0;
  const bias = tf.tensor4d(attentionBias(B, T, batch.segments, P), [B, 1, T, P + T]); // [B, 1, T, P + T]
  const prefixAt = (l: number) => prefix && { keys: tf.tensor2d(prefix.keys[l], [P, nkv * hd]), values: tf.tensor2d(prefix.values[l], [P, nkv * hd]) };
  const shape = { batch: B, length: T, nHeads: nh, nKvHeads: nkv, headDim: hd };
  const sel = select && tf.tensor1d(select, 'int32');
  const norm = (v: tf.Tensor2D, p: Param) => archNorm(arch, eps, W, v, p);
  arch.layers.forEach((layer, l) => {
    const h = arch.preNorm ? norm(x, layer.ln1) : x; // [N, dim]
    const qkv =
      layer.qkv.length === 1
        ? (tf.split(linear(W, h, layer.qkv[0]), [nh * hd, nkv * hd, nkv * hd], 1) as tf.Tensor2D[]) // fused q|k|v
        : layer.qkv.map((p) => linear(W, h, p)); // [N, nh·hd], [N, nkv·hd] ×2
    let [q, k] = qkv;
    const v = qkv[2];
    if (cos && sin && rope) {
      q = tf.reshape(applyRope(tf.reshape(q, [N, nh, hd]) as tf.Tensor3D, cos, sin, rope.rot), [N, nh * hd]);
      k = tf.reshape(applyRope(tf.reshape(k, [N, nkv, hd]) as tf.Tensor3D, cos, sin, rope.rot), [N, nkv * hd]);
    }
    let att = attentionOps(tf.mul(q, scale), k, v, bias, shape, prefixAt(l)); // [N, nh·hd]
    if (sel && l === arch.layers.length - 1) {
      x = tf.gather(x, sel) as tf.Tensor2D; // [n, dim]
      att = tf.gather(att, sel) as tf.Tensor2D;
    }
    x = tf.add(x, linear(W, att, layer.o));
    if (!arch.preNorm) x = norm(x, layer.ln1);
    const h2 = arch.preNorm ? norm(x, layer.ln2) : x;
    const up = linear(W, h2, layer.up); // [N, hidden]
    let act: tf.Tensor2D;
    if (arch.act === 'swiglu') {
      const gate = linear(W, h2, layer.gate!);
      act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
    } else act = (arch.act === 'relu' ? tf.relu(up) : geluNew(up)) as tf.Tensor2D;
    x = tf.add(x, linear(W, act, layer.down));
    if (!arch.preNorm) x = norm(x, layer.ln2);
  });
  return x;
}
