import { describe, expect, it } from 'vitest';
import { breakdown, SECOND_COPY_MIN_MIB } from './bench-memory';

const MIB = 2 ** 20;
const sample = (o: { rss: number; heapTotal: number; external: number; arrayBuffers: number }, phase = 'after model') => ({
  phase, heapUsed: 0, ...Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v * MIB])) as typeof o,
});

describe('bench memory: where the MiB of a peak go', () => {
  const built = sample({ rss: 300, heapTotal: 40, external: 110, arrayBuffers: 100 }, 'start');
  it('splits the peak into terms that add up to it, and flags a second copy of the weights', () => {
    const at = sample({ rss: 500, heapTotal: 60, external: 230, arrayBuffers: 210 }, 'after step 2');
    const b = breakdown(520 * 1024, at, 100 * MIB, built);
    expect(b).toMatchObject({ phase: 'after step 2', weights: 100, otherArrays: 110, jsHeap: 60, otherExternal: 20, native: 150, nativeGrowth: 60, betweenSamples: 20, secondCopy: true });
    const sum = b.weights + b.otherArrays + b.jsHeap + b.otherExternal + b.native + b.nativeGrowth + b.betweenSamples;
    expect(sum).toBeCloseTo(520, 9);
  });

  it('no second copy when the other arrays hold less than 0.9× the weights; no verdict under the minimum', () => {
    const at = sample({ rss: 400, heapTotal: 50, external: 200, arrayBuffers: 180 });
    expect(breakdown(400 * 1024, at, 100 * MIB, built).secondCopy).toBe(false);
    expect(breakdown(400 * 1024, at, (SECOND_COPY_MIN_MIB - 1) * MIB, built).secondCopy).toBeNull();
  });
});
