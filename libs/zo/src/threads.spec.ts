// Blocks held in JS memory (Block.data on SharedArrayBuffers, engine ort) are moved by NoisePool's
// threads: a run, its noise cache and its replay give the same bits on 1, 2 and 3 threads, and the bits
// of the same model held in tfjs variables.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Block, BlockKind } from '@zotune/models';
import { normalFill, sharedFloat32Array, sharedNoisePool } from '@zotune/tensor';
import type { EstimatorConfigInput } from './config';
import { createEstimator } from './estimator';
import { Perturber } from './perturb';
import { replay } from './replay';
import { trajectoryHeader } from './header';
import { stepSeed } from './config';
import type { StepRecord } from '@zotune/artifacts';
import { sameBits } from './toy.testkit';

// odd sizes; a pass is far below NoisePool's default threshold (2^20 elements), so the shared 2-thread
// pool is set to split every pass (beforeAll): two threads really share the passes
const SPECS: [string, number[], BlockKind][] = [
  ['model.embed_tokens.weight', [301, 129], 'embedding'],
  ['model.layers.0.mlp.up_proj.weight', [129, 77], 'matrix'],
  ['model.layers.0.mlp.up_proj.bias', [7], 'bias'],
  ['model.norm.weight', [129], 'norm'],
];

/** The blocks with weights in JS memory, shared or plain (ONNX Runtime's), or in tfjs variables; seeded values. */
function hosted(seed: number, home: 'shared' | 'plain' | 'variable' = 'shared'): Block[] {
  return SPECS.map(([name, shape, kind], index) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = sharedFloat32Array(size);
    normalFill(data, seed, index);
    for (let i = 0; i < size; i++) data[i] = Math.fround(data[i] * 0.1 + (kind === 'norm' ? 1 : 0));
    if (home === 'shared') return { name, shape, kind, size, index, data };
    if (home === 'plain') return { name, shape, kind, size, index, data: data.slice() };
    return { name, shape, kind, size, index, variable: tf.variable(tf.tensor(data, shape), true, `threads-${seed}-${index}-${Math.random()}`) };
  });
}

const values = (blocks: Block[]) => blocks.map((b) => (b.data ? b.data.slice() : (b.variable!.dataSync() as Float32Array).slice()));

/** A loss of the weights alone (float64 sum in a fixed order), so that steps depend on the moves. */
function lossOf(blocks: Block[]): () => number {
  return () => {
    let s = 0;
    for (const v of values(blocks)) for (let i = 0; i < v.length; i++) s += (v[i] - 0.05) ** 2 * (1 + (i % 3));
    return s / 1e4;
  };
}

async function run(config: EstimatorConfigInput, threads: number, steps: number, blocks = hosted(3)): Promise<{ blocks: Block[]; records: StepRecord[] }> {
  const est = createEstimator(config, { threads });
  const records: StepRecord[] = [];
  let prev: StepRecord | undefined;
  for (let step = 0; step < steps; step++) {
    prev = await est.step({ blocks, lossValue: lossOf(blocks), step, seed: stepSeed(9, step), prev });
    await est.update(blocks, prev);
    records.push(prev);
  }
  est.dispose();
  return { blocks, records };
}

// cacheNoise 'auto' (the default) regenerates the noise on the threads when there are several; true
// keeps the cached (one-thread) path for the moves with terms
const configs: EstimatorConfigInput[] = [
  { name: 'mezo', eps: 1e-3, lr: 1e-2, weightDecay: 0.1 },
  { name: 'guided', candidates: 4, eps: 1e-3, lr: 1e-2 },
  { name: 'elite', eps: 1e-3, lr: 1e-2, weightDecay: 0.1, cacheNoise: true },
  { name: 'mezo', eps: 1e-3, lr: 1e-2, queries: 2, cacheNoise: false },
];

describe('threads: blocks in JS memory moved by NoisePool', () => {
  beforeAll(() => {
    sharedNoisePool(2).setMinParallel(0);
    sharedNoisePool(3).setMinParallel(0);
  });

  it('Perturber.move gives the same bits on 1 and 2 threads as tfjs variables, cached or not', async () => {
    const sigma = [0.5, 2, 0, 1];
    const terms = [{ seed: 21, coef: 1e-2 }, { seed: 22, coef: -3e-3 }];
    const keep = (b: Block) => (b.kind === 'matrix' ? 1 : 0.999);
    for (const cacheNoise of [false, true]) {
      const tfBlocks = hosted(5, 'variable');
      const start = values(tfBlocks);
      await new Perturber({ cacheNoise }).move(tfBlocks, sigma, terms, keep);
      const want = values(tfBlocks);
      tfBlocks.forEach((b) => b.variable!.dispose());
      for (const [threads, home] of [[1, 'shared'], [2, 'shared'], [2, 'plain'], [3, 'shared'], [3, 'plain']] as const) {
        const blocks = hosted(5, home);
        await new Perturber({ cacheNoise, threads }).move(blocks, sigma, terms, keep);
        expect(sameBits(values(blocks), want), `threads ${threads}, ${home}, cacheNoise ${cacheNoise}`).toBe(true);
      }
      expect(sameBits(want, start)).toBe(false);
    }
    expect(sharedNoisePool(2).threads).toBe(2);
    expect(sharedNoisePool(2).started).toBe(true);
  });

  for (const config of configs) {
    it(`${config.name} (cacheNoise ${config.cacheNoise ?? 'auto'}): a few steps (fused updates) give identical weights bytes and records on 1, 2 and 3 threads, and replay on any`, async () => {
      const one = await run(config, 1, 4);
      const two = await run(config, 2, 4);
      const three = await run(config, 3, 4);
      const plain = await run(config, 2, 4, hosted(3, 'plain'));
      const plain3 = await run(config, 3, 4, hosted(3, 'plain'));
      for (const [label, other] of [['2 shared', two], ['3 shared', three], ['2 plain', plain], ['3 plain', plain3]] as const) {
        expect(sameBits(values(other.blocks), values(one.blocks)), label).toBe(true);
        expect(other.records, label).toEqual(one.records);
      }
      expect(sameBits(values(one.blocks), values(hosted(3)))).toBe(false);
      const est = createEstimator(config);
      const header = await trajectoryHeader(hosted(3), { runSeed: 9, family: 'toy', estimator: est.config, run: {} });
      est.dispose();
      for (const threads of [3, 2, 1]) {
        const base = hosted(3);
        await replay(base, header, one.records, { threads });
        expect(sameBits(values(base), values(one.blocks)), `replay on ${threads} threads`).toBe(true);
      }
    });
  }
});
