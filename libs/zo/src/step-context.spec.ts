// StepContext's guards around losses, deferred or not, and the words for a trajectory version's
// arithmetic: the edges the estimator specs never reach (a worker answering garbage, a custom
// estimator that needs a value now, a record taken before settle()). Expected messages and strings
// are pinned literals.
import { describe, expect, it } from 'vitest';
import { trajectoryArithmetic } from './estimator';
import { Perturber } from './perturb';
import { DeferredLoss, StepContext, type StepLossValue } from './step';
import { toysPerTest } from './toy.testkit';

const toy = toysPerTest();
const context = (lossValue: StepLossValue) => new StepContext(toy(2).blocks, null, 1e-3, new Perturber(), lossValue);

describe('trajectoryArithmetic', () => {
  it('names the passes and the noise stream of every version read', () => {
    expect([1, 2, 3, 4].map(trajectoryArithmetic)).toEqual([
      'restore, then update, noise stream 1',
      'restore, then update, noise stream 1',
      'fused restore and update, noise stream 1',
      'fused restore and update, noise stream 2',
    ]);
  });
});

describe('StepContext.loss', () => {
  it('returns the value now and counts one forward pass per call', async () => {
    const values = [2.5, 0.75];
    const ctx = context(() => values.shift()!);
    expect(await ctx.loss()).toBe(2.5);
    expect(await ctx.loss()).toBe(0.75);
    expect(ctx.forwardPasses).toBe(2);
  });

  it('refuses a deferred loss (its value is needed now) and a value that is not a number', async () => {
    const deferred = context(() => new DeferredLoss(Promise.resolve(1)));
    await expect(deferred.loss()).rejects.toThrow(/^lossValue returned a deferred loss where the value is needed now, expected a number$/);
    const text = context(() => '1' as unknown as number);
    await expect(text.loss()).rejects.toThrow(/^lossValue returned string, expected a number$/);
    expect(deferred.forwardPasses + text.forwardPasses).toBe(0);
  });
});

describe('a step that does not move the weights (moveWeights false: a mover of null)', () => {
  it('says so, and refuses what would read or land on unmoved weights', async () => {
    expect(context(() => 1).moves).toBe(true);
    const still = new StepContext(toy(2).blocks, null, 1e-3, null, () => 1);
    expect(still.moves).toBe(false);
    await expect(still.loss()).rejects.toThrow(/^StepContext\.loss: a step that does not move the weights \(moveWeights false\) takes deferred losses only$/);
    await expect(still.land([{ seed: 7, coef: 1 }], () => 1)).rejects.toThrow(/^StepContext\.land: this step does not move the weights \(moveWeights false\); replay its record instead$/);
  });
});

describe('deferred losses at the edges', () => {
  it('a deferred loss that resolves to something other than a number fails settle()', async () => {
    const ctx = context(() => new DeferredLoss(Promise.resolve('0.5' as unknown as number)));
    expect(await ctx.oneSided(7)).toBeUndefined();
    await expect(ctx.candidateLosses()).rejects.toThrow(/^a deferred loss resolved to string, expected a number$/);
    await ctx.restore();
  });

  it('record() refuses while a deferred loss is out, and takes its value once settled', async () => {
    let resolve!: (v: number) => void;
    const ctx = context(() => new DeferredLoss(new Promise<number>((r) => (resolve = r))));
    await ctx.oneSided(7);
    await ctx.restore();
    expect(() => ctx.record(0, 7, 'guided')).toThrow(/^StepContext\.record: deferred losses are still out; await settle\(\) first$/);
    resolve(0.25);
    await ctx.settle();
    expect(ctx.record(0, 7, 'guided').candidates).toEqual([{ seed: 7, loss: 0.25 }]);
  });

  it('a DeferredLoss whose value rejects before anyone awaits it is no unhandled rejection', async () => {
    // a worker's claim lapsing before the step has taken the loss (or after it failed for another reason)
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const d = new DeferredLoss(Promise.reject(new Error('claim lapsed')));
      // Node reports an unhandled rejection after the microtasks of the tick in which it happened
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled.map(String)).toEqual([]);
      await expect(d.value).rejects.toThrow('claim lapsed');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
