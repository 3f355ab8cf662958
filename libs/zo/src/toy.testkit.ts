// A tiny deterministic model for the zo tests: four blocks of every kind and a least-squares
// objective, L = mean(((E[tokens]·W + b) ⊙ g − Y)²). No Math.random: data come from the noise.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach } from 'vitest';
import type { Block, BlockKind } from '@zotune/models';
import { normalFill } from '@zotune/tensor';

export interface Toy {
  blocks: Block[];
  lossTensor: () => tf.Scalar;
  lossValue: () => Promise<number>;
  snapshot: () => Float32Array[];
  restore: (values: Float32Array[]) => void;
  dispose: () => void;
}

function gaussian(n: number, seed: number, scale: number, shift = 0): Float32Array {
  const a = new Float32Array(n);
  normalFill(a, seed, 0);
  return a.map((x) => shift + scale * x);
}

let toyCount = 0;

export function makeToy(seed = 1, opts: { trainable?: boolean } = {}): Toy {
  toyCount++;
  const specs: [string, number[], BlockKind, number, number][] = [
    ['model.embed_tokens.weight', [6, 4], 'embedding', 0.5, 0],
    ['model.layers.0.mlp.up_proj.weight', [4, 3], 'matrix', 0.5, 0],
    ['model.layers.0.mlp.up_proj.bias', [3], 'bias', 0.1, 0],
    ['model.norm.weight', [3], 'norm', 0.1, 1],
  ];
  const blocks: Block[] = specs.map(([name, shape, kind, scale, shift], index) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const init = tf.tensor(gaussian(size, seed * 100 + index, scale, shift), shape);
    const variable = tf.variable(init, opts.trainable ?? true, `toy${toyCount}/${name}`);
    init.dispose();
    return { name, shape, kind, size, index, variable };
  });
  const tokens = tf.tensor1d([0, 1, 2, 3, 4, 5, 1, 3], 'int32'); // [8]
  const target = tf.tensor2d(gaussian(24, 999, 1), [8, 3]); // [8, 3]
  const [E, W, b, g] = blocks.map((x) => x.variable!);
  const lossTensor = () => tf.tidy(() => {
    const h = tf.add(tf.matMul(tf.gather(E, tokens), W), b); // [8, 3]
    return tf.mean(tf.square(tf.sub(tf.mul(h, g), target))) as tf.Scalar;
  });
  return {
    blocks,
    lossTensor,
    lossValue: async () => {
      const t = lossTensor();
      const v = (await t.data())[0];
      t.dispose();
      return v;
    },
    snapshot: () => blocks.map((x) => x.variable!.dataSync() as Float32Array).map((a) => a.slice()),
    restore: (values) => tf.tidy(() => blocks.forEach((x, i) => x.variable!.assign(tf.tensor(values[i], x.shape)))),
    dispose: () => {
      tf.dispose([tokens, target, ...blocks.map((x) => x.variable!)]);
    },
  };
}

/** makeToy for a spec file: every toy it makes is disposed after the test that made it. */
export function toysPerTest(): (seed?: number) => Toy {
  let toys: Toy[] = [];
  afterEach(() => {
    toys.forEach((t) => t.dispose());
    toys = [];
  });
  return (seed = 1) => {
    const t = makeToy(seed);
    toys.push(t);
    return t;
  };
}

/** Largest |a − b| over all blocks. */
export function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, k) => { m = Math.max(m, Math.abs(v - b[i][k])); }));
  return m;
}

/** True when every float32 is bit-identical. */
export function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => {
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const v = new Uint32Array(b[i].buffer, b[i].byteOffset, b[i].length);
    return u.length === v.length && u.every((w, k) => w === v[k]);
  });
}
