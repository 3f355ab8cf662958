import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { MetricsLog } from '@zotune/report';
import type { StepRecord } from '@zotune/zo';
import { bestOf, devLosses, finalTrainLoss, restoreState, secondsPerStep, stepLoss, stepMetric } from './state';

const work = mkdtempSync(join(tmpdir(), 'zotune-state-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function record(step: number, losses: [number, number]): StepRecord {
  return {
    step, seed: step + 100, estimator: 'mezo', eps: 1e-3, sigma: null, candidates: [{ seed: step + 200, loss: null }],
    probes: [{ weights: [1], lossPlus: losses[0], lossMinus: losses[1], projectedGrad: (losses[0] - losses[1]) / 2e-3 }],
    lossPlus: losses[0], lossMinus: losses[1], projectedGrad: (losses[0] - losses[1]) / 2e-3, forwardPasses: 2,
  };
}

describe('run state', () => {
  test('the step loss is the mean of every loss the step evaluated', () => {
    expect(stepLoss(record(0, [1, 3]))).toBe(2);
    const guided = { ...record(0, [1, 3]), candidates: [{ seed: 1, loss: 4 }, { seed: 2, loss: 6 }] };
    expect(stepLoss(guided)).toBe(3.5);
  });

  test('the best dev accuracy is the first step to reach the maximum', () => {
    const ev = (step: number, devAcc: number) => ({ event: 'eval', step, forwardPasses: 0, devAcc });
    expect(bestOf([ev(0, 0.5), ev(4, 0.6), ev(8, 0.6), ev(12, 0.55)])).toEqual({ devAcc: 0.6, step: 4 });
    expect(bestOf([])).toBeUndefined();
  });

  test('restoreState cuts the metrics back to the trajectory and fills a skipped step line', () => {
    const log = MetricsLog.open(join(work, 'metrics.jsonl'));
    const recs = [0, 1, 2].map((s) => record(s, [1 + s, 1 - s / 10]));
    log.append({ event: 'zeroshot', step: 0, forwardPasses: 0, testAcc: 0.4 });
    log.append({ event: 'eval', step: 0, forwardPasses: 0, devAcc: 0.5 });
    log.append({ event: 'step', step: 1, forwardPasses: 2, loss: 1, seconds: 1 });
    log.append({ event: 'step', step: 2, forwardPasses: 4, loss: 1, seconds: 2 });
    log.append({ event: 'eval', step: 2, forwardPasses: 4, devAcc: 0.7, seconds: 3 });
    // the trajectory holds 3 records: step 3's metrics line was lost; step 4's came from a lost record
    log.append({ event: 'step', step: 4, forwardPasses: 8, loss: 1, seconds: 5 });
    log.append({ event: 'eval', step: 4, forwardPasses: 8, devAcc: 0.9, seconds: 6 });
    const st = restoreState(log, recs);
    const lines = log.records();
    log.close();
    expect(st).toMatchObject({ step: 3, forwardPasses: 6, best: { devAcc: 0.7, step: 2 }, zeroShotTestAcc: 0.4, zeroShotDevAcc: 0.5, seconds: 3 });
    expect([...st.evaluated]).toEqual([0, 2]);
    expect(lines.filter((r) => r.event === 'step').map((r) => [r.step, r.forwardPasses])).toEqual([[1, 2], [2, 4], [3, 6]]);
    // step 3's line filled in from record 2: losses L+ 3 and L− 0.8, mean 1.9
    expect(lines.at(-1)).toEqual({ event: 'step', step: 3, forwardPasses: 6, loss: 1.9, projectedGrad: (3 - 0.8) / 2e-3 });
    expect(finalTrainLoss(lines, 2)).toBeCloseTo((1 + 1.9) / 2, 12);
  });

  test('dev losses: the base model\'s (step 0) and the last evaluation\'s; NaN where a record lacks one', () => {
    const ev = (step: number, devLoss?: number) => ({ event: 'eval' as const, step, forwardPasses: 2 * step, devAcc: 0.5, ...(devLoss === undefined ? {} : { devLoss }) });
    expect(devLosses([ev(0, 0.7), { event: 'step', step: 1, forwardPasses: 2, loss: 3 }, ev(5, 0.6), ev(10, 0.65)])).toEqual({ zeroShotDevLoss: 0.7, finalDevLoss: 0.65 });
    expect(devLosses([ev(0), ev(5)])).toEqual({ zeroShotDevLoss: NaN, finalDevLoss: NaN });
  });

  test('stepMetric: step + 1, the mean of every loss, and seconds only when measured', () => {
    const r = { ...record(4, [2, 1]), candidates: [{ seed: 1, loss: 3 }, { seed: 2, loss: null }] };
    expect(stepMetric(r, 10, undefined, undefined)).toEqual({ event: 'step', step: 5, forwardPasses: 10, loss: 2, projectedGrad: 500 });
    expect(stepMetric(r, 10, 7, 0.5)).toEqual({ event: 'step', step: 5, forwardPasses: 10, loss: 2, projectedGrad: 500, seconds: 7, stepSeconds: 0.5 });
    expect(stepMetric(r, 10, 0, 0)).toMatchObject({ seconds: 0, stepSeconds: 0 });
  });

  test('restoreState of a run with no records: step 0, nothing best, the clock from the latest line', () => {
    const log = MetricsLog.open(join(work, 'empty.jsonl'));
    log.append({ event: 'eval', step: 0, forwardPasses: 0, devAcc: 0.25, seconds: 4 });
    log.append({ event: 'zeroshot', step: 0, forwardPasses: 0, seconds: 2 });
    const st = restoreState(log, []);
    log.close();
    expect(st).toEqual({ step: 0, forwardPasses: 0, best: { devAcc: 0.25, step: 0 }, zeroShotTestAcc: undefined, zeroShotDevAcc: 0.25, evaluated: new Set([0]), seconds: 4 });
    const none = MetricsLog.open(join(work, 'none.jsonl'));
    expect(restoreState(none, [])).toEqual({ step: 0, forwardPasses: 0, best: undefined, zeroShotTestAcc: undefined, zeroShotDevAcc: undefined, evaluated: new Set(), seconds: 0 });
    none.close();
  });

  test('final train loss over the last 50 steps by default; mean step time; NaN when nothing measured them', () => {
    const steps = Array.from({ length: 60 }, (_, i) => ({ event: 'step' as const, step: i + 1, forwardPasses: 2, loss: i, ...(i % 2 ? { stepSeconds: i } : {}) }));
    expect(finalTrainLoss(steps)).toBe((10 + 59) / 2); // losses 10 … 59
    expect(finalTrainLoss([...steps, { event: 'eval', step: 60, forwardPasses: 2, loss: 1000 }], 1)).toBe(59);
    expect(finalTrainLoss([])).toBeNaN();
    expect(secondsPerStep(steps)).toBe(30); // odd i: 1, 3, …, 59
    expect(secondsPerStep([{ event: 'step', step: 1, forwardPasses: 2, loss: 1 }])).toBeNaN();
  });

  test('restoreState reads each figure from its own kind of line, wherever it is', () => {
    const log = MetricsLog.open(join(work, 'kinds.jsonl'));
    const recs = [0, 1, 2, 3].map((s) => record(s, [1, 1]));
    log.append({ event: 'step', step: 1, forwardPasses: 2, loss: 1 });
    log.append({ event: 'zeroshot', step: 0, forwardPasses: 0, testAcc: 0.4 });
    log.append({ event: 'step', step: 2, forwardPasses: 4, loss: 1 });
    log.append({ event: 'eval', step: 2, forwardPasses: 4, devAcc: 0.7 });
    // step 3's step line was lost, its eval line was not: the eval line does not stand for it
    log.append({ event: 'eval', step: 3, forwardPasses: 6, devAcc: 0.6 });
    const st = restoreState(log, recs);
    const lines = log.records();
    log.close();
    expect(st.zeroShotTestAcc).toBe(0.4);
    expect(st.zeroShotDevAcc).toBeUndefined(); // no eval at step 0
    expect(lines.filter((r) => r.event === 'step').map((r) => r.step)).toEqual([1, 2, 3, 4]);
  });

  test('final train loss skips step lines without a loss; dev losses read eval lines only', () => {
    expect(finalTrainLoss([{ event: 'step', step: 1, forwardPasses: 2, loss: 2 }, { event: 'step', step: 2, forwardPasses: 4 }])).toBe(2);
    const ev = (step: number, devLoss: number) => ({ event: 'eval' as const, step, forwardPasses: 2 * step, devAcc: 0.5, devLoss });
    expect(devLosses([ev(5, 0.6)])).toEqual({ zeroShotDevLoss: NaN, finalDevLoss: 0.6 });
    expect(devLosses([ev(0, 0.7), ev(5, 0.6), { event: 'step', step: 6, forwardPasses: 12, loss: 3, devLoss: 9 }])).toEqual({ zeroShotDevLoss: 0.7, finalDevLoss: 0.6 });
  });
});
