// The fused wasm kernels against the tfjs ops they replace, on shapes that exercise every vector path
// and scalar tail (dims not multiples of 4, head dims 6, 8, 12, 16, 48, packed segments, padding).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { packBatch } from '../../batch';
import { attentionOps } from '../attention';
import { attentionBias } from '../../mask';
import { applyRope, disposeRope, ropeTables } from '../rope';
import { registerGradients } from './gradients';
import { attentionFused, attentionFusedWithGrad, gatherRowsFused, rmsNormFused, swigluFused, transpose2d, wasmKernelsAvailable } from './wasm-kernels';

const onWasm = tf.getBackend() === 'wasm';
registerGradients();

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('llama-kernels.generated.ts', () => {
  it('holds exactly the bytes a fresh build of the .as sources gives', () => {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'build-kernels.mjs');
    const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe.runIf(onWasm)('wasm kernels', () => {
  it('are available on the wasm backend', () => {
    expect(wasmKernelsAvailable()).toBe(true);
  });

  it('transpose2d, gatherRows, rmsnorm and swiglu match tfjs ops', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([37, 70], 0, 1, 'float32', 1) as tf.Tensor2D;
      expect(maxAbsDiff(transpose2d(x), tf.transpose(x))).toBe(0);
      const ids = tf.tensor1d([3, 0, 36, 3, 17], 'int32');
      expect(maxAbsDiff(gatherRowsFused(x, ids), tf.gather(x, ids))).toBe(0);
      const w = tf.randomNormal([70], 1, 0.1, 'float32', 2);
      const ref = tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), w);
      expect(maxAbsDiff(rmsNormFused(x, w, 1e-5), ref)).toBeLessThan(1e-5);
      const gu = tf.mul(tf.randomNormal([9, 2 * 39], 0, 1, 'float32', 3), 6) as tf.Tensor2D; // wide range: exp's clamps
      const [g, u] = tf.split(gu, 2, 1);
      expect(maxAbsDiff(swigluFused(gu), tf.mul(tf.mul(g, tf.sigmoid(g)), u))).toBeLessThan(2e-5);
    });
  });

  const cases: [number, number, number][] = [
    [4, 2, 6],
    [8, 4, 8],
    [3, 1, 12],
    [2, 2, 16],
    [2, 1, 48],
  ];
  it.each(cases)('attention (nh %i, nkv %i, hd %i) matches RoPE + attention in tfjs ops on a packed batch, gradient included', (nh, nkv, hd) => {
    // three rows: prompt + 2 candidates, different lengths, so padding and segments are all exercised
    const batch = packBatch(
      [[1, 2, 3, 4, 5, 6, 7], [1, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
      [[[8, 9], [10]], [[3, 4, 5], [6, 7]], [[12], [13, 14, 15, 16]]],
    );
    const { batch: B, length: T } = batch;
    const N = B * T;
    const rope = ropeTables(hd, 64, 10000);
    tf.tidy(() => {
      const qkv = tf.randomNormal([N, (nh + 2 * nkv) * hd], 0, 1, 'float32', hd) as tf.Tensor2D;
      const pos = tf.tensor1d(batch.positions, 'int32');
      const cos = tf.reshape(tf.gather(rope.cos, pos), [N, 1, hd]) as tf.Tensor3D;
      const sin = tf.reshape(tf.gather(rope.sin, pos), [N, 1, hd]) as tf.Tensor3D;
      const [q, k, v] = tf.split(qkv, [nh * hd, nkv * hd, nkv * hd], 1) as tf.Tensor2D[];
      const qr = tf.mul(applyRope(tf.reshape(q, [N, nh, hd]) as tf.Tensor3D, cos, sin, rope.rot), 1 / Math.sqrt(hd));
      const kr = applyRope(tf.reshape(k, [N, nkv, hd]) as tf.Tensor3D, cos, sin, rope.rot);
      const bias = tf.tensor4d(attentionBias(B, T, batch.segments), [B, 1, T, T]);
      const shape = { batch: B, length: T, nHeads: nh, nKvHeads: nkv, headDim: hd };
      const ref = attentionOps(tf.reshape(qr, [N, nh * hd]) as tf.Tensor2D, tf.reshape(kr, [N, nkv * hd]) as tf.Tensor2D, v, bias, shape);
      const got = attentionFused(qkv, pos, tf.tensor1d(batch.segments, 'int32'), rope.cos, rope.sin, { ...shape, scale: 1 / Math.sqrt(hd) });
      // compare the non-padding rows (the kernel writes zeros for padding queries)
      const keep = tf.tensor1d(Int32Array.from(Array.from(batch.segments).flatMap((s, i) => (s === -1 ? [] : [i]))), 'int32');
      expect(maxAbsDiff(tf.gather(got, keep), tf.gather(ref, keep))).toBeLessThan(2e-5);
      // with `need`, the chosen query rows are unchanged and every other row is zero
      const needRows = Int32Array.from({ length: N }, (_, i) => (i % 3 === 1 ? 1 : 0));
      const part = attentionFused(qkv, pos, tf.tensor1d(batch.segments, 'int32'), rope.cos, rope.sin, { ...shape, scale: 1 / Math.sqrt(hd) }, tf.tensor1d(needRows, 'int32'));
      const rowsMask = tf.reshape(tf.tensor1d(Float32Array.from(needRows)), [N, 1]);
      expect(maxAbsDiff(part, tf.mul(got, rowsMask))).toBe(0);
      // the gradient with respect to qkv: the backward kernel against autodiff through the ops
      const r = tf.randomNormal(got.shape, 0, 1, 'float32', 7);
      const mask = tf.reshape(tf.tensor1d(Float32Array.from(batch.segments, (sg) => (sg === -1 ? 0 : 1))), [N, 1]);
      const lossOps = (x: tf.Tensor) => {
        const [q2, k2, v2] = tf.split(x, [nh * hd, nkv * hd, nkv * hd], 1) as tf.Tensor2D[];
        const q3 = tf.mul(applyRope(tf.reshape(q2, [N, nh, hd]) as tf.Tensor3D, cos, sin, rope.rot), 1 / Math.sqrt(hd));
        const k3 = applyRope(tf.reshape(k2, [N, nkv, hd]) as tf.Tensor3D, cos, sin, rope.rot);
        const o = attentionOps(tf.reshape(q3, [N, nh * hd]) as tf.Tensor2D, tf.reshape(k3, [N, nkv * hd]) as tf.Tensor2D, v2, bias, shape);
        return tf.sum(tf.mul(tf.mul(o, r), mask));
      };
      const segT = tf.tensor1d(batch.segments, 'int32');
      const lossKernel = (x: tf.Tensor) =>
        tf.sum(tf.mul(tf.mul(attentionFusedWithGrad(x as tf.Tensor2D, pos, segT, rope.cos, rope.sin, { ...shape, scale: 1 / Math.sqrt(hd) }), r), mask));
      const gOps = tf.grad(lossOps)(qkv);
      const gKernel = tf.grad(lossKernel)(qkv);
      const scaleG = tf.max(tf.abs(gOps)).dataSync()[0];
      expect(scaleG).toBeGreaterThan(0);
      expect(maxAbsDiff(gKernel, gOps) / scaleG).toBeLessThan(1e-5);
      const pad = Int32Array.from(Array.from(batch.segments).flatMap((s, i) => (s === -1 ? [i] : [])));
      expect(pad.length).toBeGreaterThan(0);
      expect(tf.gather(got, tf.tensor1d(pad, 'int32')).dataSync().every((x) => x === 0)).toBe(true);
    });
    disposeRope(rope);
  });
});
