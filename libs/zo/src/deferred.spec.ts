// Deferred losses (a distributed run): a replica whose losses all come from elsewhere walks the same
// evaluation points and lands the same update, bit for bit, as the replica that computed them; and it
// never waits for a loss before the step needs its value (MeZO: only the record; guided: the ranking).
import { afterEach, describe, expect, it } from 'vitest';
import type { StepRecord } from '@zotune/artifacts';
import { stepSeed } from './config';
import { createEstimator } from './estimator';
import { DeferredLoss, type StepLossValue } from './step';
import { makeToy, sameBits, type Toy } from './toy.testkit';

let toys: Toy[] = [];
afterEach(() => {
  toys.forEach((t) => t.dispose());
  toys = [];
});

/** Deferred losses resolved from `source` only once `gate` says the walk has called for evaluation k. */
function gatedReplica(gate: (calls: number) => boolean) {
  let calls = 0;
  const waiting: { k: number; resolve: (v: number) => void }[] = [];
  let values: number[] = [];
  const release = () => {
    for (const w of waiting.splice(0)) w.resolve(values[w.k]);
  };
  return {
    start(losses: number[]) {
      calls = 0;
      values = losses;
    },
    lossValue: (() => {
      const k = calls++;
      const value = new Promise<number>((resolve) => waiting.push({ k, resolve }));
      if (gate(calls)) release();
      return new DeferredLoss(value);
    }) satisfies StepLossValue,
  };
}

const lossesOf = (r: StepRecord) => [...r.candidates.filter((c) => c.loss !== null).map((c) => c.loss as number), ...r.probes.flatMap((p) => [p.lossPlus, p.lossMinus])];

describe('deferred losses', () => {
  for (const [cfg, round] of [
    [{ name: 'mezo', queries: 2, lr: 0.05 }, [4]],
    [{ name: 'guided', candidates: 4, lr: 0.05 }, [4, 6]],
    [{ name: 'elite', lr: 0.05 }, [2, 4]],
  ] as const) {
    it(`${cfg.name}: a replica fed deferred losses ends bit-identical, with the same records, waiting only where the step needs a value`, async () => {
      const a = makeToy(3);
      const b = makeToy(3);
      toys.push(a, b);
      const ea = createEstimator(cfg);
      const eb = createEstimator(cfg);
      // b's deferred losses arrive only once its walk has asked for every evaluation of the round:
      // a step that waited on one before then would never finish
      const rep = gatedReplica((calls) => (round as readonly number[]).includes(calls));
      let prevA: StepRecord | undefined;
      let prevB: StepRecord | undefined;
      for (let step = 0; step < 3; step++) {
        const seed = stepSeed(11, step);
        const ra = await ea.step({ blocks: a.blocks, lossValue: a.lossValue, step, seed, prev: prevA });
        await ea.update(a.blocks, ra);
        rep.start(lossesOf(ra));
        const rb = await eb.step({ blocks: b.blocks, lossValue: rep.lossValue, step, seed, prev: prevB });
        await eb.update(b.blocks, rb);
        expect(JSON.stringify(rb)).toBe(JSON.stringify(ra));
        prevA = ra;
        prevB = rb;
      }
      expect(sameBits(a.snapshot(), b.snapshot())).toBe(true);
      ea.dispose();
      eb.dispose();
    });
  }

  it('a deferred loss that fails fails the step, with the weights restored', async () => {
    const a = makeToy(4);
    toys.push(a);
    const before = a.snapshot();
    const est = createEstimator({ name: 'mezo', queries: 1, lr: 0.05 });
    let k = 0;
    const lossValue: StepLossValue = () => (k++ === 0 ? new DeferredLoss(Promise.reject(new Error('worker gone'))) : 1);
    await expect(est.step({ blocks: a.blocks, lossValue, step: 0, seed: 5 })).rejects.toThrow('worker gone');
    // restored to float32 round-off: within 1e-6 of the start
    a.snapshot().forEach((x, i) => x.forEach((v, j) => expect(Math.abs(v - before[i][j])).toBeLessThan(1e-6)));
    await expect(est.step({ blocks: a.blocks, lossValue: () => new DeferredLoss(Promise.resolve(1)), step: 0, seed: 5 })).resolves.toMatchObject({ lossPlus: 1, lossMinus: 1, projectedGrad: 0 });
    est.dispose();
  });
});
