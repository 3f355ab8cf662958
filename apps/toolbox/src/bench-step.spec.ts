import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@zotune/data';
import { benchStep, parseBenchStepFlags } from './bench-step';

const defaults = { model: 'stories260K', task: 'sst2', batch: '16', estimator: 'mezo,guided', candidates: '4', policy: 'random', steps: '20', seed: '0' };
process.env.ZOTUNE_DATA ??= resolve(REPO_ROOT, '../shared/data');
const haveData = existsSync(join(process.env.ZOTUNE_DATA, 'models', 'stories260K'));

describe('zotune bench step', () => {
  it('parses its flags and refuses bad ones with one line naming the flag', () => {
    const o = parseBenchStepFlags(defaults);
    expect(o).toMatchObject({ batch: 16, estimators: ['mezo', 'guided'], candidates: 4, policy: 'random', steps: 20, seed: 0 });
    expect(parseBenchStepFlags({ ...defaults, estimator: 'guided' }).estimators).toEqual(['guided']);
    expect(() => parseBenchStepFlags({ ...defaults, estimator: 'mezo,adam' })).toThrow(/^--estimator: unknown estimator "adam"; expected mezo, guided or mezo,guided$/);
    expect(() => parseBenchStepFlags({ ...defaults, policy: 'learned' })).toThrow(/^--policy: expected none or random, got "learned"$/);
    expect(() => parseBenchStepFlags({ ...defaults, batch: '0' })).toThrow(/^--batch: expected an integer >= 1, got 0$/);
    expect(() => parseBenchStepFlags({ ...defaults, candidates: '1' })).toThrow(/^--candidates: expected an integer >= 2/);
  });

  it('--peer: MeZO with σ = ones on every weight, a --threads list (default 1,2); anything without a counterpart in the peer is refused', () => {
    const base = { model: 'smollm2-135m', task: 'sst2', batch: '16', candidates: '4', steps: '3', seed: '0', peer: true };
    expect(parseBenchStepFlags(base)).toMatchObject({ peer: true, peerThreads: [1, 2], estimators: ['mezo'], policy: 'none', steps: 3 });
    expect(parseBenchStepFlags({ ...base, threads: '2, 1,2', estimator: 'mezo', policy: 'none' })).toMatchObject({ peerThreads: [2, 1], estimators: ['mezo'] });
    expect(() => parseBenchStepFlags({ ...base, threads: '1,x' })).toThrow(/^--threads: expected an integer >= 1, got "x"$/);
    expect(() => parseBenchStepFlags({ ...base, estimator: 'mezo,guided' })).toThrow(/^--peer: times MeZO only; drop --estimator mezo,guided \(or pass --estimator mezo\)$/);
    expect(() => parseBenchStepFlags({ ...base, policy: 'random' })).toThrow(/^--peer: times MeZO with σ = ones; drop --policy random \(or pass --policy none\)$/);
    expect(() => parseBenchStepFlags({ ...base, peft: 'lora' })).toThrow(/^--peer: the peer steps every weight; drop --peft lora$/);
    // without --peer: one thread count, and the old defaults
    expect(() => parseBenchStepFlags({ ...base, peer: undefined, threads: '1,2' })).toThrow(/^--threads: expected an integer >= 1, got "1,2"$/);
    const plain = parseBenchStepFlags({ ...base, peer: undefined });
    expect(plain).toMatchObject({ estimators: ['mezo', 'guided'], policy: 'random' });
    expect(plain.peer).toBeUndefined();
  });

  it.skipIf(!haveData)('measures forward, MeZO step and policy cost on the real stories260K and SST-2', async () => {
    const r = await benchStep({ ...parseBenchStepFlags(defaults), estimators: ['mezo'], steps: 2, backend: 'wasm' });
    expect(r).toMatchObject({ model: 'stories260K', task: 'SST-2', batch: 16, blocks: 47 });
    expect(r.forwardMs).toBeGreaterThan(0);
    expect(r.mezo!.forwardPasses).toBe(2);
    expect(r.mezo!.forwardsPerStep).toBeCloseTo(r.mezo!.stepMs / r.forwardMs, 10);
    // the memory floor: two forwards and three copies of the weights' bytes (on this tiny model a
    // step's forwards can be cheaper than the lone forward timed, so the floor is not compared to it)
    expect(r.weightsCopyMs).toBeGreaterThan(0);
    expect(r.mezo!.floorForwardsPerStep).toBeCloseTo(2 + (3 * r.weightsCopyMs!) / r.forwardMs, 10);
    expect(r.mezo!.stepWithPolicyMs).toBeGreaterThan(0);
    expect(r.guided).toBeUndefined();
    const p = r.policy!;
    expect(p).toMatchObject({ blocks: 47, targetPercent: 5, mezoStepMs: r.mezo!.stepMs });
    expect(p.parameters).toBe(47 * (5 * 64 + 64 + 64 + 1));
    expect(p.percentOfMezoStep).toBeCloseTo((100 * p.totalMs) / r.mezo!.stepMs, 10);
    expect(p.statsMs).toBeGreaterThan(0);
    // --estimator guided still times a MeZO step for the policy's percentage, but reports no mezo ratio
    const g = await benchStep({ ...parseBenchStepFlags(defaults), estimators: ['guided'], candidates: 2, steps: 1, backend: 'wasm' });
    expect(g.mezo).toBeUndefined();
    expect(g.guided).toMatchObject({ candidates: 2, forwardPasses: 4 });
    expect(g.policy!.mezoStepMs).toBeGreaterThan(0);
  });

  it.skipIf(!haveData)('--engine ort steps through ONNX Runtime (the JSON says so, with its sessions)', async () => {
    const r = await benchStep({ ...parseBenchStepFlags({ ...defaults, engine: 'ort', threads: '2' }), estimators: ['mezo'], policy: 'none', steps: 1, backend: 'wasm' });
    expect(r.engine).toMatchObject({ name: 'ort', threads: 2, ortVersion: '1.30.0' });
    expect(r.engine.sessions).toBeGreaterThanOrEqual(1);
    expect(r.threads).toBe(2);
    expect(r.mezo!.stepMs).toBeGreaterThan(0);
    expect(() => parseBenchStepFlags({ ...defaults, shape: 'stories42M' })).toThrow(/^--shape: expected stories15M, got "stories42M"$/);
  });
});
