// Drive an estimator for a few steps on the toy model (tests only).
import type { StepRecord } from '@zotune/artifacts';
import { stepSeed } from './config';
import type { Estimator } from './estimator';
import type { Scale } from './scale';
import type { Toy } from './toy.testkit';

export async function runSteps(
  est: Estimator, toy: Toy, steps: number,
  opts: { runSeed?: number; scale?: Scale; first?: number; prev?: StepRecord; onRecord?: (r: StepRecord) => void } = {},
): Promise<StepRecord[]> {
  const records: StepRecord[] = [];
  let prev = opts.prev;
  const first = opts.first ?? 0;
  for (let step = first; step < first + steps; step++) {
    const rec = await est.step({ blocks: toy.blocks, lossValue: toy.lossValue, step, seed: stepSeed(opts.runSeed ?? 42, step), scale: opts.scale, prev });
    await est.update(toy.blocks, rec);
    opts.onRecord?.(rec);
    records.push(rec);
    prev = rec;
  }
  return records;
}
