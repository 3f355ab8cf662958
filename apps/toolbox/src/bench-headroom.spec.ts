import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@zotune/data';
import { benchHeadroom, parseBenchHeadroomFlags } from './bench-headroom';

const defaults = { model: 'stories260K', task: 'story-name', batch: '8', batches: '2', probes: '2', steps: '3', lr: '1e-4', eps: '1e-3', seeds: '0', lossN: '16' };
process.env.ZOTUNE_DATA ??= resolve(REPO_ROOT, '../shared/data');
const haveData = existsSync(join(process.env.ZOTUNE_DATA, 'models', 'stories260K'));

describe('zotune bench headroom', () => {
  it('parses its flags and refuses bad ones with one line naming the flag', () => {
    expect(parseBenchHeadroomFlags({ ...defaults, seeds: '0,1,1' })).toMatchObject({ batch: 8, batches: 2, probes: 2, steps: 3, lr: 1e-4, seeds: [0, 1], lossN: 16 });
    expect(() => parseBenchHeadroomFlags({ ...defaults, probes: '0' })).toThrow(/^--probes: expected an integer >= 1, got 0$/);
    expect(() => parseBenchHeadroomFlags({ ...defaults, seeds: '0,x' })).toThrow(/^--seeds: /);
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
  });
});
