import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { normalFillRef, useWeightUpdatePath, weightUpdatePath } from '@zotune/tensor';
import { createEstimator } from './estimator';
import { Perturber } from './perturb';
import { runSteps } from './run.testkit';
import { makeToy, sameBits, type Toy } from './toy.testkit';

const f = Math.fround;
const U = 2 ** -24; // float32 unit round-off

function ref(seed: number, block: number, n: number): Float32Array {
  const z = new Float32Array(n);
  normalFillRef(z, seed, block);
  return z;
}

let toy: Toy | undefined;
afterEach(() => {
  toy?.dispose();
  toy = undefined;
});

describe('Perturber.move', () => {
  it('computes θ ← f32(keep·θ) + Σ f32(coef·σ_j·z(seed, j)) per block, skipping σ_j = 0', async () => {
    toy = makeToy(2);
    const before = toy.snapshot();
    const sigma = [0.5, 0, 2, 1];
    const terms = [{ seed: 11, coef: 1e-2 }, { seed: 12, coef: -3e-3 }];
    const keep = 0.999;
    await new Perturber().move(toy.blocks, sigma, terms, (b) => (b.kind === 'matrix' ? 1 : keep));
    const after = toy.snapshot();
    toy.blocks.forEach((b, j) => {
      const k = b.kind === 'matrix' ? 1 : keep;
      const expected = before[j].map((x, i) => {
        let s = 0;
        for (const t of terms) if (sigma[j] !== 0) s = f(s + f(f(t.coef * sigma[j]) * ref(t.seed, j, b.size)[i]));
        return f((k === 1 ? x : f(f(k) * x)) + s);
      });
      expect(sameBits([after[j]], [expected]), b.name).toBe(true);
    });
    expect(sameBits([after[1]], [before[1]])).toBe(true); // σ = 0: untouched
  });

  it('gives blocks held in JS memory (Block.data, engine ort) the same bits as tfjs variables, cached or not', async () => {
    toy = makeToy(2);
    const sigma = [0.5, 0, 2, 1];
    const terms = [{ seed: 21, coef: 1e-2 }, { seed: 22, coef: -3e-3 }];
    const keep = (b: { kind: string }) => (b.kind === 'matrix' ? 1 : 0.999);
    for (const cacheNoise of [false, true]) {
      const before = toy.snapshot();
      const hosted = toy.blocks.map((b, j) => ({ ...b, variable: undefined, data: before[j].slice() }));
      await new Perturber({ cacheNoise }).move(toy.blocks, sigma, terms, keep);
      await new Perturber({ cacheNoise }).move(hosted, sigma, terms, keep);
      expect(sameBits(hosted.map((b) => b.data), toy.snapshot())).toBe(true);
      expect(sameBits(hosted.map((b) => b.data), before)).toBe(false);
    }
  });

  it('restores the weights to float32 round-off after + then −, and after the MeZO +ε, −2ε, +ε', async () => {
    toy = makeToy(3);
    const p = new Perturber();
    const eps = 1e-3;
    let worstRel = 0;
    for (let seed = 0; seed < 20; seed++) {
      const θ = toy.snapshot();
      await p.move(toy.blocks, null, [{ seed, coef: eps }]);
      await p.move(toy.blocks, null, [{ seed, coef: -eps }]);
      const once = toy.snapshot();
      await p.move(toy.blocks, null, [{ seed, coef: eps }]);
      await p.move(toy.blocks, null, [{ seed, coef: -2 * eps }]);
      await p.move(toy.blocks, null, [{ seed, coef: eps }]);
      const three = toy.snapshot();
      toy.blocks.forEach((b, j) => {
        const z = ref(seed, j, b.size);
        for (let i = 0; i < b.size; i++) {
          const t = θ[j][i];
          const S = f(f(eps) * z[i]);
          // + then −: two roundings, |θ'' − θ| ≤ 2·min(|S|, u·|θ + S|)
          expect(Math.abs(once[j][i] - t)).toBeLessThanOrEqual(2 * Math.min(Math.abs(S), U * Math.abs(t + S)) * (1 + 1e-6));
          // +S, −2S, +S from θ'': three roundings of θ + S, θ − S and θ
          const t2 = once[j][i];
          const bound = U * (Math.abs(t2 + S) + Math.abs(t2 - S) + Math.abs(t2)) * (1 + 1e-6);
          expect(Math.abs(three[j][i] - t2)).toBeLessThanOrEqual(bound);
          if (t !== 0) worstRel = Math.max(worstRel, Math.abs(three[j][i] - t) / Math.abs(t));
        }
      });
    }
    // the drift after 20 × 5 moves stays at a few units of round-off relative to the weights
    expect(worstRel).toBeLessThan(16 * U);
    console.log(`perturb/restore: worst relative drift after 20 cycles ${worstRel.toExponential(2)} (u = ${U.toExponential(2)})`);
  });

  it('cacheNoise gives the same bits as regenerating the noise', async () => {
    const a = makeToy(4);
    const b = makeToy(4);
    try {
      const plain = new Perturber();
      const cached = new Perturber({ cacheNoise: true });
      const sigma = [1, 0.25, 3, 0.5];
      const moves: [{ seed: number; coef: number }[], number][] = [
        [[{ seed: 5, coef: 1e-3 }], 1],
        [[{ seed: 6, coef: 1e-3 }, { seed: 5, coef: -0.7e-3 }], 1],
        [[{ seed: 6, coef: -1e-3 }, { seed: 5, coef: 0.7e-3 }], 0.99],
        [[{ seed: 7, coef: 2e-2 }, { seed: 6, coef: 0 }], 1],
      ];
      for (const [terms, keep] of moves) {
        await plain.move(a.blocks, sigma, terms, () => keep);
        await cached.move(b.blocks, sigma, terms, () => keep);
      }
      expect(sameBits(a.snapshot(), b.snapshot())).toBe(true);
      cached.dispose();
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('Perturber on the direct update path (applyNoiseMany, no tfjs op)', () => {
  /** Run f on a fresh toy along the given update path; the final weights. */
  async function along(path: 'auto' | 'tfjs-ops', f: (t: Toy) => Promise<void> | void): Promise<Float32Array[]> {
    const t = makeToy(7);
    useWeightUpdatePath(path);
    try {
      await f(t);
      return t.snapshot();
    } finally {
      useWeightUpdatePath('auto');
      t.dispose();
    }
  }

  it('is the path taken on this backend, and leaks no tensor', async () => {
    expect(weightUpdatePath()).toBe('direct');
    toy = makeToy(8);
    const p = new Perturber();
    await p.move(toy.blocks, null, [{ seed: 1, coef: 1e-3 }]);
    const before = tf.memory().numTensors;
    for (let seed = 0; seed < 10; seed++) await p.move(toy.blocks, [1, 0.5, 2, 0], [{ seed, coef: 1e-3 }, { seed: seed + 1, coef: -1e-3 }], () => 0.99);
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const cacheNoise of [false, true]) {
    it(`moves give the bits of the tfjs-ops path (cacheNoise ${cacheNoise})`, async () => {
      const moves = async (t: Toy) => {
        const p = new Perturber({ cacheNoise });
        await p.move(t.blocks, [1, 0.25, 3, 0.5], [{ seed: 5, coef: 1e-2 }, { seed: 6, coef: -3e-3 }]);
        await p.move(t.blocks, null, [{ seed: 6, coef: 3e-3 }], (b) => (b.kind === 'matrix' ? 0.9 : 1));
        await p.move(t.blocks, [0, 1, 1, 2], [], () => 1.01);
        p.dispose();
      };
      expect(sameBits(await along('auto', moves), await along('tfjs-ops', moves))).toBe(true);
    });
  }

  for (const cfg of [
    { name: 'mezo', eps: 1e-3, lr: 0.1, weightDecay: 0.01 },
    { name: 'guided', candidates: 4, eps: 1e-3, lr: 0.05 },
  ] as const) {
    it(`a five-step ${cfg.name} run ends at the bits of the tfjs-ops path`, async () => {
      const run = async (t: Toy) => {
        const est = createEstimator(cfg);
        await runSteps(est, t, 5, { runSeed: 3 });
        est.dispose();
      };
      const direct = await along('auto', run);
      const ops = await along('tfjs-ops', run);
      const start = await along('auto', () => {});
      expect(sameBits(direct, start)).toBe(false); // the run moved the weights
      expect(sameBits(direct, ops)).toBe(true);
    });
  }
});
