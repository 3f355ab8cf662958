import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { forwardPassesPerStep } from '@zotune/zo';
import { parseRunConfig, resolveConfig, withAbsolutePaths } from './config';
import { DEFAULT_FORWARD_PASSES, DEFAULT_LR, DEMO_PRESET, loadPreset, parseInput, RUN_PRESET_DIR } from './schema';

describe('resolveConfig', () => {
  test('the defaults: stories260K, SST-2, MeZO without a policy at lr 1e-4, 1200 forward passes', () => {
    const c = resolveConfig([]);
    expect(c).toMatchObject({ model: 'stories260K', task: 'sst2', estimator: 'mezo', policy: 'none', candidates: 4, batch: 16, lr: 1e-4, eps: 1e-3 });
    expect(c.forwardPasses).toBe(DEFAULT_FORWARD_PASSES);
    expect(c.steps).toBe(DEFAULT_FORWARD_PASSES / 2);
    expect(c.evalEvery).toBe(Math.ceil(c.steps / 5));
    expect(c.evalBatch).toBe(16);
  });

  test('the demo preset: stories260K learning story-name with MeZO, no policy, 200 steps', () => {
    const { description, ...demo } = loadPreset(DEMO_PRESET);
    expect(description).toBeTypeOf('string');
    expect(resolveConfig([demo])).toMatchObject({ model: 'stories260K', task: 'story-name', estimator: 'mezo', policy: 'none', steps: 200, lr: 1e-4, evalEvery: 50 });
  });

  test('every shipped preset validates and resolves', () => {
    for (const f of readdirSync(RUN_PRESET_DIR).filter((f) => f.endsWith('.json'))) {
      const c = resolveConfig([loadPreset(join(RUN_PRESET_DIR, f))]);
      expect(c.steps, f).toBeGreaterThan(0);
    }
  });

  test('--forward-passes gives every estimator the same budget', () => {
    for (const estimator of ['mezo', 'guided', 'greedy', 'elite', 'adam'] as const) {
      const c = resolveConfig([{ estimator, forwardPasses: 1200 }]);
      const per = forwardPassesPerStep({ name: estimator, candidates: c.candidates, queries: c.queries });
      expect(c.steps * per, estimator).toBeLessThanOrEqual(1200);
      expect((c.steps + 1) * per, estimator).toBeGreaterThan(1200);
      expect(c.lr).toBe(DEFAULT_LR[estimator]);
    }
  });

  test("a model's own lr (MODEL_LR) where its evidence gives one, by estimator and what is trained; a given lr wins", () => {
    expect(resolveConfig([{ model: 'smollm2-135m', estimator: 'mezo' }]).lr).toBe(3e-5);
    expect(resolveConfig([{ model: 'smollm2-135m', estimator: 'mezo', peft: 'lora' }]).lr).toBe(1e-3);
    // no evidence for guided on smollm2-135m, nor for prefix tuning: the estimator's default
    expect(resolveConfig([{ model: 'smollm2-135m', estimator: 'guided', peft: 'lora' }]).lr).toBe(DEFAULT_LR.guided);
    expect(resolveConfig([{ model: 'smollm2-135m', estimator: 'mezo', peft: 'prefix' }]).lr).toBe(DEFAULT_LR.mezo);
    expect(resolveConfig([{ model: 'stories260K', estimator: 'mezo', peft: 'lora' }]).lr).toBe(DEFAULT_LR.mezo);
    expect(resolveConfig([{ model: 'smollm2-135m', peft: 'lora', lr: 2e-4 }]).lr).toBe(2e-4);
    expect(resolveConfig([{ model: 'smollm2-135m', lr: 2e-4 }, { peft: 'lora' }]).lr).toBe(2e-4); // an lr from any layer
  });

  test('later layers win; a budget of one kind replaces the other kind', () => {
    const preset = { estimator: 'mezo' as const, forwardPasses: 100, lr: 3e-4 };
    const c = resolveConfig([preset, { steps: 7, lr: 2e-5 }]);
    expect(c).toMatchObject({ estimator: 'mezo', steps: 7, forwardPasses: null, lr: 2e-5 });
    expect(resolveConfig([{ steps: 7 }, { forwardPasses: 40, estimator: 'mezo' }]).steps).toBe(20);
  });

  test('bad values fail with one line naming the field', () => {
    expect(() => parseInput({ lr: -1 }, 'flags')).toThrow(/^flags: lr: .*got -1/);
    expect(() => parseInput({ estimator: 'sgd' }, 'p.json')).toThrow(/^p\.json: estimator: /);
    expect(() => parseInput({ learningRate: 1 }, 'p.json')).toThrow('p.json: unknown field "learningRate"');
    expect(() => resolveConfig([{ estimator: 'guided', candidates: 1 }])).toThrow(/alpha/);
    expect(() => resolveConfig([{ batch: 4, shards: 5 }])).toThrow("--shards 5: more shards than the 4 examples of a step's batch (--batch)");
    // one shard is the plain run: config.json does not change
    expect(resolveConfig([{ shards: 1 }])).toEqual(resolveConfig([{}]));
    expect(resolveConfig([{ shards: 2 }]).shards).toBe(2);
    expect(() => loadPreset('no-such-preset')).toThrow(/--config no-such-preset: cannot read .*no such file/);
  });

  test('threads is kept only when given (else the cores of whichever machine runs or resumes)', () => {
    expect(resolveConfig([])).not.toHaveProperty('threads');
    expect(resolveConfig([{ threads: 2 }]).threads).toBe(2);
    expect(() => parseInput({ threads: 0 }, 'flags')).toThrow(/^flags: threads: .*got 0/);
    const c = resolveConfig([{ threads: 3 }]);
    expect(parseRunConfig(JSON.parse(JSON.stringify(c)), 'config.json')).toEqual(c);
  });

  test('a resolved config round-trips through parseRunConfig (config.json)', () => {
    const c = resolveConfig([{ estimator: 'elite', seed: 5 }]);
    expect(parseRunConfig(JSON.parse(JSON.stringify(c)), 'config.json')).toEqual(c);
    expect(() => parseRunConfig({ ...c, steps: 0 }, 'run/config.json')).toThrow(/^run\/config\.json: steps: /);
  });

  test('withAbsolutePaths: files become absolute (a run resumes from anywhere); names, references and digests stay', () => {
    expect(withAbsolutePaths({ model: 'models/x.bin', task: 't/task.json', policy: ' stories260K/default:latest ' })).toEqual({
      model: resolve('models/x.bin'), task: resolve('t/task.json'), policy: 'stories260K/default:latest',
    });
    expect(withAbsolutePaths({ model: 'stories260K', task: 'sst2', policy: 'none', lr: 1e-4 })).toEqual({ model: 'stories260K', task: 'sst2', policy: 'none', lr: 1e-4 });
  });
});
