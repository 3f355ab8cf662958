// Whether a step keeps its noise in memory (cacheNoise of EstimatorConfig). The bits are the same
// either way (perturb.spec.ts, threads.spec.ts), so what is pinned here is the decision itself, which
// sets a step's memory (seeds × parameters floats cached) and where its passes run: true and false as
// given; 'auto' caches when seeds × parameters × 4 bytes fit in NOISE_CACHE_AUTO_BYTES (64 MiB) and the
// passes stay on this thread, and not when several threads share blocks held in JS memory (Block.data).
// Each step stops at its first forward pass (a loss that throws): the decision is taken before it.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import type { Block } from '@zotune/models';
import type { EstimatorConfigInput } from './config';
import { createEstimator } from './estimator';
import { Perturber } from './perturb';

/** Blocks of the given sizes, in JS memory (Block.data) or in tfjs variables. */
function blocks(sizes: number[], home: 'data' | 'variable'): Block[] {
  return sizes.map((size, index) => {
    const b = { name: `model.layers.${index}.weight`, shape: [size], kind: 'matrix' as const, size, index };
    const data = new Float32Array(size).fill(0.5);
    return home === 'data' ? { ...b, data } : { ...b, variable: tf.variable(tf.tensor1d(data)) };
  });
}

/** What the step asked the perturber: cache its noise or not. */
async function decision(config: EstimatorConfigInput, bs: Block[], threads?: number): Promise<boolean> {
  const setCaching = vi.spyOn(Perturber.prototype, 'setCaching');
  try {
    const est = createEstimator(config, { threads });
    const stop = () => {
      throw new Error('stop');
    };
    await expect(est.step({ blocks: bs, lossValue: stop, step: 0, seed: 1 })).rejects.toThrow('stop');
    est.dispose();
    const calls = setCaching.mock.calls.map((c) => c[0]);
    // the constructor's setCaching(false), then the step's
    expect(calls.length).toBe(2);
    return calls[1];
  } finally {
    setCaching.mockRestore();
    bs.forEach((b) => b.variable?.dispose());
  }
}

describe('cacheNoise: the step\'s decision', () => {
  it('\'auto\' on one thread caches up to 64 MiB of noise: 16 seeds × 2^20 parameters, not one parameter more', async () => {
    const guided = { name: 'guided', candidates: 16, alpha: 0.5 } as const;
    expect(await decision(guided, blocks([2 ** 19, 2 ** 19], 'data'))).toBe(true);
    expect(await decision(guided, blocks([2 ** 19, 2 ** 19 + 1], 'data'))).toBe(false);
    expect(await decision({ ...guided, cacheNoise: true }, blocks([2 ** 19, 2 ** 19 + 1], 'data'))).toBe(true);
    expect(await decision({ ...guided, cacheNoise: false }, blocks([10, 20], 'data'))).toBe(false);
  });

  it('\'auto\' does not cache when several threads share blocks in JS memory; it does on one thread, for tfjs variables, or when asked', async () => {
    const mezo = { name: 'mezo' } as const;
    expect(await decision(mezo, blocks([100, 30], 'data'), 2)).toBe(false);
    expect(await decision(mezo, blocks([100, 30], 'data'), 1)).toBe(true);
    expect(await decision(mezo, blocks([100, 30], 'variable'), 2)).toBe(true);
    // one block in a tfjs variable: the passes are not all on the threads
    expect(await decision(mezo, [...blocks([100], 'data'), ...blocks([30], 'variable').map((b) => ({ ...b, index: 1 }))], 2)).toBe(true);
    expect(await decision({ ...mezo, cacheNoise: true }, blocks([100, 30], 'data'), 2)).toBe(true);
  });
});
