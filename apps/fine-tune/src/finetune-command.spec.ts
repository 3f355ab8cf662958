import { describe, expect, test } from 'vitest';
import { DEFAULT_FORWARD_PASSES, DEFAULTS, loadPreset, resolveConfig } from './config';
import { beforeAfter, configLayers } from './finetune-command';

describe('configLayers', () => {
  const givenOf = (keys: string[]) => (k: string) => keys.includes(k);
  test('no settings (or only --out, --backend): the demo preset', () => {
    for (const keys of [[], ['out'], ['out', 'backend']]) {
      const { layers, demo } = configLayers({ out: 'x', backend: 'cpu' }, givenOf(keys));
      expect(demo).toBe(true);
      expect(resolveConfig(layers)).toMatchObject({ ...resolveConfig([loadPreset('demo')]), backend: keys.includes('backend') ? 'cpu' : 'auto' });
      // configs/runs/demo.json's figures, pinned (the preset sets no backend: the default, auto)
      expect(resolveConfig(layers)).toMatchObject({ model: 'stories260K', task: 'story-name', estimator: 'mezo', steps: 200, lr: 1e-4, eps: 1e-3, batch: 16, seed: 0 });
    }
  });
  test('any setting: the defaults (or --config) under the flags, not the demo', () => {
    const { layers, demo } = configLayers({ task: 'copa' }, givenOf(['task']));
    expect(demo).toBe(false);
    expect(resolveConfig(layers)).toMatchObject({ task: 'copa', estimator: DEFAULTS.estimator, forwardPasses: DEFAULT_FORWARD_PASSES }); // the demo counts 200 steps
    expect(resolveConfig(configLayers({ config: 'mezo-stories260K', steps: '3' }, givenOf(['config', 'steps'])).layers)).toMatchObject({ estimator: 'mezo', steps: 3 });
  });
});

describe('beforeAfter', () => {
  test('zero-shot and fine-tuned test accuracy on the same examples, the change in points', () => {
    expect(beforeAfter({ task: 'story-name', testN: 309, zeroShotTestAcc: 0.909, testAcc: 0.961, bestStep: 200 })).toBe(
      'before → after, story-name test accuracy on the same 309 examples: zero-shot 90.9% → fine-tuned 96.1% (+5.2 points)',
    );
    expect(beforeAfter({ task: 't', testN: 10, zeroShotTestAcc: 0.5, testAcc: 0.5, bestStep: 0 })).toMatch(/\(no dev gain: the best checkpoint is the base model\)$/);
  });
});
