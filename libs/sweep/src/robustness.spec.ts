import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSweeps, reportTables } from './report';
import { lrScans } from './robustness';
import { writeSweep } from './results.testkit';
import { parseSpec } from './spec';

const work = mkdtempSync(join(tmpdir(), 'zotune-sweep-robust-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const LRS = [1e-4, 1.78e-4, 3.16e-4, 5.62e-4, 1e-3];
const spec = parseSpec(
  {
    grid: { task: ['story-order'], method: ['mezo', 'mezo+policy'], seed: [0, 1], forwardPasses: [1000], lr: LRS },
    methods: { mezo: { estimator: 'mezo' }, 'mezo+policy': { estimator: 'mezo', policy: 'stories260K' } },
  },
  'spec',
);

// final dev loss per (method, lr index, seed); the base model's dev loss is 0.6, so above 0.66 is diverged
const DEV: Record<string, number[][]> = {
  // tuned at 1.78e-4 (0.55); seed 1 diverges at 5.62e-4, so stable up to 3.16e-4; NaN at 1e-3
  mezo: [[0.58, 0.58], [0.55, 0.55], [0.57, 0.59], [0.6, 0.7], [NaN, 0.9]],
  // tuned at 3.16e-4 (0.54, tie-free); never diverges
  'mezo+policy': [[0.59, 0.59], [0.56, 0.56], [0.54, 0.54], [0.56, 0.58], [0.6, 0.62]],
};

function sweepDir(): string {
  return writeSweep(join(work, 'sweep'), spec, (r) => {
    const d = DEV[r.config.method][LRS.indexOf(r.config.lr!)][r.config.seed];
    return { finalTrainLoss: d, finalDevLoss: d, zeroShotDevLoss: 0.6, testAcc: 0.5, bestDevAcc: 0.5, lr: r.config.lr, forwardPasses: 1000 };
  });
}

describe('lr robustness', () => {
  const data = loadSweeps([sweepDir()]);

  it('tuned lr, stable range, the loss above the tuned lr and the cells where each method is lowest', () => {
    const [scan] = lrScans(data.runs, data.methods);
    expect(scan.score).toBe('dev loss');
    const [mezo, policy] = scan.methods;
    expect([mezo.tunedLr, mezo.tunedScore]).toEqual([1.78e-4, 0.55]);
    expect(mezo.stableLr).toBe(3.16e-4);
    expect(mezo.cells.map((c) => c.diverged)).toEqual([0, 0, 0, 1, 2]); // a non-finite loss counts as diverged
    expect(mezo.above[0]).toBeCloseTo(0.65, 12); // 5.62e-4 ≈ 3.16 × 1.78e-4
    expect(mezo.above[1]).toBeUndefined(); // 1.78e-3 is not on the grid
    expect([policy.tunedLr, policy.stableLr]).toEqual([3.16e-4, 1e-3]);
    expect(policy.above[0]).toBeCloseTo(0.61, 12); // 1e-3 ≈ 3.16 × 3.16e-4
    expect(policy.above[1]).toBeUndefined();
    // mezo lowest at 1e-4 and 1.78e-4; the policy at 3.16e-4, 5.62e-4 and 1e-3 (mezo's NaN cell cannot win)
    expect(scan.lowest).toEqual({ mezo: 2, 'mezo+policy': 3 });
  });

  it('reports the scan and the robustness table, and the dev loss table', () => {
    const t = Object.fromEntries(reportTables(data).map((x) => [x.id, x]));
    expect(t['lr-scan-0'].rows[4]).toEqual(['0.001', 'n/a (2/2 diverged)', '0.6100']);
    expect(t['lr-robustness-0'].rows).toEqual([
      ['mezo', '0.000178', '0.5500', '0.000316', '0.6500', '–', '2'],
      ['mezo+policy', '0.000316', '0.5400', '0.001', '0.6100', '–', '3'],
    ]);
    expect(t['dev-loss'].rows[0][0]).toBe('story-order, lr 0.0001');
  });
});
