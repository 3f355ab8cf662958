// Noise stream 2 (trajectory format version 4): four-dimensional Box–Muller, four samples per counter.
// Pinned bits, the fast paths against the scalar reference, the reference against a float64 textbook
// evaluation of its formula, and its statistics on 1e6 samples against the normal law itself.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fmix32, hash32, noiseKeys, normalAccumulateRef, normalFillRef, QUAD_KEY_STEP, quadWords } from './noise-ref';
import { normalAccumulate, normalFill, noiseSum, useNoiseImplementation } from './noise';
import { applyNoiseArrays, sharedFloat32Array, type ArrayNoiseUpdate } from './noise-arrays';
import { NoisePool } from './noise-pool';
import { bits, fnv, hex, rnd } from './noise-bits.testkit';
import { CHECKSUM_STREAM2 as CHECKSUM, GOLDEN_STREAM2 as GOLDEN } from './noise-golden.testkit';

afterEach(() => {
  useNoiseImplementation('auto');
});

describe('noise stream 2: pinned values and the formula', () => {
  for (const name of ['reference', 'wasm-simd', 'js'] as const) {
    it(`${name} reproduces the golden values and the checksum over 1e5 samples`, () => {
      if (name !== 'reference') expect(useNoiseImplementation(name)).toBe(name);
      const fill = name === 'reference' ? normalFillRef : normalFill;
      for (const [seed, block, want] of GOLDEN) {
        const out = new Float32Array(8);
        fill(out, seed, block, 0, 2);
        expect(hex(out), `seed ${seed} block ${block}`).toEqual(want);
      }
      const big = new Float32Array(CHECKSUM.n);
      fill(big, CHECKSUM.seed, CHECKSUM.block, 0, 2);
      expect(fnv(big)).toBe(CHECKSUM.fnv);
    });
  }

  it('the reference equals the float64 textbook evaluation of its formula to float32 accuracy', () => {
    // z = sqrt(−2 ln(u1·u2))·(sqrt(1 − t)·(cos θ1, sin θ1), sqrt(t)·(cos θ2, sin θ2)), computed here with
    // Math.log, Math.cos, Math.sin from the same hash words
    const angle = (b: number) => ((b >>> 30) * Math.PI) / 2 + ((((b >>> 8) & 0x3fffff) - 0x200000) * Math.PI) / 2 ** 23;
    let worst = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const seed = rnd(7, trial);
      const block = rnd(8, trial) % 500;
      const c = rnd(9, trial) % 2 ** 30;
      const [k0, k1] = noiseKeys(seed, block);
      const h = fmix32((c ^ k0) >>> 0);
      const w = [0, 1, 2, 3].map((i) => fmix32((h + k1 + Math.imul(i + 1, QUAD_KEY_STEP)) >>> 0));
      const u = w.map((x) => ((x >>> 8) + 1) / 2 ** 24);
      const r = Math.sqrt(-2 * Math.log(u[0] * u[1]));
      const v = ((w[0] << 24) | ((w[1] & 0xff) << 16) | ((w[2] & 0xff) << 8)) >>> 0;
      const [a1, a2] = [angle(w[3]), angle(v)];
      const want = [r * Math.sqrt(1 - u[2]) * Math.cos(a1), r * Math.sqrt(1 - u[2]) * Math.sin(a1), r * Math.sqrt(u[2]) * Math.cos(a2), r * Math.sqrt(u[2]) * Math.sin(a2)];
      const got = new Float32Array(4);
      normalFillRef(got, seed, block, 4 * c, 2);
      want.forEach((x, i) => (worst = Math.max(worst, Math.abs(got[i] - x) / Math.max(1, Math.abs(x)))));
    }
    expect(worst).toBeLessThan(2e-6);
    expect(worst).toBeGreaterThan(0); // float32, not float64
  });

  it('shares no hash word with stream 1 of the same (seed, block): quadWords(c) never holds hash32(c)', () => {
    for (let t = 0; t < 20; t++) {
      const [k0, k1] = noiseKeys(rnd(10, t), rnd(11, t) % 100);
      for (let c = 0; c < 5000; c++) expect(quadWords(c, k0, k1)).not.toContain(hash32(c, k0, k1));
    }
  });

  it('differs from stream 1, and refuses an unknown stream in one line', () => {
    const a = new Float32Array(64);
    const b = new Float32Array(64);
    normalFill(a, 3, 4, 0, 1);
    normalFill(b, 3, 4, 0, 2);
    expect(bits(a).filter((x, i) => x === bits(b)[i]).length).toBe(0);
    expect(() => normalFill(a, 3, 4, 0, 3 as 2)).toThrow(/^noise: stream must be 1 or 2, got 3$/);
    expect(() => noiseSum(4, 0, [], 0, undefined, 0 as 2)).toThrow('noise: stream must be 1 or 2, got 0');
    expect(() => applyNoiseArrays([{ data: a, block: 0, terms: [], stream: 5 as 2 }])).toThrow('applyNoiseArrays: items[0].stream must be 1 or 2, got 5');
  });
});

describe('noise stream 2: the fast implementations equal the reference bit for bit', () => {
  for (const name of ['wasm-simd', 'js'] as const) {
    it(`${name}: normalFill and normalAccumulate on random (seed, block, start, length), every start mod 4, short tails, near 2^32`, () => {
      useNoiseImplementation(name);
      const lengths = [0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 33, 63, 65];
      for (let t = 0; t < 150; t++) {
        const seed = rnd(1, t);
        const block = rnd(2, t) % 1000;
        const n = t < lengths.length ? lengths[t] : rnd(3, t) % 3000;
        const start = t % 5 === 4 ? 2 ** 32 - n - (t % 4) : rnd(4, t) % 100_000;
        const want = new Float32Array(n);
        const got = new Float32Array(n).fill(NaN);
        normalFillRef(want, seed, block, start, 2);
        normalFill(got, seed, block, start, 2);
        expect(bits(got), `fill seed ${seed} block ${block} start ${start} n ${n}`).toEqual(bits(want));
        const base = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3.25);
        const accWant = base.slice();
        const accGot = base.slice();
        normalAccumulateRef(accWant, seed, block, 0.37, start, 2);
        normalAccumulate(accGot, seed, block, 0.37, start, 2);
        expect(bits(accGot), `accumulate seed ${seed} start ${start} n ${n}`).toEqual(bits(accWant));
      }
    });

    it(`${name}: spans longer than one kernel chunk from every start mod 4, and noiseSum of several terms`, () => {
      useNoiseImplementation(name);
      for (const start of [0, 1, 2, 3, 65_535, 131_074]) {
        const want = new Float32Array(140_003);
        const got = new Float32Array(140_003);
        normalFillRef(want, 9, 4, start, 2);
        normalFill(got, 9, 4, start, 2);
        expect(fnv(got), `start ${start}`).toBe(fnv(want));
      }
      const terms = [{ seed: 5, coef: 0.25 }, { seed: 6, coef: -1.5 }, { seed: 5, coef: 3 }];
      for (const start of [0, 3, 70_001]) {
        const want = new Float32Array(70_000);
        for (const t of terms) normalAccumulateRef(want, t.seed, 11, t.coef, start, 2);
        expect(bits(noiseSum(70_000, 11, terms, start, undefined, 2)), `start ${start}`).toEqual(bits(want));
        expect(bits(noiseSum(70_000, 11, terms, start, new Float32Array(70_000), 2))).toEqual(bits(want));
      }
    });
  }

  describe('the noise pool', () => {
    let pool: NoisePool;
    beforeAll(() => {
      pool = NoisePool.create(3, { minParallel: 0 });
    });
    afterAll(() => pool.close());

    it('gives applyNoiseArrays bits on shared and plain weights with stream 2 items beside stream 1 items', async () => {
      const sizes = [1, 17, 4099, 70_001];
      const make = (shared: boolean) =>
        sizes.map((n, j) => {
          const d = shared ? sharedFloat32Array(n) : new Float32Array(n);
          for (let i = 0; i < n; i++) d[i] = Math.fround(((i * 37 + j) % 101) / 50 - 1);
          return d;
        });
      const items = (data: Float32Array[]): ArrayNoiseUpdate[] =>
        data.map((d, j) => ({ data: d, block: j, terms: [{ seed: 21, coef: 1e-2 }, { seed: 22, coef: -3e-3 }], keep: j === 2 ? 0.999 : 1, stream: j % 2 === 0 ? 2 : 1 }));
      const want = make(false);
      applyNoiseArrays(items(want));
      for (const shared of [true, false]) {
        const got = make(shared);
        await pool.apply(items(got));
        got.forEach((d, j) => expect(bits(d), `${shared ? 'shared' : 'plain'} block ${j}`).toEqual(bits(want[j])));
      }
      // and stream 2 is what applyNoiseArrays applied: z from normalFillRef
      const z = new Float32Array(sizes[0]);
      normalFillRef(z, 21, 0, 0, 2);
      const b = make(false)[0];
      applyNoiseArrays([{ data: b, block: 0, terms: [{ seed: 21, coef: 1e-2 }], stream: 2 }]);
      expect(b[0]).toBe(Math.fround(make(false)[0][0] + Math.fround(Math.fround(1e-2) * z[0])));
    });
  });
});

// ---- statistics on 1e6 samples ----

/** Φ(x), the standard normal CDF, via erfc (Numerical Recipes' erfcc: |relative error| < 1.2e-7). */
function normalCdf(x: number): number {
  const zz = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * zz);
  const r = t * Math.exp(-zz * zz - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r / 2 : r / 2;
}

/** Kolmogorov–Smirnov statistic D of the samples against a CDF. */
function ksStatistic(xs: Float64Array, cdf: (x: number) => number): number {
  const s = xs.slice().sort();
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs((i + 1) / s.length - f));
  }
  return d;
}

const correlation = (a: ArrayLike<number>, b: ArrayLike<number>, n: number): number => {
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let i = 0; i < n; i++) {
    sa += a[i];
    sb += b[i];
    saa += a[i] * a[i];
    sbb += b[i] * b[i];
    sab += a[i] * b[i];
  }
  const cov = sab / n - (sa / n) * (sb / n);
  return cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
};

describe('noise stream 2: statistics on 1e6 samples', () => {
  const N = 1 << 20;
  const z = new Float32Array(N);
  beforeAll(() => normalFill(z, 1234, 56, 0, 2));
  // 5 standard errors: a correct generator fails one of these by chance with probability < 1e-5
  const se = 5 / Math.sqrt(N);

  it('moments: mean 0, variance 1, skewness 0, kurtosis 3', () => {
    let m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (const x of z) {
      m1 += x;
      m2 += x * x;
      m3 += x ** 3;
      m4 += x ** 4;
    }
    [m1, m2, m3, m4] = [m1 / N, m2 / N, m3 / N, m4 / N];
    expect(Math.abs(m1)).toBeLessThan(se); // sd of the mean: 1/√N
    expect(Math.abs(m2 - 1)).toBeLessThan(se * Math.SQRT2); // sd of x²: √2
    expect(Math.abs(m3)).toBeLessThan(se * Math.sqrt(15)); // sd of x³: √15
    expect(Math.abs(m4 - 3)).toBeLessThan(se * Math.sqrt(96)); // sd of x⁴: √(105 − 9)
  });

  it('Kolmogorov–Smirnov against the normal CDF, over all samples and over each position in the quad', () => {
    // critical D at α = 1e-4: sqrt(ln(2/α)/2)/√n ≈ 2.23/√n
    expect(ksStatistic(Float64Array.from(z), normalCdf)).toBeLessThan(2.23 / Math.sqrt(N));
    for (let j = 0; j < 4; j++) {
      const xs = Float64Array.from({ length: N / 4 }, (_, i) => z[4 * i + j]);
      expect(ksStatistic(xs, normalCdf), `position ${j}`).toBeLessThan(2.23 / Math.sqrt(N / 4));
    }
    // the radius of a quad: |z|² ~ χ² with 4 degrees of freedom, CDF 1 − e^(−x/2)·(1 + x/2)
    const r2 = Float64Array.from({ length: N / 4 }, (_, i) => z[4 * i] ** 2 + z[4 * i + 1] ** 2 + z[4 * i + 2] ** 2 + z[4 * i + 3] ** 2);
    expect(ksStatistic(r2, (x) => 1 - Math.exp(-x / 2) * (1 + x / 2))).toBeLessThan(2.23 / Math.sqrt(N / 4));
  });

  it('tails: P(|z| > 2), P(|z| > 3) and P(|z| > 4) as the normal law gives them', () => {
    for (const [a, p] of [[2, 0.0455003], [3, 0.0026998], [4, 6.3342e-5]]) {
      const count = z.reduce((s, x) => s + (Math.abs(x) > a ? 1 : 0), 0);
      const sd = Math.sqrt(N * p * (1 - p));
      expect(Math.abs(count - N * p), `|z| > ${a}`).toBeLessThan(5 * sd);
    }
  });

  it('independence between neighbouring samples (inside and across quads), of their squares, and between seeds and blocks', () => {
    const n = N - 8;
    const sq = z.map((x) => x * x);
    for (const lag of [1, 2, 3, 4, 5, 8]) {
      expect(Math.abs(correlation(z, z.subarray(lag), n)), `lag ${lag}`).toBeLessThan(se);
      // the four samples of a quad share one radius: independent as N(0, I₄) only if the split by t is right
      expect(Math.abs(correlation(sq, sq.subarray(lag), n)), `squares, lag ${lag}`).toBeLessThan(se * 2);
    }
    for (const [seed, block] of [[1235, 56], [1234, 57], [(0x80000000 ^ 1234) >>> 0, 56]]) {
      const other = new Float32Array(N);
      normalFill(other, seed, block, 0, 2);
      expect(Math.abs(correlation(z, other, N)), `seed ${seed} block ${block}`).toBeLessThan(se);
    }
    // the orthant of a quad: 16 sign patterns equally likely (χ² with 15 degrees of freedom, p ≈ 1e-5 at 44)
    const counts = new Array(16).fill(0);
    for (let i = 0; i < N / 4; i++) counts[(z[4 * i] > 0 ? 1 : 0) | (z[4 * i + 1] > 0 ? 2 : 0) | (z[4 * i + 2] > 0 ? 4 : 0) | (z[4 * i + 3] > 0 ? 8 : 0)]++;
    const e = N / 4 / 16;
    expect(counts.reduce((s, c) => s + (c - e) ** 2 / e, 0)).toBeLessThan(44);
  });
});
