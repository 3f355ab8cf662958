// The scalar noise, noise-ref.ts (the specification) and noise-js.ts (its JavaScript port), streams 1
// and 2, on small inputs against values derived outside them: murmur3's published finaliser values, keys and seeds
// derived in Python from the formulas of noise-ref.ts's header (mmh3.hash(b'', h) is fmix32(h):
// murmur3 of the empty input is the finaliser of its seed), the pinned golden bits, and the
// WebAssembly kernel (AssemblyScript, a separate implementation of the same specification).
// Small on purpose: Stryker runs this file alone on noise-ref.ts and noise-js.ts
// (stryker.noise.config.mjs), whose instrumented hot loops make noise.spec.ts's 1e5-sample
// checks minutes long per mutant.
import { afterEach, describe, expect, it } from 'vitest';
import { deriveSeed, fmix32, hash32, logf, NOISE_STREAMS, noiseKeys, normalAccumulateRef, normalFillRef, normalPair, type NoiseStream } from './noise-ref';
import { noiseJs } from './noise-js';
import { normalFill, useNoiseImplementation } from './noise';
import { bits, hex } from './noise-bits.testkit';
import { GOLDEN, GOLDEN_STREAM2, goldenValues } from './noise-golden.testkit';

const f = Math.fround;
const fill = {
  reference: (out: Float32Array, seed: number, block: number, start = 0, stream: NoiseStream = 1) => normalFillRef(out, seed, block, start, stream),
  js: (out: Float32Array, seed: number, block: number, start = 0, stream: NoiseStream = 1) => noiseJs(out, seed, block, start, 0, false, stream),
};
const accumulate = {
  reference: (out: Float32Array, seed: number, block: number, coef: number, start = 0, stream: NoiseStream = 1) => normalAccumulateRef(out, seed, block, coef, start, stream),
  js: (out: Float32Array, seed: number, block: number, coef: number, start = 0, stream: NoiseStream = 1) => noiseJs(out, seed, block, start, coef, true, stream),
};
const IMPLS = ['reference', 'js'] as const;
const STREAMS = [[1, GOLDEN], [2, GOLDEN_STREAM2]] as const;

/** The WebAssembly kernel's z(seed, block, start…): the independent implementation compared against. */
function kernel(n: number, seed: number, block: number, start: number, stream: NoiseStream = 1): Float32Array {
  expect(useNoiseImplementation('wasm-simd')).toBe('wasm-simd');
  const out = new Float32Array(n);
  normalFill(out, seed, block, start, stream);
  useNoiseImplementation('auto');
  return out;
}

afterEach(() => {
  useNoiseImplementation('auto');
});

describe('the hash: murmur3 finaliser, keys, counters and seeds', () => {
  it('fmix32 is murmur3\'s finaliser: MurmurHash3_x86_32 of the empty input under seed s', () => {
    // s = 1 and s = 0xffffffff are SMHasher's published values; the others from mmh3 5.3.1
    const want: [number, number][] = [[0, 0], [1, 0x514e28b7], [0xffffffff, 0x81f16f39], [0x9747b28c, 0xebb6c228], [42, 0x087fcd5c], [0x80000000, 0x6d3c65a0]];
    for (const [s, h] of want) expect(fmix32(s), `s ${s}`).toBe(h);
  });

  it('noiseKeys and hash32 give the values derived in Python from the formulas', () => {
    // k0 = fmix32(seed·0x9e3779b1 ^ fmix32(block + 0x85ebca77)), k1 = fmix32(k0 ^ 0x27d4eb2f);
    // hash32(c) = fmix32(fmix32(c ^ k0) + k1), all mod 2^32
    const want: [number, number, [number, number], number[]][] = [
      [0, 0, [3101407162, 2682321036], [3073514965, 2555345823, 4162537141, 2636859028]],
      [42, 7, [1196663079, 1281672017], [3279802104, 1995497155, 2848419934, 3457967959]],
      [0xffffffff, 0xffffffff, [2523921352, 1060286446], [1187388254, 3333357633, 1367010401, 2819651052]],
      [123456789, 3, [4064314651, 1534127593], [1295073701, 3644993996, 4023468114, 4266314237]],
    ];
    for (const [seed, block, keys, hashes] of want) {
      expect(noiseKeys(seed, block), `seed ${seed} block ${block}`).toEqual(keys);
      expect([0, 1, 2, 3].map((c) => hash32(c, keys[0], keys[1]))).toEqual(hashes);
    }
  });

  it('deriveSeed: run → step → candidate, the values derived in Python (and pinned by libs/zo\'s specs)', () => {
    // s ← fmix32(fmix32(s ^ 0x632be5ab) + (i + 1)·0x9e3779b9) for each i of the path
    expect([0, 1, 2, 3, 4].map((i) => deriveSeed(42, i))).toEqual([3735005942, 3727826718, 694132572, 2707894000, 3399091179]);
    expect([deriveSeed(7, 0), deriveSeed(7, 1), deriveSeed(deriveSeed(7, 0), 0), deriveSeed(7, 0, 1)]).toEqual([2970799729, 1025948057, 3716942348, 1988733332]);
    expect(deriveSeed(0)).toBe(0); // no path: the parent itself
    expect(deriveSeed(-1)).toBe(0xffffffff); // as uint32
    expect(deriveSeed(5, 2 ** 32 - 2)).toBe(3477819601);
  });
});

describe('logf: Cephes logf in float32', () => {
  it('is ln x to within one float32 ulp on the uniforms u1 = j / 2^24 the noise takes, on both sides of √½', () => {
    expect(logf(1)).toBe(0);
    const xs: number[] = [];
    for (let j = 1; j <= 64; j++) xs.push(j * 2 ** -24, (2 ** 24 - j + 1) * 2 ** -24);
    for (let t = 0; t < 400; t++) xs.push(((t * 2654435761) % 2 ** 24 + 1) * 2 ** -24);
    for (const x of [0.5, f(Math.SQRT1_2), f(Math.SQRT1_2) - 2 ** -24, f(Math.SQRT1_2) + 2 ** -24, 0.75, 2 ** -12]) xs.push(x);
    for (const x of xs) {
      const want = Math.log(x);
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(want))) - 23);
      expect(Math.abs(logf(x) - want), `x ${x}`).toBeLessThanOrEqual(ulp);
      expect(logf(x)).toBe(f(logf(x))); // a float32
    }
  });
});

describe('the noise: golden bits, every start and length', () => {
  for (const impl of IMPLS) {
    it(`${impl}: z(seed, block, start…start+n) is the golden slice for every start 0…7 and length, streams 1 and 2`, () => {
      expect(NOISE_STREAMS).toEqual([1, 2]); // the streams there are: the two tested here
      for (const [stream, golden] of STREAMS) {
        for (const [seed, block, row] of golden) {
          for (let start = 0; start < 8; start++) {
            for (let n = 0; start + n <= 8; n++) {
              const out = new Float32Array(n).fill(NaN);
              fill[impl](out, seed, block, start, stream);
              expect(hex(out), `stream ${stream} seed ${seed} block ${block} start ${start} n ${n}`).toEqual(row.slice(start, start + n));
            }
          }
        }
      }
    });

    it(`${impl}: accumulate rounds as f32(out + f32(f32(coef)·z)) on the golden z`, () => {
      const init = [1, -2, 0.5, 1e-3, -0, 3, 1e6, -1e-6].map(f);
      for (const [stream, golden] of STREAMS) {
        for (const [seed, block, row] of golden) {
          const z = goldenValues(row);
          for (const coef of [0.1, -3, 1e-3, 1 / 3]) {
            for (const start of [0, 1, 2, 3, 5]) {
              const want = Float32Array.from(init.slice(start), (x, i) => f(x + f(f(coef) * z[start + i])));
              const got = Float32Array.from(init.slice(start));
              accumulate[impl](got, seed, block, coef, start, stream);
              expect(bits(got), `stream ${stream} seed ${seed} coef ${coef} start ${start}`).toEqual(bits(want));
            }
          }
        }
      }
    });
  }

  it('normalPair: the golden pairs from the keys', () => {
    for (const [seed, block, row] of GOLDEN) {
      const [k0, k1] = noiseKeys(seed, block);
      for (let p = 0; p < 4; p++) expect(hex(Float32Array.from(normalPair(p, k0, k1)))).toEqual(row.slice(2 * p, 2 * p + 2));
    }
  });
});

describe('the noise against the WebAssembly kernel', () => {
  // a 32-bit LCG (Numerical Recipes' constants): test parameters that do not depend on the code under test
  const params = (n: number) => {
    let s = 12345;
    const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
    return Array.from({ length: n }, (_, t) => {
      const len = next() % 41;
      const start = t % 4 === 3 ? 2 ** 32 - len - (t % 3) : next() % 1_000_000; // also at the end of the index range
      return { seed: next(), block: next() % 5000, start, len, coef: (next() / 2 ** 32 - 0.5) * 10 ** ((t % 5) - 2) };
    });
  };

  for (const impl of IMPLS) {
    it(`${impl}: fill and accumulate equal the kernel bit for bit on 120 short spans, streams 1 and 2`, () => {
      for (const [stream] of STREAMS) {
        for (const { seed, block, start, len, coef } of params(120)) {
          const want = kernel(len, seed, block, start, stream);
          const got = new Float32Array(len).fill(NaN);
          fill[impl](got, seed, block, start, stream);
          const at = `stream ${stream} seed ${seed} block ${block} start ${start} n ${len}`;
          expect(bits(got), at).toEqual(bits(want));
          const acc = Float32Array.from(want, (x, i) => f(x * (i % 3) - 0.25));
          const accWant = Float32Array.from(acc, (x, i) => f(x + f(f(coef) * want[i])));
          accumulate[impl](acc, seed, block, coef, start, stream);
          expect(bits(acc), `${at} coef ${coef}`).toEqual(bits(accWant));
        }
      }
    });

    it(`${impl}: where u1 = 1 the radius is +0, so z is a zero with the signs of cos θ and sin θ`, () => {
      // (seed, block 0, pair p) whose first hash a has a >>> 8 = 2^24 − 1, so u1 = 1 and r = √(−2·ln 1) = +0
      // (not −0: −2·0 is −0, and the r² > 0 guard makes it +0); θ = q·π/2 + y, (q, y) from the second
      // hash b, derived in Python from the formulas: the zeros' signs are those of cos θ and sin θ
      const cases = [
        { seed: 0, p: 14893139, q: 3, y: 721405 },
        { seed: 1, p: 29945914, q: 2, y: 1190201 },
        { seed: 2, p: 16972281, q: 1, y: -1974378 },
      ];
      for (const { seed, p, q, y } of cases) {
        const theta = (q * Math.PI) / 2 + (y * Math.PI) / 2 ** 23;
        const zero = (x: number) => (x > 0 ? 0 : -0);
        const want = [zero(Math.cos(theta)), zero(Math.sin(theta))];
        const got = new Float32Array(4);
        fill[impl](got, seed, 0, 2 * p - 1); // the pair and one sample either side
        expect([got[1], got[2]], `seed ${seed}`).toEqual(want); // toEqual tells +0 from −0
        expect(bits(got)).toEqual(bits(kernel(4, seed, 0, 2 * p - 1)));
        expect(got[0]).not.toBe(0);
        expect(got[3]).not.toBe(0);
      }
    });
  }
});
