import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { useNoiseImplementation, type NoiseTerm } from './noise';
import { applyNoiseArrays, applySumArray, sharedFloat32Array, type ArrayNoiseUpdate } from './noise-arrays';
import { DEFAULT_MIN_PARALLEL, NoisePool, splitWork } from './noise-pool';
import { normalFillRef } from './noise-ref';
import { applyNoiseMany, applySum } from './perturb';

const f = Math.fround;
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length).slice();
/** Index of the first element whose bits differ (or the length that differs), -1 when equal: fast on big arrays. */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const u = bits(a), v = bits(b);
  for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return i;
  return -1;
}

/** Shared weights of realistic magnitude, with ±0 and a subnormal sprinkled in. */
function weights(n: number, seed: number): Float32Array {
  const w = sharedFloat32Array(n);
  normalFillRef(w, seed, 99);
  for (let i = 0; i < n; i++) w[i] = f(w[i] * 0.02);
  for (let i = 50; i < n; i += 101) w[i] = [0, -0, 1e-40][((i - 50) / 101) % 3];
  return w;
}

// Blocks: sizes from 1 (smaller than any split) to one over the kernel's 65536-float chunk, odd ones,
// one of 300k; terms empty (with keep ≠ 1 and with keep 1), one term, three terms; block ids up to 2^32 − 1.
// one block of 2^21 + 3 elements spans two batches of sums (SUM_BATCH) on plain arrays
const sizes = [1, 3, 7, 8, 9, 4773, 65537, 300_001, 2, 129, 1000, 17, 5, 2 ** 21 + 3]; // the last: one term
function pass(seed: number): { sizes: number[]; make: (data: Float32Array[]) => ArrayNoiseUpdate[] } {
  const terms: NoiseTerm[][] = [[], [{ seed: seed, coef: 1e-3 }], [{ seed: seed + 1, coef: 0.3 }, { seed: seed + 2, coef: -0.7 }, { seed: 0xffffffff, coef: 1e-5 }]];
  return {
    sizes,
    make: (data) =>
      data.map((d, i) => ({ data: d, block: i === 3 ? 0xffffffff : i, terms: terms[i % 3], keep: i % 2 === 0 ? 0.999 : 1 })),
  };
}

const pools: NoisePool[] = [];
afterAll(async () => {
  for (const p of pools) await p.close();
});
const pool = (threads: number, minParallel = 0) => {
  const p = NoisePool.create(threads, { minParallel });
  pools.push(p);
  return p;
};

describe('NoisePool', () => {
  it('gives applyNoiseArrays and applyNoiseMany bits on 1, 2 and 3 threads, over many passes', async () => {
    const { make } = pass(5);
    const base = sizes.map((n, i) => weights(n, i));
    const one = base.map((w) => w.slice());
    const vars = base.map((w, i) => tf.variable(tf.tensor(w), true, `pool-${i}-${Date.now()}`));
    // weights on SharedArrayBuffers (updated in place by the threads) and on plain ArrayBuffers (noise
    // sums from the threads, the update on this thread), and a mix of both in one pass
    const copy = (w: Float32Array, shared: boolean) => {
      const s = shared ? sharedFloat32Array(w.length) : new Float32Array(w.length);
      s.set(w);
      return s;
    };
    const multi = [
      ...[1, 2, 3].map((t) => ({ p: pool(t), data: base.map((w) => copy(w, true)) })),
      ...[2, 3].map((t) => ({ p: pool(t), data: base.map((w) => copy(w, false)) })),
      { p: pool(2), data: base.map((w, i) => copy(w, i % 2 === 0)) },
    ];
    try {
      for (let step = 0; step < 3; step++) {
        const seedTerms = (its: ArrayNoiseUpdate[]) => its.map((it) => ({ ...it, terms: it.terms.map((t) => ({ ...t, seed: (t.seed + step) >>> 0 })) }));
        applyNoiseArrays(seedTerms(make(one)));
        applyNoiseMany(seedTerms(make(one)).map((it, i) => ({ variable: vars[i], block: it.block, terms: it.terms, keep: it.keep })));
        for (const m of multi) await m.p.apply(seedTerms(make(m.data)));
      }
      expect(multi.map((m) => m.p.threads)).toEqual([1, 2, 3, 2, 3, 2]);
      one.forEach((w, i) => {
        const noop = i % 3 === 0 && i % 2 === 1; // no terms and keep 1: left untouched
        if (noop) expect(firstDiff(w, base[i])).toBe(-1);
        else expect(firstDiff(w, base[i])).not.toBe(-1);
        expect(firstDiff(vars[i].dataSync() as Float32Array, w)).toBe(-1);
        multi.forEach((m, k) => expect(firstDiff(m.data[i], w), `block ${i}, pool ${k}`).toBe(-1));
      });
    } finally {
      vars.forEach((v) => v.dispose());
    }
  });

  it('equals the JS fallback and the cached-noise path (applySumArray, applySum)', async () => {
    const n = 70_001;
    const terms = [{ seed: 41, coef: 2e-3 }, { seed: 42, coef: -1e-3 }];
    const a = weights(n, 7), b = a.slice(), c = a.slice();
    const v = tf.variable(tf.tensor(a), true, `pool-cache-${Date.now()}`);
    await pool(2).apply([{ data: a, block: 4, terms, keep: 0.99 }]);
    useNoiseImplementation('js');
    try {
      applyNoiseArrays([{ data: b, block: 4, terms, keep: 0.99 }]);
    } finally {
      useNoiseImplementation('auto');
    }
    // the Perturber's noise cache: S from stored z, summed as noiseSum does, then the update
    const S = new Float32Array(n);
    for (const t of terms) {
      const z = new Float32Array(n);
      normalFillRef(z, t.seed, 4);
      for (let i = 0; i < n; i++) S[i] = f(S[i] + f(f(t.coef) * z[i]));
    }
    applySumArray(c, S, 0.99);
    applySum(v, S, 0.99);
    expect(firstDiff(b, a)).toBe(-1); // an index, not a diff of 70k numbers, when it fails
    expect(firstDiff(c, a)).toBe(-1);
    expect(firstDiff(v.dataSync() as Float32Array, a)).toBe(-1);
    v.dispose();
  });

  it('runs passes below minParallel on the calling thread, and starts its threads on the first split pass', async () => {
    const p = NoisePool.create(2);
    pools.push(p);
    expect(p.threads).toBe(2);
    expect(p.started).toBe(false); // create() starts no thread
    const terms = [{ seed: 3, coef: 1e-3 }];
    // elements counted are those of items with work: the no-op item (no terms, keep 1) does not count
    const sizes = [DEFAULT_MIN_PARALLEL - 1, 10, 1];
    const make = (data: Float32Array[], withLast: boolean): ArrayNoiseUpdate[] => [
      { data: data[0], block: 0, terms },
      { data: data[1], block: 1, terms: [] },
      ...(withLast ? [{ data: data[2], block: 2, terms: [], keep: 0.5 }] : []),
    ];
    for (const withLast of [false, true]) {
      const shared = sizes.map((n, i) => weights(n, 20 + i));
      const want = shared.map((w) => w.slice());
      const plain = shared.map((w) => w.slice());
      applyNoiseArrays(make(want, withLast));
      await p.apply(make(plain, withLast));
      await p.apply(make(shared, withLast));
      // 2^20 − 1 elements: this thread; 2^20: split, threads started on the way
      expect(p.started, `withLast ${withLast}`).toBe(withLast);
      want.forEach((w, i) => {
        expect(firstDiff(plain[i], w), `plain ${i}, withLast ${withLast}`).toBe(-1);
        expect(firstDiff(shared[i], w), `shared ${i}, withLast ${withLast}`).toBe(-1);
      });
    }
    // setMinParallel(0) splits small passes from then on
    const q = NoisePool.create(2);
    pools.push(q);
    const w = weights(1000, 1), want = w.slice();
    applyNoiseArrays([{ data: want, block: 1, terms }]);
    await q.apply([{ data: w, block: 1, terms: [] }]); // nothing to do: no split even at 0
    expect(q.setMinParallel(0).started).toBe(false);
    await q.apply([{ data: w, block: 1, terms }]);
    expect(q.started).toBe(true);
    expect(firstDiff(w, want)).toBe(-1);
    expect(() => q.setMinParallel(-1)).toThrow(/minParallel must be an integer >= 0, got -1/);
    expect(() => NoisePool.create(2, { minParallel: 0.5 })).toThrow(/minParallel must be an integer >= 0, got 0\.5/);
    // one thread: never starts one
    const one = NoisePool.create(1, { minParallel: 0 });
    await one.apply([{ data: w, block: 1, terms }]);
    expect([one.threads, one.started]).toEqual([1, false]);
  });

  it('splits by cost into ranges that cover every element once, also for blocks smaller than a split', () => {
    const items = [1, 5, 64, 1003, 2, 100_000].map((n, i) => ({ data: new Float32Array(n), block: i, terms: i % 2 ? [{ seed: 1, coef: 1 }] : [] }));
    for (const parts of [1, 2, 3, 7]) {
      const split = splitWork(items, parts);
      expect(split).toHaveLength(parts);
      const seen = items.map((it) => new Uint8Array(it.data.length));
      for (const r of split) {
        for (let k = 0; k < r.length; k += 3) {
          expect(r[k + 1] % 8).toBe(0);
          for (let e = r[k + 1]; e < r[k + 1] + r[k + 2]; e++) seen[r[k]][e]++;
        }
      }
      for (const s of seen) expect(s.every((x) => x === 1)).toBe(true);
    }
    const [a, b] = splitWork(items, 2).map((r) => r.reduce((s, _, k) => (k % 3 === 2 ? s + r[k] * (items[r[k - 2]].terms.length + 1) : s), 0));
    expect(Math.abs(a - b) / (a + b)).toBeLessThan(0.01);
  });

  it('rejects bad items before any weight changes, and calls after close', async () => {
    const p = NoisePool.create(2, { minParallel: 0 });
    const good = weights(100, 1), before = good.slice();
    await expect(p.apply([{ data: good, block: 0, terms: [{ seed: 1, coef: 1 }] }, { data: good, block: -1, terms: [] }])).rejects.toThrow(
      /NoisePool\.apply: items\[1\]\.block must be a uint32, got -1/,
    );
    await expect(p.apply([{ data: good, block: 0, terms: [{ seed: 1, coef: NaN }] }])).rejects.toThrow(/items\[0\]\.terms\[0\]\.coef must be finite/);
    expect(firstDiff(good, before)).toBe(-1);
    await p.apply([{ data: good, block: 0, terms: [{ seed: 1, coef: 1 }] }]); // still works
    await p.close();
    await expect(p.apply([{ data: good, block: 0, terms: [{ seed: 1, coef: 1 }] }])).rejects.toThrow(/noise pool: closed/);
    expect(() => NoisePool.create(0)).toThrow(/threads must be an integer in \[1, 256\], got 0/);
  });

  it('starts its threads under plain node + tsx and does not keep the process alive', () => {
    const entry = fileURLToPath(new URL('./noise-pool.ts', import.meta.url));
    const script = `
      const { NoisePool } = await import(${JSON.stringify(entry)});
      const { sharedFloat32Array } = await import(${JSON.stringify(entry.replace('noise-pool.ts', 'noise-arrays.ts'))});
      const d = sharedFloat32Array(100000);
      const p = NoisePool.create(2, { minParallel: 0 });
      const before = p.started;
      await p.apply([{ data: d, block: 3, terms: [{ seed: 9, coef: 1 }] }]);
      console.log(p.threads, before, p.started, d[0] !== 0, d[99999] !== 0);`; // no close(): the process must still exit
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, FORCE_COLOR: '0' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('2 false true true true');
  });
});
