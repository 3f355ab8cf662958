import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSweeps, reportTables, sweepReport } from './report';
import { writeSweep } from './results.testkit';
import { parseSpec } from './spec';

const work = mkdtempSync(join(tmpdir(), 'zotune-sweep-report-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const spec = parseSpec(
  {
    grid: { task: ['cb', 'wic'], method: ['mezo', 'mezo+policy', 'mezo+init'], seed: [0, 1, 2], forwardPasses: [1000], lr: [1e-4] },
    methods: { mezo: { estimator: 'mezo' }, 'mezo+policy': { estimator: 'mezo', policy: 'stories260K' }, 'mezo+init': { estimator: 'mezo', policy: 'stories260K/init:v1' } },
    compare: { pairs: [{ baseline: 'mezo', treatment: 'mezo+policy' }], controls: [{ baseline: 'mezo', treatment: 'mezo+policy', control: 'mezo+init' }] },
  },
  'spec',
);

// final train loss and test accuracy of each (task, method, seed)
const OUTCOME: Record<string, [number, number][]> = {
  'cb|mezo': [[0.8, 0.5], [0.9, 0.6], [0.7, 0.4]],
  'cb|mezo+policy': [[0.6, 0.6], [0.85, 0.5], [0.75, 0.4]],
  'cb|mezo+init': [[0.7, 0.6], [0.8, 0.5], [0.8, 0.3]],
  'wic|mezo': [[0.69, 0.55], [0.7, 0.5], [0.71, 0.5]],
  'wic|mezo+policy': [[0.7, 0.5], [NaN, 0.5], [0.7, 0.6]],
};

function sweepDir(): string {
  return writeSweep(join(work, 'sweep'), spec, (r) => {
    const o = OUTCOME[`${r.config.task}|${r.config.method}`]?.[r.config.seed];
    return o && { finalTrainLoss: o[0], testAcc: o[1], bestDevAcc: 0.5, zeroShotTestAcc: 0.25, lr: 1e-4, eps: 1e-3, batch: 16, devN: 100, testN: 56, forwardPasses: 1000 };
  });
}

describe('sweep report', () => {
  const data = loadSweeps([sweepDir()]);
  const tables = Object.fromEntries(reportTables(data).map((t) => [t.id, t]));

  it('mean ± sd over seeds per setting and method, in spec order', () => {
    expect(tables.loss.header).toEqual(['setting', 'mezo', 'mezo+policy', 'mezo+init']);
    expect(tables.loss.rows[0]).toEqual(['cb', '0.8000 ± 0.1000', '0.7333 ± 0.1258', '0.7667 ± 0.0577']);
    // the run with a non-finite loss is left out of the mean; a method with no run is a dash
    expect(tables.loss.rows[1]).toEqual(['wic', '0.7000 ± 0.0100', '0.7000 ± 0.0000', '–']);
    expect(tables['test-acc'].rows[0]).toEqual(['cb', '25.0', '50.0 ± 10.0', '50.0 ± 10.0', '46.7 ± 15.3']);
  });

  it('pairs seed by seed with exact sign tests; a pair with a failed side is left out', () => {
    // cb: loss policy, policy, baseline; acc policy, baseline, tie. wic: seed 1 dropped; loss seeds 0 (0.70 vs 0.69: baseline), 2 (policy); acc baseline, policy
    expect(tables['pair-0'].rows).toEqual([
      ['cb', '3', '2/3', '1.000', '1/2', '1', '1.000'],
      ['wic', '2', '1/2', '1.000', '1/2', '0', '1.000'],
      ['all', '5', '3/5', '1.000', '2/4', '1', '1.000'],
    ]);
  });

  it('controls: baseline, treatment and control side by side; treatment vs control seed by seed', () => {
    expect(tables['control-0'].rows).toEqual([['cb', '0.8000', '0.7333', '0.7667', '50.0', '50.0', '46.7', '2/3', '1/1']]);
    expect(tables['control-0'].note).toBe('over all settings: mezo+policy has the lower train loss in 2/3 seed pairs (sign test p = 1.000) and the higher test accuracy in 1/1 (2 ties; p = 1.000)');
  });

  it('the page holds every table and plot; the Markdown every table', () => {
    const r = sweepReport(data, 'test');
    for (const t of r.tables) {
      expect(r.html).toContain(`<table id="table-${t.id}">`);
      expect(r.markdown).toContain(`**${t.title}**`);
    }
    expect(r.plots.map((p) => p.id)).toEqual(['test-acc']); // no metrics.jsonl here, so no curves
    expect(r.html).toContain('<figure id="plot-test-acc">');
    expect(r.html).not.toMatch(/<script/);
  });
});

describe('sweep report: each method at its own lr', () => {
  it('methods that set their own lr share a row and pair by seed; the settings table lists their lrs', () => {
    const own = parseSpec(
      {
        grid: { task: ['story-cloze'], method: ['mezo', 'guided'], seed: [0, 1, 2], forwardPasses: [4000] },
        methods: { mezo: { estimator: 'mezo', lr: 1e-4 }, guided: { estimator: 'guided', candidates: 8, lr: 1.78e-4 } },
        compare: { pairs: [{ baseline: 'mezo', treatment: 'guided' }] },
      },
      'own',
    );
    const loss: Record<string, number[]> = { mezo: [0.57, 0.58, 0.59], guided: [0.6, 0.55, 0.62] };
    const dir = writeSweep(join(work, 'own-lr'), own, (r) => ({
      finalTrainLoss: loss[r.config.method][r.config.seed], testAcc: 0.7, bestDevAcc: 0.7, zeroShotTestAcc: 0.7, lr: r.config.lr, eps: 1e-3, batch: 16, devN: 10, testN: 10, forwardPasses: 4000,
    }));
    const t = Object.fromEntries(reportTables(loadSweeps([dir])).map((x) => [x.id, x]));
    expect(t.loss.rows.map((r) => r[0])).toEqual(['story-cloze']);
    expect(t['pair-0'].rows[0]).toEqual(['story-cloze', '3', '1/3', '1.000', '0/0', '3', '1.000']);
    expect(t.settings.rows[0]).toContain('0.0001 / 0.000178');
  });
});

describe('sweep report: runs that evaluated dev', () => {
  it('pairs on the final dev loss too; a diverged run (not finite, written as null) loses to any finite one', () => {
    const spec2 = parseSpec(
      {
        grid: { task: ['sst2'], method: ['mezo', 'guided', 'init'], seed: [2, 3, 4, 5], forwardPasses: [2000] },
        methods: { mezo: { estimator: 'mezo', lr: 1e-3 }, guided: { estimator: 'guided', lr: 1e-3 }, init: { estimator: 'mezo', lr: 1e-3, policy: 'stories260K/init:v1' } },
        compare: { pairs: [{ baseline: 'mezo', treatment: 'guided' }], controls: [{ baseline: 'mezo', treatment: 'guided', control: 'init' }] },
      },
      'dev',
    );
    // seed: [mezo dev loss, guided dev loss]; guided's train loss is always the higher
    const dev: Record<number, [number | null, number | null]> = { 2: [0.5, 0.4], 3: [0.5, 0.6], 4: [null, 0.7], 5: [0.5, null] };
    const dir = writeSweep(join(work, 'dev'), spec2, (r) => {
      const d = dev[r.config.seed][r.config.method === 'guided' ? 1 : 0];
      return { finalTrainLoss: r.config.method === 'guided' ? 0.9 : 0.8, finalDevLoss: d, zeroShotDevLoss: 1, testAcc: 0.6, bestDevAcc: 0.6, lr: 1e-3, forwardPasses: 2000 };
    });
    const t = Object.fromEntries(reportTables(loadSweeps([dir])).map((x) => [x.id, x]));
    expect(t['pair-0'].header.slice(-2)).toEqual(['lower final dev loss', 'p (dev loss)']);
    // seeds 2 (0.4 < 0.5) and 4 (MeZO diverged) are wins; 3 and 5 (guided diverged) are not
    expect(t['pair-0'].rows).toEqual([
      ['sst2', '4', '0/4', '0.125', '0/0', '4', '1.000', '2/4', '1.000'],
      ['all', '4', '0/4', '0.125', '0/0', '4', '1.000', '2/4', '1.000'],
    ]);
    expect(t['control-0'].note).toMatch(/; the lower final dev loss in 2\/4 \(p = 1\.000\)$/);
  });
});
