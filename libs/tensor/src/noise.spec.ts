import { afterEach, describe, expect, it } from 'vitest';
import { normalAccumulateRef, normalFillRef } from './noise-ref';
import { combineWeights, normalAccumulate, normalFill, noiseImplementation, noiseSum, useNoiseImplementation } from './noise';
import { bits, fnv, hex, rnd } from './noise-bits.testkit';
import { CHECKSUM, GOLDEN } from './noise-golden.testkit';

const IMPLS = [
  { name: 'reference', fill: normalFillRef, acc: normalAccumulateRef },
  { name: 'wasm-simd', fill: normalFill, acc: normalAccumulate },
  { name: 'js', fill: normalFill, acc: normalAccumulate },
] as const;

afterEach(() => {
  useNoiseImplementation('auto');
});

describe('noise: pinned values', () => {
  for (const impl of IMPLS) {
    it(`${impl.name} reproduces the golden values and the checksum over 1e5 samples`, () => {
      if (impl.name !== 'reference') expect(useNoiseImplementation(impl.name)).toBe(impl.name);
      for (const [seed, block, want] of GOLDEN) {
        const out = new Float32Array(8);
        impl.fill(out, seed, block);
        expect(hex(out), `seed ${seed} block ${block}`).toEqual(want);
      }
      const big = new Float32Array(CHECKSUM.n);
      impl.fill(big, CHECKSUM.seed, CHECKSUM.block);
      expect(fnv(big)).toBe(CHECKSUM.fnv);
    });
  }

  it('uses the SIMD kernel on this runtime', () => {
    expect(noiseImplementation()).toBe('wasm-simd');
  });
});

describe('noise: fast implementations equal the reference bit for bit', () => {
  for (const name of ['wasm-simd', 'js'] as const) {
    it(`${name}: normalFill on random (seed, block, start, length), odd starts and short tails`, () => {
      useNoiseImplementation(name);
      const lengths = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33];
      for (let t = 0; t < 150; t++) {
        const seed = rnd(1, t);
        const block = rnd(2, t) % 1000;
        const n = t < lengths.length ? lengths[t] : rnd(3, t) % 3000;
        const start = t % 5 === 4 ? 2 ** 32 - n - (t % 3) : rnd(4, t) % 100_000; // also near the end of the index range
        const want = new Float32Array(n);
        const got = new Float32Array(n).fill(NaN);
        normalFillRef(want, seed, block, start);
        normalFill(got, seed, block, start);
        expect(bits(got), `seed ${seed} block ${block} start ${start} n ${n}`).toEqual(bits(want));
      }
    });

    it(`${name}: spans longer than one kernel chunk, from odd and even starts`, () => {
      useNoiseImplementation(name);
      for (const start of [0, 1, 65_535, 131_073]) {
        const want = new Float32Array(140_003);
        const got = new Float32Array(140_003);
        normalFillRef(want, 9, 4, start);
        normalFill(got, 9, 4, start);
        expect(fnv(got)).toBe(fnv(want));
      }
    });

    it(`${name}: normalAccumulate rounds as f32(out + f32(coef · z))`, () => {
      useNoiseImplementation(name);
      for (let t = 0; t < 60; t++) {
        const n = rnd(5, t) % 2000;
        const start = rnd(6, t) % 5000;
        const coef = ((rnd(7, t) / 2 ** 32) - 0.5) * 10 ** ((t % 7) - 4);
        const init = new Float32Array(n);
        normalFillRef(init, t, 99);
        const want = init.slice();
        const got = init.slice();
        normalAccumulateRef(want, rnd(8, t), t, coef, start);
        normalAccumulate(got, rnd(8, t), t, coef, start);
        expect(bits(got), `t ${t}`).toEqual(bits(want));
      }
    });
  }

  it('noiseSum is the in-order float32 sum of coef · z, in the internal buffer or a given scratch', () => {
    const terms = [{ seed: 1, coef: 0.5 }, { seed: 2, coef: -0.25 }, { seed: 3, coef: 1e-3 }];
    for (const start of [0, 5]) {
      const want = new Float32Array(1001);
      for (const t of terms) normalAccumulateRef(want, t.seed, 11, t.coef, start);
      expect(bits(noiseSum(1001, 11, terms, start))).toEqual(bits(want));
      const scratch = new Float32Array(2000).fill(7);
      const got = noiseSum(1001, 11, terms, start, scratch);
      expect(got.buffer).toBe(scratch.buffer);
      expect(bits(got)).toEqual(bits(want));
      useNoiseImplementation('js');
      expect(bits(noiseSum(1001, 11, terms, start))).toEqual(bits(want));
      useNoiseImplementation('auto');
    }
  });
});

describe('noise: a pure function of (seed, block, index)', () => {
  it('does not depend on the order in which blocks and seeds are generated', () => {
    const gen = (order: number[]) => {
      const out = new Map<number, number[]>();
      for (const b of order) {
        const a = new Float32Array(777);
        normalFill(a, 5, b, 3);
        out.set(b, bits(a));
        normalFill(new Float32Array(100), 6, b); // unrelated calls in between
      }
      return [0, 1, 2, 3, 4, 5].map((b) => out.get(b));
    };
    const forward = gen([0, 1, 2, 3, 4, 5]);
    expect(gen([5, 4, 3, 2, 1, 0])).toEqual(forward);
    expect(gen([3, 0, 5, 1, 4, 2])).toEqual(forward);
  });

  it('does not depend on chunking: fill [0, n) == fill [0, k) ++ fill [k, n)', () => {
    const n = 10_001;
    const whole = new Float32Array(n);
    normalFill(whole, 77, 2);
    for (const k of [0, 1, 2, 7, 8, 9, 4096, 5001, n - 1, n]) {
      const parts = new Float32Array(n);
      normalFill(parts.subarray(0, k), 77, 2, 0);
      normalFill(parts.subarray(k), 77, 2, k);
      expect(fnv(parts), `k ${k}`).toBe(fnv(whole));
    }
    // many small uneven pieces
    const pieces = new Float32Array(n);
    for (let k = 0, t = 0; k < n; t++) {
      const len = Math.min(n - k, 1 + (rnd(9, t) % 37));
      normalFill(pieces.subarray(k, k + len), 77, 2, k);
      k += len;
    }
    expect(fnv(pieces)).toBe(fnv(whole));
  });

  it('gives every block and every seed its own stream (same-shaped blocks do not share noise)', () => {
    const n = 10_000;
    const streams: Float32Array[] = [];
    for (let b = 0; b < 16; b++) streams.push(new Float32Array(n));
    streams.forEach((s, b) => normalFill(s, 1234, b));
    for (let s = 1; s <= 8; s++) {
      const a = new Float32Array(n);
      normalFill(a, 1234 + s, 0);
      streams.push(a);
    }
    const corr = (x: Float32Array, y: Float32Array) => {
      let sxy = 0, sxx = 0, syy = 0;
      for (let i = 0; i < n; i++) {
        sxy += x[i] * y[i];
        sxx += x[i] * x[i];
        syy += y[i] * y[i];
      }
      return sxy / Math.sqrt(sxx * syy);
    };
    let maxCorr = 0;
    for (let i = 0; i < streams.length; i++)
      for (let j = i + 1; j < streams.length; j++) maxCorr = Math.max(maxCorr, Math.abs(corr(streams[i], streams[j])));
    expect(maxCorr).toBeLessThan(0.05); // the standard error is 0.01
  });
});

describe('noise: distribution', () => {
  it('looks standard normal on 1e6 samples (mean, variance, kurtosis, tails)', () => {
    const n = 1_000_000;
    const z = new Float32Array(n);
    normalFill(z, 31337, 0);
    let m1 = 0, m2 = 0, m4 = 0, t3 = 0, t4 = 0, maxAbs = 0;
    for (const x of z) {
      m1 += x;
      m2 += x * x;
      m4 += x * x * x * x;
      const a = Math.abs(x);
      if (a > 3) t3++;
      if (a > 4) t4++;
      if (a > maxAbs) maxAbs = a;
    }
    m1 /= n;
    m2 /= n;
    m4 /= n;
    expect(Math.abs(m1)).toBeLessThan(0.005); // σ/√n = 0.001
    expect(Math.abs(m2 - 1)).toBeLessThan(0.007); // √(2/n) = 0.0014
    expect(Math.abs(m4 / (m2 * m2) - 3)).toBeLessThan(0.03); // √(24/n) ≈ 0.005
    expect(Math.abs(t3 / n - 0.0026998)).toBeLessThan(0.0003); // √(p/n) ≈ 5e-5
    expect(Math.abs(t4 / n - 6.334e-5)).toBeLessThan(4e-5); // √(p/n) ≈ 8e-6
    expect(maxAbs).toBeLessThanOrEqual(Math.sqrt(-2 * Math.log(2 ** -24)) + 1e-6); // u1 ≥ 2^-24 bounds the radius
  });
});

describe('combineWeights: applyNoise\'s update f32(f32(keep·w) + S)', () => {
  for (const name of ['wasm-simd', 'js'] as const) {
    it(`${name}: equals the float32 formula with S from noiseSum, from a JS array, or absent`, () => {
      useNoiseImplementation(name);
      const f = Math.fround;
      const n = 70_001; // more than one 65536-float staging chunk, not a multiple of 4
      const w = new Float32Array(n);
      normalFill(w, 3, 3);
      w[0] = -0;
      w[5] = 1e-42;
      const want = (s: Float32Array | null, keep: number) =>
        Array.from(w, (x, i) => {
          const kx = keep === 1 ? x : f(f(keep) * x);
          return s ? f(kx + s[i]) : kx;
        });
      const terms = [{ seed: 8, coef: 0.25 }, { seed: 9, coef: -1e-3 }];
      for (const keep of [1, 0.995]) {
        const s = noiseSum(n, 2, terms).slice();
        expect(Array.from(combineWeights(w, noiseSum(n, 2, terms), keep)), `noiseSum's buffer, keep ${keep}`).toEqual(want(s, keep));
        expect(Array.from(combineWeights(w, s, keep)), `a JS array, keep ${keep}`).toEqual(want(s, keep));
        const odd = noiseSum(n, 2, terms, 1); // a view at another offset of the kernel's memory
        const oddCopy = odd.slice();
        expect(Array.from(combineWeights(w, odd, keep)), `an offset view, keep ${keep}`).toEqual(want(oddCopy, keep));
      }
      expect(Object.is(combineWeights(w, null, 0.5)[0], -0)).toBe(true); // no sum: no + 0 that would turn −0 into +0
      expect(Array.from(combineWeights(w, null, 0.5))).toEqual(want(null, 0.5));
      expect(Array.from(combineWeights(w, null, 1))).toEqual(Array.from(w));
      expect(() => combineWeights(w, new Float32Array(3), 1)).toThrow(/3 sums for 70001 weights/);
      expect(() => combineWeights(w, null, NaN)).toThrow(/keep must be finite, got NaN/);
    });
  }
});

describe('noise: bad input', () => {
  it('rejects seeds, blocks, starts and coefficients out of range with a one-line reason', () => {
    const out = new Float32Array(4);
    expect(() => normalFill(out, -1, 0)).toThrow(/seed must be an integer in \[0, 2\^32\), got -1/);
    expect(() => normalFill(out, 1, 1.5)).toThrow(/block must be an integer/);
    expect(() => normalFill(out, 1, 0, -2)).toThrow(/start must be an integer >= 0/);
    expect(() => normalFill(out, 1, 0, 2 ** 32 - 3)).toThrow(/start \+ length <= 2\^32/);
    expect(() => normalAccumulate(out, 1, 0, NaN)).toThrow(/coef must be finite, got NaN/);
    expect(() => noiseSum(4, 0, [{ seed: 1, coef: Infinity }])).toThrow(/terms\[0\]\.coef must be finite/);
    expect(() => noiseSum(8, 0, [{ seed: 1, coef: 1 }], 0, new Float32Array(4))).toThrow(/scratch holds 4 floats, 8 needed/);
  });
});
