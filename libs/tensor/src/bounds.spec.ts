// The noise and update entry points' edges, pinned: the uint32 bounds accepted at 2^32 − 1 and refused
// at 2^32 with their whole one-line reasons, exact-size scratch buffers, updates that must not touch
// a variable (no terms and keep 1: the same tensor, not a copy), disposed variables, the array
// update's chunked ranges across the 65536-float chunk against the reference noise, and the shared
// arrays NoisePool's threads write.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, test } from 'vitest';
import { applyNoiseArrays, applyNoiseRange, applySumArray, sharedFloat32Array } from './noise-arrays';
import { normalFillRef } from './noise-ref';
import { noiseImplementation, noiseSum, normalAccumulate, normalFill, useNoiseImplementation } from './noise';
import { applyNoise, applyNoiseMany, applySum, useWeightUpdatePath } from './perturb';

const f = Math.fround;
const U32_MAX = 0xffffffff;

/** The whole message of the error `fn` throws (toThrow(string) only checks a substring). */
function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

afterEach(() => {
  useNoiseImplementation('auto');
});

describe('noise entry points: bounds', () => {
  test('seed and block: 2^32 − 1 is a uint32, 2^32 and −1 are not', () => {
    const out = new Float32Array(3);
    const ref = new Float32Array(3);
    normalFill(out, U32_MAX, U32_MAX, 5);
    normalFillRef(ref, U32_MAX, U32_MAX, 5);
    expect(out).toEqual(ref);
    expect(message(() => normalFill(out, 2 ** 32, 0))).toBe('noise: seed must be an integer in [0, 2^32), got 4294967296');
    expect(message(() => normalFill(out, 0, 2 ** 32))).toBe('noise: block must be an integer in [0, 2^32), got 4294967296');
    expect(message(() => normalAccumulate(out, 0, -1, 1))).toBe('noise: block must be an integer in [0, 2^32), got -1');
    expect(message(() => normalAccumulate(out, 0.5, 0, 1))).toBe('noise: seed must be an integer in [0, 2^32), got 0.5');
    expect(message(() => normalAccumulate(out, 1, 0, 1, 2 ** 32 - 2))).toBe('noise: start must be an integer >= 0 with start + length <= 2^32, got start 4294967294, length 3');
    expect(message(() => normalAccumulate(out, 1, 0, -Infinity))).toBe('noise: coef must be finite, got -Infinity');
  });

  test('noiseSum: n a whole number ≥ 0, seeds by term, a scratch of exactly n floats is enough', () => {
    expect(message(() => noiseSum(-1, 0, []))).toBe('noise: n must be an integer >= 0, got -1');
    expect(message(() => noiseSum(2.5, 0, []))).toBe('noise: n must be an integer >= 0, got 2.5');
    expect(message(() => noiseSum(2, 2 ** 32, []))).toBe('noise: block must be an integer in [0, 2^32), got 4294967296');
    expect(message(() => noiseSum(2, 0, [{ seed: 1, coef: 1 }, { seed: -1, coef: 1 }]))).toBe('noise: terms[1].seed must be an integer in [0, 2^32), got -1');
    expect(message(() => noiseSum(2, 0, [{ seed: 1, coef: NaN }]))).toBe('noise: terms[0].coef must be finite, got NaN');
    expect(noiseSum(0, 0, [{ seed: 1, coef: 1 }])).toEqual(new Float32Array(0));
    for (const impl of ['wasm-simd', 'js'] as const) {
      useNoiseImplementation(impl);
      const scratch = new Float32Array(5).fill(9);
      const s = noiseSum(5, 3, [{ seed: U32_MAX, coef: 0.5 }], 1, scratch);
      const z = new Float32Array(5);
      normalFillRef(z, U32_MAX, 3, 1);
      expect(s.buffer).toBe(scratch.buffer);
      expect(Array.from(s), impl).toEqual(Array.from(z, (x) => f(0 + f(0.5 * x))));
    }
  });

  test('the implementation in use, by name', () => {
    expect(useNoiseImplementation('js')).toBe('js');
    expect(noiseImplementation()).toBe('js');
    expect(useNoiseImplementation('auto')).toBe('wasm-simd');
    expect(useNoiseImplementation('wasm-simd')).toBe('wasm-simd');
  });
});

describe('array updates', () => {
  test('item checks: a Float32Array, uint32 block and seeds (2^32 − 1 accepted), finite coefficients and keep, each named', () => {
    const d = new Float32Array(4);
    applyNoiseArrays([{ data: d, block: U32_MAX, terms: [{ seed: U32_MAX, coef: 1 }] }]);
    const z = new Float32Array(4);
    normalFillRef(z, U32_MAX, U32_MAX);
    expect(d).toEqual(z); // 0 + f32(1·z) = z
    const bad = (it: object) => message(() => applyNoiseArrays([{ data: new Float32Array(1), block: 0, terms: [] }, it as never]));
    expect(bad({ data: [0], block: 0, terms: [] })).toBe('applyNoiseArrays: items[1].data must be a Float32Array');
    expect(bad({ data: d, block: 2 ** 32, terms: [] })).toBe('applyNoiseArrays: items[1].block must be a uint32, got 4294967296');
    expect(bad({ data: d, block: -1, terms: [] })).toBe('applyNoiseArrays: items[1].block must be a uint32, got -1');
    expect(bad({ data: d, block: 0, terms: [{ seed: 2 ** 32, coef: 1 }] })).toBe('applyNoiseArrays: items[1].terms[0].seed must be a uint32, got 4294967296');
    expect(bad({ data: d, block: 0, terms: [{ seed: 1.5, coef: 1 }] })).toBe('applyNoiseArrays: items[1].terms[0].seed must be a uint32, got 1.5');
    expect(bad({ data: d, block: 0, terms: [{ seed: 1, coef: Infinity }] })).toBe('applyNoiseArrays: items[1].terms[0].coef must be finite, got Infinity');
    expect(bad({ data: d, block: 0, terms: [], keep: NaN })).toBe('applyNoiseArrays: items[1]: keep must be finite, got NaN');
    expect(d).toEqual(z); // refused before any weight changed
  });

  test('a range across the 65536-float chunk: f32(f32(keep·w) + f32(coef·z(k))) inside, untouched outside', () => {
    const n = 2 * 65536 + 11;
    const w = Float32Array.from({ length: n }, (_, i) => f((i % 13) / 8 - 0.75));
    const z = new Float32Array(n);
    normalFillRef(z, 77, 6);
    const [from, len] = [65530, 65536 + 10]; // from 6 before the first chunk's end to 7 before the array's
    const d = w.slice();
    applyNoiseRange({ data: d, block: 6, terms: [{ seed: 77, coef: 0.25 }], keep: 0.5 }, from, len);
    for (let k = 0; k < n; k++) {
      const want = k >= from && k < from + len ? f(f(f(0.5) * w[k]) + f(0 + f(0.25 * z[k]))) : w[k];
      if (d[k] !== want) expect(d[k], `element ${k}`).toBe(want);
    }
    // keep alone, no terms: every element scaled, across chunks
    const e = w.slice();
    applyNoiseArrays([{ data: e, block: 0, terms: [], keep: 2 }]);
    expect(e).toEqual(w.map((x) => f(2 * x)));
    // no terms and keep 1: nothing to do
    const g = w.slice();
    applyNoiseRange({ data: g, block: 0, terms: [] }, 0, n);
    expect(g).toEqual(w);
  });

  test('applySumArray: f32(f32(keep·w) + s), the sum\'s length checked', () => {
    const d = Float32Array.of(1, -2, 3);
    applySumArray(d, Float32Array.of(0.5, 0.25, -1), 1);
    expect(d).toEqual(Float32Array.of(1.5, -1.75, 2));
    applySumArray(d, null, 0.5);
    expect(d).toEqual(Float32Array.of(0.75, -0.875, 1));
    applySumArray(d, Float32Array.of(1, 1, 1), 2);
    expect(d).toEqual(Float32Array.of(2.5, -0.75, 3));
    applySumArray(d, null);
    expect(d).toEqual(Float32Array.of(2.5, -0.75, 3));
    expect(message(() => applySumArray(d, new Float32Array(2)))).toBe('applySumArray: 2 sums for 3 weights');
  });

  test('sharedFloat32Array: n zeros on a SharedArrayBuffer; n a whole number ≥ 0', () => {
    const s = sharedFloat32Array(5);
    expect(s.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(s)).toEqual([0, 0, 0, 0, 0]);
    expect(sharedFloat32Array(0).length).toBe(0);
    expect(message(() => sharedFloat32Array(-1))).toBe('sharedFloat32Array: n must be an integer >= 0, got -1');
    expect(message(() => sharedFloat32Array(1.5))).toBe('sharedFloat32Array: n must be an integer >= 0, got 1.5');
  });
});

describe('variable updates', () => {
  const made: tf.Variable[] = [];
  let serial = 0;
  const variable = (values: number[]) => {
    const v = tf.variable(tf.tensor(values, [values.length], 'float32'), true, `bounds_${serial++}`);
    made.push(v);
    return v;
  };
  afterEach(() => {
    for (const v of made.splice(0)) if (!v.isDisposed) v.dispose();
  });
  const dataId = (v: tf.Variable) => (v as unknown as { dataId: object }).dataId;

  test('no terms and keep 1 leave the variable\'s tensor alone (no copy, no new data id)', () => {
    const v = variable([1, 2, 3]);
    const id = dataId(v);
    applyNoise(v, 0, []);
    applyNoise(v, 0, [], { keep: 1 });
    applyNoiseMany([{ variable: v, block: 0, terms: [] }, { variable: v, block: 1, terms: [], keep: 1 }]);
    applySum(v, null);
    applySum(v, null, 1);
    expect(dataId(v)).toBe(id);
    // keep alone, or a sum: a new tensor with the values
    applySum(v, null, 0.5);
    expect(dataId(v)).not.toBe(id);
    expect(Array.from(v.dataSync())).toEqual([0.5, 1, 1.5]);
    applySum(v, Float32Array.of(1, 1, 1));
    expect(Array.from(v.dataSync())).toEqual([1.5, 2, 2.5]);
  });

  test('keep without terms adds no sum: −0 stays −0 (an added +0 would make it +0), on every path', () => {
    const isNegZero = (x: number) => Object.is(x, -0);
    const v = variable([-0, 2]);
    applyNoise(v, 0, [], { keep: 0.5 });
    expect(isNegZero(v.dataSync()[0])).toBe(true);
    const u = variable([-0, 2]);
    applyNoiseMany([{ variable: u, block: 0, terms: [], keep: 0.5 }]);
    expect(isNegZero(u.dataSync()[0])).toBe(true);
    const d = Float32Array.of(-0, 2);
    applyNoiseArrays([{ data: d, block: 0, terms: [], keep: 0.5 }]);
    expect(isNegZero(d[0])).toBe(true);
    useWeightUpdatePath('tfjs-ops');
    try {
      const t = variable([-0, 2]);
      applyNoise(t, 0, [], { keep: 0.5 });
      expect(isNegZero(t.dataSync()[0])).toBe(true);
    } finally {
      useWeightUpdatePath('auto');
    }
  });

  test('applyNoiseMany: keep alone on one item, terms on another, item by item as applyNoise', () => {
    const [a, b] = [variable([1, -1, 4]), variable([2, 0.5, -3])];
    applyNoiseMany([{ variable: a, block: 0, terms: [], keep: 0.5 }, { variable: b, block: 9, terms: [{ seed: 4, coef: 0.125 }] }]);
    expect(Array.from(a.dataSync())).toEqual([0.5, -0.5, 2]);
    const z = new Float32Array(3);
    normalFillRef(z, 4, 9);
    expect(Array.from(b.dataSync())).toEqual([2, 0.5, -3].map((w, k) => f(w + f(0 + f(0.125 * z[k])))));
  });

  test('the tfjs-ops path: keep, terms, both and neither, against the float32 formula', () => {
    expect(useWeightUpdatePath('tfjs-ops')).toBe('tfjs-ops');
    try {
      const w = [1, -1, 4, 0.5, -3];
      const z = new Float32Array(5);
      normalFillRef(z, 8, 2);
      const v = variable(w);
      const id = dataId(v);
      applyNoise(v, 2, []);
      expect(dataId(v)).toBe(id);
      applyNoise(v, 2, [], { keep: 0.5 });
      expect(Array.from(v.dataSync())).toEqual(w.map((x) => f(0.5 * x)));
      const u = variable(w);
      applyNoise(u, 2, [{ seed: 8, coef: 0.25 }]);
      expect(Array.from(u.dataSync())).toEqual(w.map((x, k) => f(x + f(0 + f(0.25 * z[k])))));
      const t = variable(w);
      applyNoise(t, 2, [{ seed: 8, coef: 0.25 }], { keep: 0.75 });
      expect(Array.from(t.dataSync())).toEqual(w.map((x, k) => f(f(0.75 * x) + f(0 + f(0.25 * z[k])))));
    } finally {
      expect(useWeightUpdatePath('auto')).toBe('direct');
    }
  });

  test('refusals: a disposed variable, a sum of another length, a non-finite keep', () => {
    const v = variable([1, 2, 3, 4]);
    expect(message(() => applySum(v, new Float32Array(3)))).toBe(`applySum: 3 sums for variable ${v.name} of 4`);
    expect(message(() => applySum(v, null, Infinity))).toBe('applySum: keep must be finite, got Infinity');
    const w = variable([1]);
    w.dispose();
    expect(message(() => applyNoise(w, 0, [{ seed: 1, coef: 1 }]))).toBe(`applyNoise: variable ${w.name} is disposed`);
    expect(message(() => applyNoiseMany([{ variable: w, block: 0, terms: [] }]))).toBe(`applyNoiseMany: items[0]: variable ${w.name} is disposed`);
  });
});
