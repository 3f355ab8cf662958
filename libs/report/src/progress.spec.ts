import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress, type ProgressStream } from './progress';

function sink(isTTY: boolean, columns?: number): ProgressStream & { out: string } {
  const s = { out: '', isTTY, columns, write: (c: string) => ((s.out += c), true) };
  return s;
}

afterEach(() => vi.restoreAllMocks());

describe('Progress', () => {
  it('redraws one line on a terminal with step, smoothed loss, dev accuracy, rate and ETA', () => {
    let t = 0;
    const stream = sink(true);
    const p = new Progress({ total: 100, stream, now: () => t, label: 'finetune' });
    for (let step = 1; step <= 10; step++) {
      t += 500; // 2 steps/s
      p.update({ step, loss: 0.7 });
    }
    p.update({ step: 10, devAcc: 0.55 });
    expect(stream.out.split('\r').length).toBeGreaterThan(5);
    expect(stream.out).not.toContain('\n');
    const last = stream.out.slice(stream.out.lastIndexOf('\r') + 1);
    expect(last).toBe('\x1b[Kfinetune step 10/100 [##..................] loss 0.7000 dev 55.0% 2.00 steps/s ETA 45s');
    p.log('eval at step 10');
    expect(stream.out).toContain('\r\x1b[Keval at step 10\n');
    p.done();
    expect(stream.out.endsWith('\n')).toBe(true);
  });

  it('prints a line every interval and at each dev accuracy when not a terminal', () => {
    let t = 0;
    const stream = sink(false);
    const p = new Progress({ total: 1000, stream, now: () => t, intervalSeconds: 10 });
    for (let step = 1; step <= 100; step++) {
      t += 250; // 4 steps/s: a line every 40 steps
      p.update({ step, loss: step % 2 ? 1 : 0 });
    }
    p.update({ step: 100, devAcc: 0.5 });
    const lines = stream.out.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(stream.out).not.toContain('\r');
    expect(lines[0]).toMatch(/^step 40\/1000 \(4%\) loss 0\.\d{4} 4\.00 steps\/s ETA 4m00s$/);
    expect(lines[2]).toContain('dev 50.0%');
    // the bias-corrected EMA of alternating 1, 0 stays near 0.5
    expect(p.smoothedLoss()).toBeGreaterThan(0.4);
    expect(p.smoothedLoss()).toBeLessThan(0.6);
  });

  it('without a terminal, the final line does not repeat the status line just printed at the same step', () => {
    let t = 0;
    const stream = sink(false);
    const p = new Progress({ total: 4, stream, now: () => t, label: 'finetune', intervalSeconds: 1000 });
    const other = sink(false);
    const q = new Progress({ total: 4, stream: other, now: () => t, intervalSeconds: 1000 });
    t = 1000;
    p.update({ step: 4, loss: 0.5 });
    p.update({ step: 4, devAcc: 0.5 }); // the dev evaluation at the last step prints the status
    p.done('(4 steps in this session)');
    expect(stream.out.trimEnd().split('\n')).toEqual(['finetune step 4/4 (100%) loss 0.5000 dev 50.0% 4.00 steps/s ETA 0s', 'finetune done (4 steps in this session)']);

    // when the last step printed nothing yet, the final line is the status with the message
    q.update({ step: 4, loss: 0.5 });
    q.done('(4 steps)');
    expect(other.out).toBe('step 4/4 (100%) loss 0.5000 4.00 steps/s ETA 0s (4 steps)\n');
  });

  it('counts the rate from the resumed step, fits the terminal width, and is silent on request', () => {
    let t = 0;
    const narrow = sink(true, 30);
    const p = new Progress({ total: 100, stream: narrow, now: () => t, startStep: 50 });
    t = 5000;
    p.update({ step: 60, loss: 1 });
    expect(p.rate()).toBeCloseTo(2);
    for (const chunk of narrow.out.split('\r').filter(Boolean)) expect(chunk.replace('\x1b[K', '').length).toBeLessThan(30);

    const stdout = vi.spyOn(process.stdout, 'write');
    const quiet = sink(false);
    const q = new Progress({ total: 10, stream: quiet, silent: true, intervalSeconds: 0 });
    q.update({ step: 5, loss: 1, devAcc: 0.5 });
    q.log('x');
    q.done();
    expect(quiet.out).toBe('');
    expect(stdout).not.toHaveBeenCalled();
  });
});
