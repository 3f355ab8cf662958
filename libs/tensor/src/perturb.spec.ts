import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { NoiseTerm } from './noise';
import { normalFillRef } from './noise-ref';
import { noiseSum, useNoiseImplementation } from './noise';
import { applyNoise, applyNoiseMany, applySum, useWeightUpdatePath, weightUpdatePath, type NoiseUpdate } from './perturb';

const f = Math.fround;
const shape = [37, 129]; // odd sizes: the flattened block has no multiple-of-8 length
const size = shape[0] * shape[1];

let serial = 0;
function weights(seed: number): tf.Variable {
  const w = new Float32Array(size);
  normalFillRef(w, seed, 1000);
  for (let i = 0; i < size; i++) w[i] = f(w[i] * 0.02); // realistic magnitudes
  return tf.variable(tf.tensor(w, shape), true, `w${seed}_${serial++}`);
}

const vars: tf.Variable[] = [];
afterAll(() => vars.forEach((v) => v.dispose()));
const fresh = (seed: number) => {
  const v = weights(seed);
  vars.push(v);
  return v;
};

describe('applyNoise', () => {
  it('sets w ← f32(w + S) with S = Σ f32(coef · z(seed, block, k)) over the flattened block', () => {
    const v = fresh(1);
    const w = v.dataSync().slice();
    const terms = [{ seed: 11, coef: 1e-3 }, { seed: 12, coef: -2e-3 }];
    applyNoise(v, 4, terms);
    const z1 = new Float32Array(size), z2 = new Float32Array(size);
    normalFillRef(z1, 11, 4);
    normalFillRef(z2, 12, 4);
    const got = v.dataSync();
    for (let i = 0; i < size; i++) {
      const s = f(f(0 + f(f(1e-3) * z1[i])) + f(f(-2e-3) * z2[i]));
      expect(got[i]).toBe(f(w[i] + s));
    }
  });

  it('applies keep (weight decay) as f32(f32(keep · w) + S), and keep alone without terms', () => {
    const v = fresh(2);
    const w = v.dataSync().slice();
    applyNoise(v, 0, [{ seed: 3, coef: 0.5 }], { keep: 0.99 });
    const z = new Float32Array(size);
    normalFillRef(z, 3, 0);
    const got = v.dataSync().slice();
    for (let i = 0; i < size; i++) expect(got[i]).toBe(f(f(f(0.99) * w[i]) + f(0.5 * z[i])));
    applyNoise(v, 0, [], { keep: 0.5 });
    expect(Array.from(v.dataSync())).toEqual(Array.from(got, (x) => f(0.5 * x)));
    applyNoise(v, 0, []); // nothing to do
    expect(Array.from(v.dataSync())).toEqual(Array.from(got, (x) => f(0.5 * x)));
  });

  it('is undone by the negated terms up to float32 rounding: |w″ − w| ≤ 2·min(|S|, 2^-24·|w′|)', () => {
    // w′ = fl(w + S), w″ = fl(w′ − S). fl(w + S) is the float nearest w + S and w is a float, so
    // |w′ − (w + S)| ≤ min(|S|, u|w′|) with u = 2^-24; likewise the second rounding error is at most the
    // first. Hence the bound; when |S| is far below ulp(w) both roundings return w exactly.
    let inexact = 0, exact = 0, n = 0;
    for (const [eps, terms] of [
      [1e-3, [{ seed: 5, coef: 1 }]], // MeZO: θ + εz, then θ − εz
      [1e-1, [{ seed: 6, coef: 1 }]],
      [1e-3, [{ seed: 7, coef: 0.5 }, { seed: 8, coef: 0.5 }, { seed: 9, coef: -0.5 }, { seed: 10, coef: -0.5 }]], // guided v
    ] as const) {
      const v = fresh(100 + n);
      const w = v.dataSync().slice();
      const scaled = terms.map((t) => ({ seed: t.seed, coef: t.coef * eps }));
      const s = noiseSum(size, 9, scaled).slice();
      applyNoise(v, 9, scaled);
      const w1 = v.dataSync().slice();
      applyNoise(v, 9, scaled.map((t) => ({ seed: t.seed, coef: -t.coef })));
      const w2 = v.dataSync();
      for (let i = 0; i < size; i++) {
        const err = Math.abs(w2[i] - w[i]);
        expect(err).toBeLessThanOrEqual(2 * Math.min(Math.abs(s[i]), 2 ** -24 * Math.abs(w1[i])));
        if (err === 0) exact++;
        else inexact++;
      }
      n++;
    }
    expect(exact / (n * size)).toBeGreaterThan(0.5); // most elements come back exactly,
    expect(inexact).toBeGreaterThan(0); // but not all: the restore is not bit-exact in general
  });

  it('gives the same result with a caller scratch, with the JS fallback, and rejects a short scratch', () => {
    const a = fresh(3), b = fresh(3), c = fresh(3);
    const terms = [{ seed: 21, coef: 0.3 }, { seed: 22, coef: -0.7 }];
    applyNoise(a, 2, terms);
    applyNoise(b, 2, terms, { scratch: new Float32Array(size + 5) });
    useNoiseImplementation('js');
    try {
      applyNoise(c, 2, terms);
    } finally {
      useNoiseImplementation('auto');
    }
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(c.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(() => applyNoise(a, 2, terms, { scratch: new Float32Array(10) })).toThrow(/scratch holds 10 floats, 4773 needed/);
  });

  it('leaks no tensor over repeated applications, with and without keep', () => {
    const v = fresh(4);
    applyNoise(v, 1, [{ seed: 1, coef: 1e-3 }], { keep: 0.9 }); // warm up (kernels may cache tensors)
    const before = tf.memory().numTensors;
    for (let step = 0; step < 20; step++) {
      applyNoise(v, 1, [{ seed: step, coef: 1e-3 }]);
      applyNoise(v, 1, [{ seed: step, coef: -1e-3 }, { seed: step + 1, coef: 1e-3 }], { keep: 0.999 });
      applyNoise(v, 1, [], { keep: 1.001 });
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a non-float32 variable and a non-finite keep with a one-line reason', () => {
    const iv = tf.variable(tf.tensor([1, 2, 3], [3], 'int32'), true, 'ints');
    vars.push(iv);
    expect(() => applyNoise(iv, 0, [{ seed: 1, coef: 1 }])).toThrow(/variable ints is int32, expected float32/);
    expect(() => applyNoise(fresh(5), 0, [], { keep: NaN })).toThrow(/keep must be finite, got NaN/);
  });
});

// ---------------------------------------------------------------------------------------------------
// applyNoiseMany: the direct path (no tfjs op) against the tfjs-ops path, bit for bit.

const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Weights of realistic size with the awkward values sprinkled in: ±0, subnormals, ±max, ±∞. */
function awkward(n: number, seed: number): Float32Array {
  const w = new Float32Array(n);
  normalFillRef(w, seed, 77);
  for (let i = 0; i < n; i++) w[i] = f(w[i] * 0.05);
  const specials = [-0, 0, 1e-45, -1e-45, 1e-40, -1.1e-38, 3.4e38, -3.4e38, Infinity, -Infinity, 1, -1];
  for (let i = 0; i < n; i += 97) w[i] = specials[(i / 97) % specials.length];
  return w;
}

// sizes: 1, below a SIMD lane group, odd, one over the kernel's 65536-float chunk, and > 1M floats so
// that the noise kernel's memory has to grow between noiseSum and the update
const SHAPES = [[1], [3], [37, 129], [65537], [1001, 1003]];
const TERMS: NoiseTerm[][] = [
  [{ seed: 1, coef: 1e-3 }],
  [{ seed: 2, coef: 0.3 }, { seed: 3, coef: -0.7 }, { seed: 2, coef: 1e-39 }], // a subnormal product too
  [],
];
const KEEPS = [1, 0.999, 1.5]; // 1.5 overflows ±3.4e38 to ±∞

function manyVars(tag: string): tf.Variable[] {
  return SHAPES.map((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = tf.variable(tf.tensor(awkward(n, 500 + i), shape), true, `${tag}_${i}_${serial++}`);
    vars.push(v);
    return v;
  });
}

function updates(vs: tf.Variable[], round: number): NoiseUpdate[] {
  return vs.map((variable, i) => ({
    variable,
    block: 3 * i + round,
    terms: TERMS[(i + round) % TERMS.length],
    keep: KEEPS[(2 * i + round) % KEEPS.length],
  }));
}

/** Run three rounds of applyNoiseMany on fresh variables along the given path; the final bits. */
function runMany(path: 'auto' | 'tfjs-ops', tag: string): number[][] {
  const vs = manyVars(tag);
  expect(useWeightUpdatePath(path)).toBe(path === 'auto' ? 'direct' : 'tfjs-ops');
  try {
    for (let round = 0; round < 3; round++) applyNoiseMany(updates(vs, round));
  } finally {
    useWeightUpdatePath('auto');
  }
  return vs.map((v) => bitsOf(v.dataSync() as Float32Array));
}

describe('noise stream 2 (trajectory version 4) on tfjs variables', () => {
  // w ← f32(f32(keep·w) + f32(coef·z)) with z from the scalar reference of the item's stream
  const expected = (w: ArrayLike<number>, seed: number, block: number, coef: number, keep: number, stream: 1 | 2) => {
    const z = new Float32Array(w.length);
    normalFillRef(z, seed, block, 0, stream);
    return Array.from(w, (x, i) => f(f(f(keep) * x) + f(f(coef) * z[i])));
  };

  it('applyNoise and applyNoiseMany draw z from the stream they are given, stream 1 items beside stream 2 items, seed 0 too', () => {
    const [a, b, c] = [fresh(41), fresh(42), fresh(43)];
    const [wa, wb, wc] = [a, b, c].map((v) => v.dataSync().slice());
    applyNoise(a, 5, [{ seed: 17, coef: 1e-2 }], { stream: 2 });
    expect(Array.from(a.dataSync())).toEqual(expected(wa, 17, 5, 1e-2, 1, 2));
    applyNoiseMany([
      { variable: b, block: 6, terms: [{ seed: 18, coef: -3e-3 }], keep: 0.5, stream: 2 },
      // seed 0 is a uint32 like any other
      { variable: c, block: 7, terms: [{ seed: 0, coef: -3e-3 }], stream: 1 },
    ]);
    expect(Array.from(b.dataSync())).toEqual(expected(wb, 18, 6, -3e-3, 0.5, 2));
    expect(Array.from(c.dataSync())).toEqual(expected(wc, 0, 7, -3e-3, 1, 1));
  });

  it('applyNoiseMany refuses an unknown stream in one line, before touching any weight', () => {
    const a = fresh(44);
    const w = a.dataSync().slice();
    const t = [{ seed: 1, coef: 1 }];
    expect(() => applyNoiseMany([{ variable: a, block: 0, terms: t, stream: 5 as 2 }])).toThrow(/^applyNoiseMany: items\[0\]\.stream must be 1 or 2, got 5$/);
    expect(Array.from(a.dataSync())).toEqual(Array.from(w));
  });
});

describe('applyNoiseMany', () => {
  it('takes the direct path on this backend', () => {
    expect(['wasm', 'cpu']).toContain(tf.getBackend());
    expect(weightUpdatePath()).toBe('direct');
  });

  it('gives the bits of the tfjs-ops path: odd and chunk-crossing sizes, keep ≠ 1, several terms, special values', () => {
    const ops = runMany('tfjs-ops', 'ops');
    const direct = runMany('auto', 'direct');
    ops.forEach((want, i) => {
      const got = direct[i];
      const bad = got.findIndex((x, k) => x !== want[k]);
      expect(bad, `shape [${SHAPES[i]}]: element ${bad} is 0x${got[bad]?.toString(16)}, ops path 0x${want[bad]?.toString(16)}`).toBe(-1);
    });
    useNoiseImplementation('js'); // the scalar noise and update give the same bits again
    try {
      expect(runMany('auto', 'js')).toEqual(ops);
    } finally {
      useNoiseImplementation('auto');
    }
  });

  it('equals applyNoise item by item, and applySum with the same sum', () => {
    const [a, b, c] = [fresh(30), fresh(30), fresh(30)];
    const terms = [{ seed: 9, coef: 2e-3 }, { seed: 10, coef: -1e-3 }];
    applyNoiseMany([{ variable: a, block: 6, terms, keep: 0.98 }]);
    applyNoise(b, 6, terms, { keep: 0.98 });
    applySum(c, noiseSum(size, 6, terms).slice(), 0.98);
    expect(bitsOf(a.dataSync() as Float32Array)).toEqual(bitsOf(b.dataSync() as Float32Array));
    expect(bitsOf(c.dataSync() as Float32Array)).toEqual(bitsOf(b.dataSync() as Float32Array));
  });

  it('gives the variable a new tensor: aliases keep the old values, caches keyed by data id see the change', () => {
    const v = fresh(31);
    const before = v.dataSync().slice();
    const alias = tf.reshape(v, [size]); // shares the data id
    const id = v.dataId;
    applyNoiseMany([{ variable: v, block: 1, terms: [{ seed: 4, coef: 0.1 }] }]);
    expect(v.dataId).not.toBe(id);
    expect(Array.from(alias.dataSync())).toEqual(Array.from(before));
    expect(Array.from(v.dataSync())).not.toEqual(Array.from(before));
    alias.dispose();
  });

  it('leaks no tensor and no byte over repeated passes', () => {
    const vs = manyVars('leak');
    applyNoiseMany(updates(vs, 0)); // warm up
    const before = tf.memory();
    for (let round = 0; round < 10; round++) applyNoiseMany(updates(vs, round));
    const after = tf.memory();
    expect([after.numTensors, after.numBytes, after.numDataBuffers]).toEqual([before.numTensors, before.numBytes, before.numDataBuffers]);
  });

  it('checks every item before touching any weight', () => {
    const [a, b] = [fresh(32), fresh(33)];
    const w = a.dataSync().slice();
    const iv = tf.variable(tf.tensor([1, 2], [2], 'int32'), true, `ints_${serial++}`);
    vars.push(iv);
    const t = [{ seed: 1, coef: 1 }];
    expect(() => applyNoiseMany([{ variable: a, block: 0, terms: t }, { variable: iv, block: 1, terms: t }])).toThrow(
      /applyNoiseMany: items\[1\]: variable ints_\d+ is int32, expected float32/,
    );
    expect(() => applyNoiseMany([{ variable: a, block: 0, terms: t }, { variable: b, block: 1, terms: [{ seed: -1, coef: 1 }] }])).toThrow(
      /items\[1\]\.terms\[0\]\.seed must be a uint32, got -1/,
    );
    expect(() => applyNoiseMany([{ variable: a, block: 0, terms: t }, { variable: b, block: 1.5, terms: t }])).toThrow(/items\[1\]\.block must be a uint32, got 1.5/);
    expect(() => applyNoiseMany([{ variable: a, block: 0, terms: t, keep: Infinity }])).toThrow(/items\[0\]: keep must be finite, got Infinity/);
    expect(Array.from(a.dataSync())).toEqual(Array.from(w));
  });
});
