import { existsSync } from 'node:fs';
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
});
