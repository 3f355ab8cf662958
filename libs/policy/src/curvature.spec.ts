// The forward-only curvature probe against quadratics whose Hessians are known, on both homes of a
// block's weights (tfjs variable, JS array), the exact restore, and the κ transform.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Block } from '@zotune/models';
import { curvatureFeature, KAPPA_CLIP, probeCurvature } from './curvature';
import { policyFeatures, INITIAL_FEATURE_STATE } from './features';

/** Blocks of the given sizes, weights 0.5 + j + i/10 (tfjs variables, or JS arrays with `host`). */
function blocks(sizes: number[], host: boolean): Block[] {
  return sizes.map((n, j) => {
    const v = Float32Array.from({ length: n }, (_, i) => 0.5 + j + i / 10);
    const b: Block = { name: `b${j}`, shape: [n], kind: 'norm', size: n, index: j };
    if (host) b.data = v;
    else b.variable = tf.variable(tf.tensor1d(v), true, `curv-spec-${j}-${n}-${Math.random()}`);
    return b;
  });
}

const values = async (bs: Block[]) => Promise.all(bs.map(async (b) => Array.from(b.data ?? ((await b.variable!.data()) as Float32Array))));

describe('probeCurvature', () => {
  for (const host of [false, true]) {
    it(`isotropic per-block quadratic: ĥ_j is h_j, and every weight is back bit for bit (${host ? 'JS arrays' : 'tfjs variables'})`, async () => {
      // L = Σ_j ½ h_j ‖θ_j − c‖²: H_jj = h_j·I, so every direction's Rayleigh quotient is h_j exactly
      const h = [0.5, 4, 0.02];
      const bs = blocks([8, 5, 12], host);
      const before = await values(bs);
      const loss = async () => {
        const v = await values(bs);
        return v.reduce((s, x, j) => s + 0.5 * h[j] * x.reduce((q, y) => q + (y - 0.25) ** 2, 0), 0);
      };
      const m = await probeCurvature(bs, loss, { delta: 1e-2, probes: 2, examples: 1, seed: 7 });
      expect(m.forwardPasses).toBe(1 + 2 * 2 * 3);
      // float32 weights: the displaced points are rounded, so agreement is to ~1e-3 relative
      m.raw.forEach((x, j) => expect(x / h[j]).toBeCloseTo(1, 2));
      expect(await values(bs)).toEqual(before);
      // κ: log10 relative to the median block (0.5), clipped
      expect(m.kappa[0]).toBeCloseTo(0, 2);
      expect(m.kappa[1]).toBeCloseTo(Math.log10(8), 2);
      expect(m.kappa[2]).toBeCloseTo(Math.log10(0.04), 2);
      for (const b of bs) b.variable?.dispose();
    });
  }

  it('a loss that is not finite is an error, and the weights are still restored', async () => {
    const bs = blocks([4, 4], true);
    const before = await values(bs);
    let calls = 0;
    await expect(probeCurvature(bs, () => (++calls === 3 ? NaN : 1), { delta: 1e-2, probes: 1, examples: 1, seed: 0 })).rejects.toThrow('curvature probe: the loss is NaN');
    expect(await values(bs)).toEqual(before);
  });

  it('refuses a bad probe setting', async () => {
    await expect(probeCurvature(blocks([2], true), () => 1, { delta: 0, probes: 1, examples: 1, seed: 0 })).rejects.toThrow(/delta must be > 0/);
  });
});

describe('curvatureFeature', () => {
  it('floors noisy and negative estimates at 1e-3 of the largest, and clips to ±3 decades', () => {
    const k = curvatureFeature([1, 10, -5, 1e-9, 100]);
    // floored: [1, 10, 0.1, 0.1, 100]; median 1
    expect(k).toEqual([0, 1, -1, -1, 2].map((x) => expect.closeTo(x, 10)));
    expect(curvatureFeature([1, 1e6, 1e6])[0]).toBe(-KAPPA_CLIP);
    expect(curvatureFeature([0, 0])).toEqual([0, 0]);
    expect(curvatureFeature([2, 8])).toEqual([expect.closeTo(Math.log10(0.5), 10), expect.closeTo(Math.log10(2), 10)]); // even count: geometric mid
    expect(() => curvatureFeature([1, NaN])).toThrow(/not finite/);
  });

  it('becomes the sixth feature of every block', () => {
    const x = policyFeatures([{ mean: 1, variance: 2 }, { mean: 3, variance: 4 }], INITIAL_FEATURE_STATE, [0.5, -1]);
    expect(Array.from(x)).toEqual([1, 2, 0, 0, 1, 0.5, 3, 4, 0, 0, 1, -1]);
    expect(() => policyFeatures([{ mean: 1, variance: 2 }], INITIAL_FEATURE_STATE, [0, 1])).toThrow(/κ holds 2 values for 1 blocks/);
  });
});
