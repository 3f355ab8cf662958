// The idealised linear model of ALGORITHMS.md §3: on L(θ) = gᵀθ the quality of a direction v is
// d·E[cos²(v, ∇L)]; a random direction scores 1. Run the real estimators (their ranking and weights)
// at θ = 0 and rebuild v from the record's seeds and weights.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepRecord } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import { normalFillRef, type NoiseStream } from '@zotune/tensor';
import { stepSeed } from './config';
import { createEstimator, noiseStreamOf } from './estimator';

const d = 2000;
const draws = 300;
let block: Block;
let gvec: tf.Tensor1D; // [d]
const g = new Float32Array(d);

beforeAll(() => {
  normalFillRef(g, 123456, 7);
  gvec = tf.tensor1d(g);
  block = { name: 'w', shape: [d], kind: 'matrix', size: d, index: 0, variable: tf.variable(tf.zeros([d]), false, 'linear-w') };
});
afterAll(() => {
  gvec.dispose();
  block.variable!.dispose();
});

const lossValue = async () => {
  const t = tf.tidy(() => tf.sum(tf.mul(gvec, block.variable!)));
  const v = (await t.data())[0];
  t.dispose();
  return v;
};

function direction(rec: StepRecord, stream: NoiseStream): Float64Array {
  const v = new Float64Array(d);
  const z = new Float32Array(d);
  rec.candidates.forEach((c, i) => {
    const w = rec.probes[0].weights[i];
    if (w === 0) return;
    normalFillRef(z, c.seed, 0, 0, stream);
    for (let k = 0; k < d; k++) v[k] += w * z[k];
  });
  return v;
}

async function alignment(config: Parameters<typeof createEstimator>[0]): Promise<{ mean: number; se: number; norm2: number }> {
  const est = createEstimator(config);
  const xs: number[] = [];
  let norm2 = 0;
  let gg = 0;
  for (let k = 0; k < d; k++) gg += g[k] * g[k];
  for (let i = 0; i < draws; i++) {
    const rec = await est.step({ blocks: [block], lossValue, step: i, seed: stepSeed(2024, i) });
    const v = direction(rec, noiseStreamOf(est.trajectoryVersion));
    let gv = 0;
    let vv = 0;
    for (let k = 0; k < d; k++) {
      gv += g[k] * v[k];
      vv += v[k] * v[k];
    }
    xs.push((d * gv * gv) / (gg * vv));
    norm2 += vv / d / draws;
  }
  est.dispose();
  const mean = xs.reduce((a, b) => a + b, 0) / draws;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (draws - 1));
  return { mean, se: sd / Math.sqrt(draws), norm2 };
}

describe('idealised linear model: d·E[cos²(v, ∇L)]', () => {
  // expected values: E over order statistics of M standard normals (ALGORITHMS.md §3: 1.0, 2.1, 4.6, 1.55, 2.4)
  const cases: [string, Parameters<typeof createEstimator>[0], number][] = [
    ['mezo', { name: 'mezo' }, 1.0],
    ['guided M=4', { name: 'guided', candidates: 4 }, 2.1],
    ['guided M=8', { name: 'guided', candidates: 8 }, 4.55],
    ['greedy k=4', { name: 'greedy', candidates: 4 }, 1.55],
    ['greedy k=8', { name: 'greedy', candidates: 8 }, 2.4],
  ];
  for (const [label, config, expected] of cases) {
    it(`${label} ≈ ${expected}`, async () => {
      const r = await alignment(config);
      console.log(`${label}: d·E[cos²] = ${r.mean.toFixed(3)} ± ${r.se.toFixed(3)} (expected ${expected}), E‖v‖²/d = ${r.norm2.toFixed(3)}`);
      expect(Math.abs(r.mean - expected)).toBeLessThan(4 * r.se + 0.05);
      expect(r.norm2).toBeGreaterThan(0.95); // normalised: E‖v‖² = d
      expect(r.norm2).toBeLessThan(1.05);
    });
  }

  it('guided M = 2 has unit variance per coordinate when normalised and doubled variance when not', async () => {
    const on = await alignment({ name: 'guided', candidates: 2 });
    const off = await alignment({ name: 'guided', candidates: 2, normalize: false });
    expect(on.norm2).toBeCloseTo(1, 1);
    expect(off.norm2).toBeCloseTo(2, 1);
    // the ranking is useless with M = 2: the alignment is a random direction's
    expect(Math.abs(on.mean - 1)).toBeLessThan(4 * on.se + 0.05);
  });
});
