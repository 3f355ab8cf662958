import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '@zotune/io';
import { canonicalJson, expandRuns, finetuneInput, loadSpec, parseSpec, runKey, SpecError } from './spec';
import { meanSd, signTestP } from './stats';

const work = mkdtempSync(join(tmpdir(), 'zotune-sweep-spec-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const base = () => ({
  grid: { task: ['sst2', 'cb'], method: ['mezo', 'mezo+policy'], seed: [0, 1], forwardPasses: [100], lr: [1e-4] },
  methods: { mezo: { estimator: 'mezo' }, 'mezo+policy': { estimator: 'mezo', policy: 'stories260K' } },
  options: { evalN: 16 },
  taskOptions: { cb: { testN: 8 } },
  compare: { pairs: [{ baseline: 'mezo', treatment: 'mezo+policy' }] },
});

const problem = (v: unknown) => {
  try {
    parseSpec(v, 'spec.json');
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe('sweep spec', () => {
  it('expands the grid into runs with stable keys', () => {
    const runs = expandRuns(parseSpec(base(), 's'));
    expect(runs).toHaveLength(8);
    expect(runs.map((r) => r.key.replace(/-[0-9a-f]{10}$/, ''))).toEqual([
      'sst2-mezo-s0', 'sst2-mezo-policy-s0', 'sst2-mezo-s1', 'sst2-mezo-policy-s1', 'cb-mezo-s0', 'cb-mezo-policy-s0', 'cb-mezo-s1', 'cb-mezo-policy-s1',
    ]);
    expect(new Set(runs.map((r) => r.key)).size).toBe(8);
    expect(runs[4].config.options).toEqual({ evalN: 16, testN: 8 });
    // the key is the hash of the normalised config: key order and a re-parse do not change it
    const again = expandRuns(parseSpec(JSON.parse(JSON.stringify(base())), 's'));
    expect(again.map((r) => r.key)).toEqual(runs.map((r) => r.key));
    expect(runKey({ ...runs[0].config })).toBe(runs[0].key);
    expect(runs[0].key.slice(-10)).toBe(sha256Hex(canonicalJson(runs[0].config)).slice(0, 10));
    // any change of what decides the result changes the key; threads do not
    const changed = base();
    changed.grid.lr = [2e-4];
    expect(expandRuns(parseSpec(changed, 's'))[0].key).not.toBe(runs[0].key);
    expect(expandRuns(parseSpec({ ...base(), threads: 2 }, 's'))[0].key).toBe(runs[0].key);
  });

  it('turns a run into its fine-tune config: the settings under their own names, over finetune\'s defaults', () => {
    const spec = parseSpec({ ...base(), grid: { ...base().grid, engine: ['ort'] }, threads: 2, methods: { ...base().methods, mezo: { estimator: 'mezo', queries: 2, peft: 'lora', loraTargets: 'q,v' } } }, 's');
    const run = expandRuns(spec)[0];
    expect(JSON.parse(JSON.stringify(finetuneInput(run)))).toEqual({
      model: 'stories260K', task: 'sst2', estimator: 'mezo', policy: 'none', queries: 2, peft: 'lora', loraTargets: 'q,v', lr: 1e-4, eps: 1e-3, seed: 0, forwardPasses: 100, evalN: 16, engine: 'ort', threads: 2,
    });
    // without threads in the spec: one per run (finetune's own default, every core, would oversubscribe a pool)
    expect(finetuneInput(expandRuns(parseSpec(base(), 's'))[0]).threads).toBe(1);
  });

  it('names a policy file by its digest, and passes the file to finetune', () => {
    const file = join(work, 'p.zpol');
    writeFileSync(file, 'policy bytes');
    const s = base();
    (s.methods as Record<string, unknown>)['mezo+policy'] = { estimator: 'mezo', policy: file };
    const runs = expandRuns(parseSpec(s, 's'), work);
    expect(runs[1].config.policy).toBe(`sha256:${sha256Hex('policy bytes')}`);
    expect(runs[1].policyFile).toBe(file);
    expect(finetuneInput(runs[1]).policy).toBe(file);
    expect(finetuneInput(runs[1], '/worker/copy.zpol').policy).toBe('/worker/copy.zpol');
  });

  it('names the field of an invalid spec', () => {
    expect(problem({ ...base(), grid: { ...base().grid, seed: [] } })).toBe('spec.json: grid.seed: expected at least one value');
    expect(problem({ ...base(), grid: { ...base().grid, lr: ['fast'] } })).toMatch(/^spec\.json: grid\.lr\.0: /);
    expect(problem({ ...base(), grid: { ...base().grid, task: ['../etc/x'] } })).toBe('spec.json: grid.task.0: expected a name (letters, digits, . _ -), not a path');
    expect(problem({ ...base(), methods: { mezo: { estimator: 'sgd' } } })).toMatch(/^spec\.json: methods\.mezo\.estimator: /);
    expect(problem({ ...base(), grid: { ...base().grid, method: ['mezo', 'adam'] } })).toBe('spec.json: grid.method.1: unknown method "adam" (defined: mezo, mezo+policy)');
    expect(problem({ ...base(), compare: { pairs: [{ baseline: 'mezo', treatment: 'x' }] } })).toMatch(/^spec\.json: compare\.pairs\.0\.treatment: unknown method "x"/);
    expect(problem({ ...base(), bogus: 1 })).toBe('spec.json: unknown field "bogus"');
    expect(problem({ ...base(), options: { evalN: 0 } })).toMatch(/^spec\.json: options\.evalN: /);
    expect(problem({ ...base(), taskOptions: { rte: {} } })).toBe('spec.json: taskOptions.rte: "rte" is not in grid.task');
    const f = join(work, 'bad.json');
    writeFileSync(f, '{"grid": ');
    expect(() => loadSpec(f)).toThrow(new RegExp(`^${f}: not JSON`));
    expect(() => loadSpec(join(work, 'none.json'))).toThrow(/no such file/);
  });
});

describe('statistics', () => {
  it('mean and sample sd', () => {
    expect(meanSd([1, 2, 3])).toEqual([2, 1]);
    expect(meanSd([5])).toEqual([5, 0]);
  });
  it('sign test: exact two-sided binomial probabilities', () => {
    expect(signTestP(3, 6)).toBeCloseTo(1, 12);
    expect(signTestP(6, 6)).toBeCloseTo(2 / 64, 12);
    expect(signTestP(0, 6)).toBeCloseTo(2 / 64, 12);
    expect(signTestP(5, 6)).toBeCloseTo(14 / 64, 12);
    expect(signTestP(9, 12)).toBeCloseTo((2 * (1 + 12 + 66 + 220)) / 4096, 12);
    expect(signTestP(0, 0)).toBe(1);
  });
});
