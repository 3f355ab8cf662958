import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, test } from 'vitest';
import { openTrajectory } from '@zotune/artifacts';
import { DEFAULT_FORWARD_PASSES, DEFAULTS, finetune, loadPreset, resolveConfig, settings } from '@zotune/finetune';
import { registerFinetuneCommand } from './finetune-command';
import { beforeAfter, configLayers, flagsToInput } from './finetune-run';

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

describe('zotune finetune and finetune() of the same config', () => {
  const work = mkdtempSync(join(tmpdir(), 'zotune-finetune-cli-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  test('write the same run: config.json, trajectory records, metrics and weights', async () => {
    const [a, b] = [join(work, 'cli'), join(work, 'lib')];
    const program = new Command().exitOverride();
    registerFinetuneCommand(program);
    const flags = ['--task', 'story-name', '--estimator', 'guided', '--candidates', '2', '--steps', '4', '--eval-every', '2', '--seed', '9', '--eval-n', '16', '--test-n', '16', '--lr', '2e-4', '--engine', 'ort', '--threads', '1'];
    await program.parseAsync(['finetune', ...flags, '--out', a], { from: 'user' });
    expect(process.exitCode ?? 0).toBe(0);
    const s = await finetune({ task: 'story-name', estimator: 'guided', candidates: 2, steps: 4, evalEvery: 2, seed: 9, evalN: 16, testN: 16, lr: 2e-4, engine: 'ort', threads: 1 }, { dir: b });
    const cli = JSON.parse(readFileSync(join(a, 'summary.json'), 'utf8'));
    for (const k of ['steps', 'forwardPasses', 'bestDevAcc', 'bestStep', 'testAcc', 'zeroShotTestAcc', 'finalTrainLoss', 'lr', 'policy']) expect(s[k as keyof typeof s], k).toEqual(cli[k]);
    for (const f of ['config.json', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expect(openTrajectory(join(b, 'trajectory')).records).toEqual(openTrajectory(join(a, 'trajectory')).records);
    const computed = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map(({ seconds: _s, stepSeconds: _t, ...r }) => r);
    expect(computed(b)).toEqual(computed(a));
  }, 300_000);
});

describe('the flags are the config schema', () => {
  const keys = settings().filter(([, m]) => m.cli !== false).map(([k]) => k);
  test('one option per setting, in the schema order, with its description and default', () => {
    const program = new Command();
    registerFinetuneCommand(program);
    const cmd = program.commands.find((c) => c.name() === 'finetune')!;
    expect(cmd.options.map((o) => o.attributeName()).filter((k) => (keys as string[]).includes(k))).toEqual(keys);
    const help = (k: string) => cmd.options.find((o) => o.attributeName() === k)!;
    expect(help('lr').flags).toBe('--lr <LR>');
    expect(help('lr').description).toMatch(/^learning rate η \(default mezo 0\.0001, guided 0\.0001, greedy 0\.0001, elite 0\.0001, adam 0\.001; smollm2-135m: mezo 0\.00003, mezo with --peft lora 0\.001\)/);
    expect(help('batch').description).toMatch(new RegExp(`\\(default ${DEFAULTS.batch}\\)$`));
    expect(help('forwardPasses').flags).toBe('--forward-passes <N>');
    expect(help('normalize').flags).toBe('--no-normalize');
    expect(help('saveFinal').flags).toBe('--save-final');
  });

  test("values parsed by the schema's type and bounds; a bad one is one line naming the flag", () => {
    const givenIn = (f: object) => (k: string) => k in f;
    const layer = (f: Record<string, string | boolean>) => flagsToInput(f, givenIn(f));
    const bad = (f: Record<string, string>, msg: string | RegExp) => expect(() => layer(f)).toThrow(msg);
    bad({ lr: 'abc' }, '--lr: expected a number, got "abc"');
    bad({ lr: '-1' }, /^--lr: .*got -1/);
    bad({ batch: '0' }, '--batch: expected an integer >= 1, got 0');
    bad({ candidates: '2000' }, '--candidates: expected an integer <= 1024, got 2000');
    bad({ seed: '1.5' }, '--seed: expected an integer, got "1.5"');
    bad({ weightDecay: '-1' }, '--weight-decay: expected a number >= 0, got -1');
    bad({ alpha: '1' }, /^--alpha: /);
    bad({ backend: 'gpu' }, /^--backend: /);
    bad({ estimator: 'sgd' }, '--estimator: unknown estimator "sgd"; expected one of mezo, guided, greedy, elite, adam');
    bad({ peft: 'ia3' }, '--peft: expected one of none, lora, prefix, got "ia3"');
    bad({ steps: '3', forwardPasses: '9' }, '--steps and --forward-passes: give one budget, not both');
    expect(layer({ lr: '2e-4', batch: '8', normalize: false, saveFinal: true, peft: 'lora', loraTargets: 'q,v', engine: 'ort' })).toEqual({
      lr: 2e-4, batch: 8, normalize: false, saveFinal: true, peft: 'lora', loraTargets: ['q_proj', 'v_proj'], engine: 'ort',
    });
  });
});
