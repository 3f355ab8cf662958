import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@zotune/data';
import { benchHeadroom, parseBenchHeadroomFlags } from './bench-headroom';

const defaults = { model: 'stories260K', task: 'story-name', batch: '8', batches: '2', probes: '2', steps: '3', lr: '1e-4', eps: '1e-3', seeds: '0', lossN: '16', gradients: 'auto', variants: 'uniform,density,density@predicted-lr,curvature,curvature@predicted-lr' };
process.env.ZOTUNE_DATA ??= resolve(REPO_ROOT, '../shared/data');
const haveData = existsSync(join(process.env.ZOTUNE_DATA, 'models', 'stories260K'));

describe('zotune bench headroom', () => {
  it('parses its flags and refuses bad ones with one line naming the flag', () => {
    expect(parseBenchHeadroomFlags({ ...defaults, seeds: '0,1,1' })).toMatchObject({ batch: 8, batches: 2, probes: 2, steps: 3, lr: 1e-4, seeds: [0, 1], lossN: 16 });
    expect(() => parseBenchHeadroomFlags({ ...defaults, probes: '0' })).toThrow(/^--probes: expected an integer >= 1, got 0$/);
    expect(() => parseBenchHeadroomFlags({ ...defaults, seeds: '0,x' })).toThrow(/^--seeds: /);
    expect(parseBenchHeadroomFlags({ ...defaults, gradients: 'torch', variants: 'density,uniform', steps: '0' })).toMatchObject({ gradients: 'torch', variants: ['uniform', 'density'], steps: 0 });
    expect(() => parseBenchHeadroomFlags({ ...defaults, gradients: 'jax' })).toThrow(/^--gradients: expected one of auto, tfjs, torch, got "jax"$/);
    expect(() => parseBenchHeadroomFlags({ ...defaults, variants: 'uniform,sqrt' })).toThrow(/^--variants: unknown variant "sqrt"; /);
  });

  it.skipIf(!haveData)('measures per-block density and curvature, predicts and measures each rule against uniform on the real model', async () => {
    const r = await benchHeadroom({ ...parseBenchHeadroomFlags(defaults), backend: 'wasm' });
    expect(r.blocks).toHaveLength(47);
    expect(r.densitySpan).toBeGreaterThan(1);
    expect(r.rules.map((x) => x.rule)).toEqual(['density', 'curvature']);
    for (const x of r.rules) expect(x.predictedGain).toBeGreaterThan(0);
    expect(r.runs.map((x) => x.variant)).toEqual(['uniform', 'density', 'density@predicted-lr', 'curvature', 'curvature@predicted-lr']);
    // paired: every run starts from the same weights and is measured on the same examples
    expect(new Set(r.runs.map((x) => x.lossBefore)).size).toBe(1);
    expect(r.measuredGain.uniform).toBe(1);
    const d = r.rules[0];
    expect(r.runs[2].lr).toBeCloseTo(1e-4 * d.predictedLrRatio, 12);
    expect(r.gradients.source).toBe('tfjs');
    // five decoder layers share all of the layers' gradient energy
    expect(r.layers.map((l) => l.layer)).toEqual([0, 1, 2, 3, 4]);
    const layerG = r.blocks.filter((b) => b.name.startsWith('model.layers.')).reduce((s, b) => s + b.gradEnergy, 0);
    const allG = r.blocks.reduce((s, b) => s + b.gradEnergy, 0);
    expect(r.layers.reduce((s, l) => s + l.gradShare, 0)).toBeCloseTo(layerG / allG, 12);
    expect(r.densitySpan10to90).toBeGreaterThan(1);
    expect(r.densitySpan10to90).toBeLessThanOrEqual(r.densitySpan);
  });

  it.skipIf(!haveData)('refuses a run set without uniform in one line', async () => {
    await expect(benchHeadroom({ ...parseBenchHeadroomFlags({ ...defaults, variants: 'density' }), backend: 'wasm' })).rejects.toThrow(/^--variants: must include uniform/);
  });

  it.skipIf(!haveData)('--from reuses a measurement: --seeds 1 then runs exactly the seed-1 runs of --seeds 0,1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'headroom-from-'));
    try {
      const flags = { ...defaults, steps: '2', variants: 'uniform,density@predicted-lr' };
      const both = await benchHeadroom({ ...parseBenchHeadroomFlags({ ...flags, seeds: '0,1' }), backend: 'wasm' });
      const measured = await benchHeadroom({ ...parseBenchHeadroomFlags({ ...flags, steps: '0' }), backend: 'wasm' });
      expect(measured.runs).toEqual([]);
      expect(measured.blocks).toEqual(both.blocks);
      const file = join(dir, 'm.json');
      writeFileSync(file, JSON.stringify(measured));
      const one = await benchHeadroom({ ...parseBenchHeadroomFlags({ ...flags, seeds: '1', from: file }), backend: 'wasm' });
      expect(one.gradients.from).toBe(file);
      expect(one.runs).toEqual(both.runs.filter((r) => r.seed === 1).map((r) => ({ ...r, secondsPerStep: expect.any(Number) })));
      await expect(benchHeadroom({ ...parseBenchHeadroomFlags({ ...flags, batch: '4', from: file }), backend: 'wasm' })).rejects.toThrow(/^--from .*: measured with batch 8, this run has 4; give the same --batch$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
