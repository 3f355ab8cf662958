import { describe, expect, it } from 'vitest';
import { controlTable, meanSd, signTestP, tabulate, type Method, type Summary } from './transfer-table';

const run = (task: string, method: Method, seed: number, finalTrainLoss: number, testAcc: number): Summary => ({
  task,
  method,
  seed,
  finalTrainLoss,
  testAcc,
  bestDevAcc: 0.5,
  zeroShotTestAcc: 0.25,
  forwardPasses: 1000,
  lr: 1e-4,
  batch: 16,
  devN: 100,
  testN: 56,
});

describe('transfer table', () => {
  it('mean and sample sd', () => {
    expect(meanSd([1, 2, 3])).toEqual([2, 1]);
    expect(meanSd([5])).toEqual([5, 0]);
  });

  it('sign test: exact two-sided binomial probabilities', () => {
    expect(signTestP(3, 6)).toBeCloseTo(1, 12);
    expect(signTestP(6, 6)).toBeCloseTo(2 / 64, 12);
    expect(signTestP(0, 6)).toBeCloseTo(2 / 64, 12);
    expect(signTestP(5, 6)).toBeCloseTo(14 / 64, 12); // 0,1,5,6 of 6
    expect(signTestP(9, 12)).toBeCloseTo((2 * (1 + 12 + 66 + 220)) / 4096, 12);
    expect(signTestP(0, 0)).toBe(1);
  });

  it('counts wins on the means and seed by seed, and names each pair', () => {
    const s: Summary[] = [
      // cb: the policy is lower in loss on the mean and in 2 of 3 seeds; accuracy tied on the mean
      run('cb', 'mezo', 0, 0.8, 0.5),
      run('cb', 'mezo', 1, 0.9, 0.6),
      run('cb', 'mezo', 2, 0.7, 0.4),
      run('cb', 'mezo+policy', 0, 0.6, 0.6),
      run('cb', 'mezo+policy', 1, 0.85, 0.5),
      run('cb', 'mezo+policy', 2, 0.75, 0.4),
      // wic: the baseline wins both on the mean
      run('wic', 'guided', 0, 0.69, 0.55),
      run('wic', 'guided+policy', 0, 0.70, 0.5),
      // a failed run (non-finite loss) is left out, and its pair with it
      run('wic', 'mezo', 0, NaN, 0.5),
      run('wic', 'mezo+policy', 0, 0.1, 0.9),
    ];
    const t = tabulate(s, '1000');
    expect(t).toContain('| cb | 0.8000 ± 0.1000 | 0.7333 ± 0.1258 | – | – |');
    expect(t).toContain('| wic | – | 0.1000 ± 0.0000 | 0.6900 ± 0.0000 | 0.7000 ± 0.0000 |');
    expect(t).toContain('| cb | 25.0 | 50.0 ± 10.0 | 50.0 ± 10.0 | – | – |');
    expect(t).toContain('over 2 (task, estimator) pairs: lower final train loss in 1/2 (50.0 %), higher test accuracy in 0/2 (0.0 %), equal accuracy in 1');
    // seed by seed: cb 0 (policy), 1 (policy), 2 (baseline), wic guided 0 (baseline) → 2/4 loss;
    // accuracy: cb 0 policy, 1 baseline, 2 tie, wic baseline → 1 of 3 non-ties
    expect(t).toContain('Seed by seed (4 paired runs: same split, minibatches and noise seeds): lower final train loss in 2/4 (50.0 %');
    expect(t).toContain('higher test accuracy in 1/3 (1 ties;');
    expect(t).toContain('cb/mezo: loss policy, accuracy tie; wic/guided: loss baseline, accuracy baseline');
    expect(t).toContain('cb: lr 0.0001, batch 16, dev 100, test 56');
  });
});

describe('control table', () => {
  it('puts the baseline, the trained and the untrained policy side by side and counts trained wins', () => {
    const trained = [run('cb', 'mezo', 0, 0.8, 0.5), run('cb', 'mezo+policy', 0, 0.7, 0.6), run('cb', 'guided', 0, 0.9, 0.5), run('cb', 'guided+policy', 0, 0.85, 0.4)];
    const control = [run('cb', 'mezo+policy', 0, 0.75, 0.7), run('cb', 'guided+policy', 0, 0.8, 0.45), run('wsc', 'mezo+policy', 0, 0.7, 0.6)];
    const t = controlTable(trained, control);
    expect(t).toContain('| cb | mezo | 0.8000 | 0.7000 | 0.7500 | 50.0 | 60.0 | 70.0 |');
    expect(t).toContain('| cb | guided | 0.9000 | 0.8500 | 0.8000 | 50.0 | 40.0 | 45.0 |');
    expect(t).not.toContain('| wsc |');
    expect(t).toContain('Trained ahead of untrained in 1/2 pairs on final train loss and 0/2 on test accuracy.');
  });
});
