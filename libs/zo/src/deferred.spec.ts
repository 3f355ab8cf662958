// Deferred losses (a distributed run): a replica whose losses all come from elsewhere walks the same
// evaluation points and lands the same update, bit for bit, as the replica that computed them; and it
// never waits for a loss before the step needs its value (MeZO: only the record; guided: the ranking).
import { afterEach, describe, expect, it } from 'vitest';
import type { StepRecord } from '@zotune/artifacts';
import { stepSeed } from './config';
import { createEstimator } from './estimator';
import { trajectoryHeader } from './header';
import { replay } from './replay';
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

  for (const cfg of [{ name: 'mezo', queries: 2, lr: 0.05 }, { name: 'guided', candidates: 4, lr: 0.05, weightDecay: 0.1 }, { name: 'elite', lr: 0.05 }] as const) {
    it(`${cfg.name}: a step that does not move the weights (moveWeights false) writes the records of one that does and leaves the weights alone; replaying them lands the same bits`, async () => {
      // a distributed run's coordinator: its losses all come from workers whose copies move
      const a = makeToy(3);
      const b = makeToy(3);
      toys.push(a, b);
      const before = b.snapshot();
      const ea = createEstimator(cfg);
      const eb = createEstimator(cfg);
      const ra: StepRecord[] = [];
      const rb: StepRecord[] = [];
      for (let step = 0; step < 4; step++) {
        const seed = stepSeed(11, step);
        const r = await ea.step({ blocks: a.blocks, lossValue: a.lossValue, step, seed, prev: ra.at(-1) });
        await ea.update(a.blocks, r);
        ra.push(r);
        const losses = lossesOf(r);
        let k = 0;
        rb.push(await eb.step({ blocks: b.blocks, lossValue: () => new DeferredLoss(Promise.resolve(losses[k++])), step, seed, prev: rb.at(-1), moveWeights: false }));
        expect(sameBits(b.snapshot(), before)).toBe(true);
      }
      expect(JSON.stringify(rb)).toBe(JSON.stringify(ra));
      const header = await trajectoryHeader(b.blocks, { runSeed: 11, family: 'toy', estimator: eb.config, run: {} });
      await replay(b.blocks, header, rb);
      expect(sameBits(a.snapshot(), b.snapshot())).toBe(true);
      ea.dispose();
      eb.dispose();
    });
  }

  it('update() refuses the record of a step that did not move the weights: from unmoved weights it would not land the moving run\'s bits (replay does)', async () => {
    const a = makeToy(5);
    toys.push(a);
    const before = a.snapshot();
    const est = createEstimator({ name: 'mezo', queries: 2, lr: 0.05 });
    const r = await est.step({ blocks: a.blocks, lossValue: () => new DeferredLoss(Promise.resolve(0.5)), step: 2, seed: 9, moveWeights: false });
    await expect(est.update(a.blocks, r)).rejects.toThrow('mezo.update: step 2 did not move the weights (moveWeights false); replay its record instead (replay() lands what a moving step lands)');
    expect(sameBits(a.snapshot(), before)).toBe(true);
    est.dispose();
  });

  it('a step that does not move the weights refuses a loss computed here (it would be the loss at unmoved weights)', async () => {
    const a = makeToy(4);
    toys.push(a);
    const est = createEstimator({ name: 'mezo', queries: 1, lr: 0.05 });
    await expect(est.step({ blocks: a.blocks, lossValue: () => 1, step: 0, seed: 5, moveWeights: false })).rejects.toThrow('lossValue returned a number in a step that does not move the weights (moveWeights false): expected a DeferredLoss');
    est.dispose();
  });

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

  it('a deferred loss that fails while the walk is still computing other evaluations is no unhandled rejection: the step rejects with it', async () => {
    // a distributed worker: another's claim lapses (OrphanError) while this one's own forward pass runs, before the step settles
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const a = makeToy(4);
      toys.push(a);
      const est = createEstimator({ name: 'guided', candidates: 4, lr: 0.05 });
      let k = 0;
      const lossValue: StepLossValue = async () => {
        if (k++ === 0) return new DeferredLoss(Promise.reject(new Error('worker gone')));
        // a forward pass that yields to the event loop (timers, I/O), as ORT's does
        await new Promise((r) => setTimeout(r, 20));
        return 1;
      };
      await expect(est.step({ blocks: a.blocks, lossValue, step: 0, seed: 5 })).rejects.toThrow('worker gone');
      // Node reports an unhandled rejection after the microtasks of the tick in which it happened
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled.map(String)).toEqual([]);
      est.dispose();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
