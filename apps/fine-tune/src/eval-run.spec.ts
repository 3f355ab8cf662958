// runEval as `zotune eval` runs it, in process: result shape, --n, and flag errors (exit code 2).
import { resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { UserError } from '@zotune/report';
import { beforeAll, describe, expect, test } from 'vitest';
import { runEval, type EvalCommandOptions } from './eval-run';

beforeAll(() => {
  process.env.ZOTUNE_DATA ??= resolve(REPO_ROOT, '../shared/data');
});

const base: EvalCommandOptions = { model: 'stories260K', task: 'sst2', split: 'test', seed: '0', batch: '64' };

describe('runEval', () => {
  test('SST-2 test, first 48 examples: counts add up, notes say the test file is short', async () => {
    const r = await runEval({ ...base, n: '48' });
    expect(r).toMatchObject({ task: 'SST-2', model: 'stories260K', split: 'test', seed: 0, n: 48 });
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    expect(Object.keys(r.perClass)).toEqual(['negative', 'positive']);
    expect(r.perClass.negative.gold + r.perClass.positive.gold).toBe(48);
    expect(r.perClass.negative.correct + r.perClass.positive.correct).toBe(Math.round(r.accuracy * 48));
    expect(r.examplesPerSecond).toBeGreaterThan(0);
    expect(r.notes).toContain('test: all 872 examples of dev.tsv (fewer than 1000)');
    // deterministic for a seed
    expect((await runEval({ ...base, n: '48' })).confusion).toEqual(r.confusion);
  });

  test('--n larger than the split uses all of it and says so', async () => {
    const r = await runEval({ ...base, task: 'cb', n: '500' });
    expect(r.n).toBe(56);
    expect(r.notes).toContain('--n 500: the test split has 56 examples; using all of them');
  });

  test('bad flags are UserErrors (exit code 2) naming the flag', async () => {
    const bad = async (o: Partial<EvalCommandOptions>, msg: string) => {
      const e = await runEval({ ...base, ...o }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).exitCode).toBe(2);
      expect((e as Error).message).toContain(msg);
    };
    await bad({ split: 'train' }, '--split: expected dev or test, got "train"');
    await bad({ n: '0' }, '--n: expected an integer >= 1');
    await bad({ batch: 'x' }, '--batch: expected an integer');
    await bad({ task: 'nope' }, '--task: unknown task "nope"');
    await bad({ backend: 'gpu' }, '--backend: unknown backend "gpu"');
  });
});
