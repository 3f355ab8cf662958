import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@zotune/data';
import { benchEval, parseBenchEvalFlags } from './bench-eval';

const defaults = { model: 'stories260K', task: 'sst2', split: 'dev', n: '256', batch: '64', rounds: '2', seed: '0' };
process.env.ZOTUNE_DATA ??= resolve(REPO_ROOT, '../shared/data');
const haveData = existsSync(join(process.env.ZOTUNE_DATA, 'models', 'stories260K'));

describe('zotune bench eval', () => {
  it('parses its flags and refuses bad ones with one line naming the flag', () => {
    expect(parseBenchEvalFlags({ ...defaults, task: 'sst2, boolq,sst2', threads: '2' })).toMatchObject({ tasks: ['sst2', 'boolq'], split: 'dev', n: 256, batch: 64, rounds: 2, threads: 2 });
    expect(() => parseBenchEvalFlags({ ...defaults, split: 'train' })).toThrow(/^--split: expected dev or test, got "train"$/);
    expect(() => parseBenchEvalFlags({ ...defaults, task: 'sst2,' })).toThrow(/^--task: expected a comma-separated list of tasks, got "sst2,"$/);
    expect(() => parseBenchEvalFlags({ ...defaults, rounds: '0' })).toThrow(/^--rounds: expected an integer >= 1, got 0$/);
    expect(() => parseBenchEvalFlags({ ...defaults, threads: 'two' })).toThrow(/^--threads: expected an integer >= 1, got "two"$/);
  });

  it.skipIf(!haveData)('times both layouts on stories260K (ORT): the same scores, the planned one with less padding and K fewer tokens per example', async () => {
    const r = await benchEval({ ...parseBenchEvalFlags({ ...defaults, task: 'copa', n: '40', batch: '8', rounds: '1', engine: 'ort', threads: '1' }), backend: 'wasm' });
    expect(r).toMatchObject({ model: 'stories260K', split: 'dev', batch: 8, rounds: 1, engine: { name: 'ort', threads: 1 } });
    expect(r.matmulPeak!.gflopPerSecond).toBeGreaterThan(0);
    expect(r.loadAverage.start).toHaveLength(3);
    const [t] = r.tasks;
    expect(t).toMatchObject({ task: 'COPA', n: 40, samePredictions: true });
    expect(t.scoresMaxAbsDiff).toBeLessThan(1e-5);
    expect(t.planned.accuracy).toBe(t.greedy.accuracy);
    // COPA has 2 candidates: the planned rows are 2 tokens shorter per example
    expect(t.planned.tokensPerForward * t.planned.forwards).toBeCloseTo(t.greedy.tokensPerForward * t.greedy.forwards - 2 * 40, 6);
    expect(t.planned.paddedShare).toBeLessThanOrEqual(t.greedy.paddedShare);
    expect(t.greedy.forwards).toBe(5); // 40 examples, 8 per forward
    expect(t.speedup).toBeCloseTo(t.planned.examplesPerSecond / t.greedy.examplesPerSecond, 10);
    for (const l of [t.greedy, t.planned]) {
      expect(l.forwardShare).toBeGreaterThan(0);
      expect(l.forwardShare).toBeLessThanOrEqual(1);
      expect(l.examplesPerSecond).toBeCloseTo(40 / l.seconds, 10);
    }
  });
});
