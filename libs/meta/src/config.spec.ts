import { describe, expect, it } from 'vitest';
import { lookaheadLr, parseMetaConfig } from './config';

describe('meta config variants', () => {
  it('defaults are the reference: a fixed look-ahead η, nf held constant', () => {
    expect(parseMetaConfig({})).toMatchObject({ metaLr: 1e-4, metaLrMax: 0, nfGrad: false, lookaheadSteps: 1 });
    expect(lookaheadLr(parseMetaConfig({}), 0.7)).toBe(1e-4);
  });
  it('--meta-lr-max: η log-uniform in [metaLr, metaLrMax]', () => {
    const c = parseMetaConfig({ metaLr: 1e-4, metaLrMax: 1e-2 });
    expect(lookaheadLr(c, 0)).toBeCloseTo(1e-4, 15);
    expect(lookaheadLr(c, 0.5)).toBeCloseTo(1e-3, 12);
    expect(lookaheadLr(c, 0.999999)).toBeLessThan(1e-2);
    expect(() => parseMetaConfig({ nfGrad: 'yes' })).toThrow(/nfGrad/);
  });
  it('lookaheadSteps: an integer in [1, 64]', () => {
    expect(parseMetaConfig({ lookaheadSteps: 4 }).lookaheadSteps).toBe(4);
    for (const bad of [0, 1.5, 65]) expect(() => parseMetaConfig({ lookaheadSteps: bad })).toThrow(/^meta-training config: lookaheadSteps: .*\(got /);
  });
});
