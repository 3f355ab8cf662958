import { describe, expect, it } from 'vitest';
import { compareWithControl } from './summary';

// 8 steps (quarters of 2): L(θ) shared, L(θ') per run
const theta = [1, 1.1, 0.9, 1.2, 1.0, 0.8, 1.3, 0.7];
const logs = (metaLoss: number[]) => theta.map((loss, i) => ({ loss, metaLoss: metaLoss[i] }));

describe('compareWithControl', () => {
  it('pairs the runs step by step: quarter gains, and the last quarter trained − control', () => {
    const trained = logs([1.1, 1.0, 0.9, 1.2, 1.0, 0.8, 1.2, 0.75]); // last quarter gains +0.1, −0.05
    const control = logs([1.0, 1.1, 0.9, 1.2, 1.0, 0.8, 1.35, 0.6]); // last quarter gains −0.05, +0.1
    const c = compareWithControl(trained, control);
    expect(c.steps).toBe(8);
    expect(c.lastQuarterSteps).toBe(2);
    expect(c.trained.gainFirstQuarter).toBeCloseTo((-0.1 + 0.1) / 2, 12);
    expect(c.control.gainLastQuarter).toBeCloseTo((-0.05 + 0.1) / 2, 12);
    expect(c.lastQuarterWins).toBe(1); // +0.15 at step 7, −0.15 at step 8
    expect(c.lastQuarterDiffMean).toBeCloseTo(0, 12);
    expect(c.lastQuarterDiffMedian).toBeCloseTo(0, 12);
  });
  it('refuses runs that did not see the same θ, or differ in length', () => {
    const control = logs(theta);
    const other = control.map((l, i) => (i === 3 ? { ...l, loss: 1.25 } : l));
    expect(() => compareWithControl(other, control)).toThrow(/^meta-training control: step 4 saw L\(θ\) = 1.25 and 1.2: not the same θ/);
    expect(() => compareWithControl(control.slice(1), control)).toThrow(/the runs have 7 and 8 steps/);
  });
});
