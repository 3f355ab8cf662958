import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendRecord, createTrajectory, encodeFrame, openTrajectory, resumeTrajectory, type StepRecord } from '@zotune/artifacts';
import { parseEstimatorConfig, type EstimatorConfigInput } from './config';
import { zoEstimatorNames } from './names';
import { createEstimator } from './estimator';
import { trajectoryHeader } from './header';
import { recordedLosses, replay } from './replay';
import { runSteps } from './run.testkit';
import type { Scale } from './scale';
import { makeToy, sameBits, type Toy } from './toy.testkit';
import { policyLikeScale } from './trajectory-fixture.testkit';

let dir: string;
let toys: Toy[] = [];
function toy(seed: number): Toy {
  const t = makeToy(seed);
  toys.push(t);
  return t;
}
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'zotune-zo-'));
});
afterEach(() => {
  toys.forEach((t) => t.dispose());
  toys = [];
  rmSync(dir, { recursive: true, force: true });
});

// a σ that depends on the previous step's losses and the current weights, as a policy's would
const policyLike: Scale = policyLikeScale(0.2, 100);

/** A live run that writes its trajectory, as the fine-tune app does. */
async function liveRun(path: string, config: EstimatorConfigInput, steps: number, scale?: Scale): Promise<{ toy: Toy; records: StepRecord[] }> {
  const t = toy(11);
  const est = createEstimator(config);
  createTrajectory(path, await trajectoryHeader(t.blocks, { runSeed: 5, family: 'toy', estimator: est.config, run: { note: 'test' } }));
  const records = await runSteps(est, t, steps, { runSeed: 5, scale, onRecord: (r) => appendRecord(path, r) });
  est.dispose();
  return { toy: t, records };
}

describe('replay', () => {
  const variants: [string, EstimatorConfigInput, Scale | undefined][] = [
    ...zoEstimatorNames.map((name): [string, EstimatorConfigInput, undefined] => [name, { name, lr: 0.05, queries: 2 }, undefined]),
    ['guided + policy σ + weight decay', { name: 'guided', lr: 0.05, weightDecay: 0.1 }, policyLike],
    ['elite + cached noise', { name: 'elite', lr: 0.05, cacheNoise: true }, undefined],
    ['mezo + policy σ + weight decay', { name: 'mezo', lr: 0.05, weightDecay: 0.3 }, policyLike],
  ];
  for (const [label, config, scale] of variants) {
    it(`${label}: rebuilds the live weights bit for bit from the base weights and the trajectory`, async () => {
      const path = join(dir, 'trajectory');
      const live = await liveRun(path, config, 12, scale);
      const t = openTrajectory(path);
      expect(t.records).toEqual(live.records);
      const base = toy(11);
      expect(sameBits(base.snapshot(), live.toy.snapshot())).toBe(false);
      await replay(base.blocks, t.header, t.records);
      expect(sameBits(base.snapshot(), live.toy.snapshot())).toBe(true);
    });
  }

  it('continues from a record the weights already hold (prev): in pieces, the weights of one replay', async () => {
    const path = join(dir, 'trajectory');
    const live = await liveRun(path, { name: 'elite', lr: 0.05 }, 9, policyLike);
    const t = openTrajectory(path);
    const base = toy(11);
    await replay(base.blocks, t.header, t.records.slice(0, 4));
    // each piece starts where the last left off; elite reads the previous record's seeds
    await replay(base.blocks, t.header, t.records.slice(4, 5), { prev: t.records[3] });
    await replay(base.blocks, t.header, [], { prev: t.records[4] });
    await replay(base.blocks, t.header, t.records.slice(5), { prev: t.records[4] });
    expect(sameBits(base.snapshot(), live.toy.snapshot())).toBe(true);
    // a piece that does not follow prev is refused, naming the step
    await expect(replay(toy(11).blocks, t.header, t.records.slice(6), { prev: t.records[4] })).rejects.toThrow('trajectory: record 0 has step 6, expected 5');
  });

  it('a run killed mid-append and resumed ends with the weights and records of the uninterrupted run', async () => {
    const config = { name: 'elite', lr: 0.05 } as const;
    const whole = await liveRun(join(dir, 'whole'), config, 10, policyLike);

    // the interrupted run: 6 records, then a kill while writing the 7th
    const path = join(dir, 'killed');
    const first = await liveRun(path, config, 6, policyLike);
    const seventh = encodeFrame(whole.records[6]);
    appendFileSync(path, seventh.subarray(0, seventh.length - 9));
    expect(openTrajectory(path).tornBytes).toBe(seventh.length - 9);

    // resume: drop the torn record, rebuild θ from the base weights, continue after the last record
    const t = resumeTrajectory(path);
    expect(t.records).toEqual(first.records);
    const resumed = toy(11);
    await replay(resumed.blocks, t.header, t.records);
    const est = createEstimator(parseEstimatorConfig(t.header.estimator));
    await runSteps(est, resumed, 4, { runSeed: t.header.runSeed, scale: policyLike, first: t.records.length, prev: t.records.at(-1), onRecord: (r) => appendRecord(path, r) });
    est.dispose();

    expect(sameBits(resumed.snapshot(), whole.toy.snapshot())).toBe(true);
    expect(openTrajectory(path).records).toEqual(whole.records);
  });

  it('refuses a tampered record, naming the step and the field', async () => {
    const path = join(dir, 'trajectory');
    await liveRun(path, { name: 'guided', lr: 0.05 }, 4);
    const t = openTrajectory(path);
    const bad = structuredClone(t.records);
    bad[2].probes[0].weights = bad[2].probes[0].weights.map((w) => -w); // the direction no longer matches the ranking
    await expect(replay(toy(11).blocks, t.header, bad)).rejects.toThrow(/^trajectory: step 2 does not replay \(probes: stored .*\); the file is corrupted/);
    const bad2 = structuredClone(t.records);
    bad2[1].projectedGrad *= 2;
    await expect(replay(toy(11).blocks, t.header, bad2)).rejects.toThrow(/step 1 does not replay \(projectedGrad: stored/);
    const bad3 = structuredClone(t.records);
    bad3[3].candidates[0].seed ^= 1;
    await expect(replay(toy(11).blocks, t.header, bad3)).rejects.toThrow(/step 3 does not replay \(candidates: stored/);
  });

  it('refuses other base weights or other blocks', async () => {
    const path = join(dir, 'trajectory');
    await liveRun(path, { name: 'mezo', lr: 0.05 }, 2);
    const t = openTrajectory(path);
    await expect(replay(toy(12).blocks, t.header, t.records)).rejects.toThrow(/the model's weights \(sha256 [0-9a-f]{12}…\) are not the run's base weights/);
    const other = toy(11);
    await expect(replay(other.blocks.slice(0, 3), t.header, t.records)).rejects.toThrow(/written for 4 blocks, the model has 3/);
    const renamed = other.blocks.map((b, i) => (i === 2 ? { ...b, kind: 'matrix' as const } : b));
    await expect(replay(renamed, t.header, t.records)).rejects.toThrow(/block 2 is model.layers.0.mlp.up_proj.bias bias \[3\] in the trajectory but model.layers.0.mlp.up_proj.bias matrix \[3\] in the model/);
  });

  it('feeds back the losses in evaluation order: candidates, then each probe L+, L−', async () => {
    const t = toy(13);
    const seen: number[] = [];
    const est = createEstimator({ name: 'guided', candidates: 3, alpha: 0.34 });
    const rec = await est.step({ blocks: t.blocks, step: 0, seed: 8, lossValue: async () => { const l = await t.lossValue(); seen.push(l); return l; } });
    expect(recordedLosses(rec)).toEqual(seen);
    expect(seen.length).toBe(5);
  });

  it('leaves no tensor behind', async () => {
    const path = join(dir, 'trajectory');
    await liveRun(path, { name: 'greedy', lr: 0.05 }, 5);
    const t = openTrajectory(path);
    const base = toy(11);
    await replay(base.blocks, t.header, t.records.slice(0, 1));
    const n = tf.memory().numTensors;
    const again = toy(11);
    const m = tf.memory().numTensors;
    await replay(again.blocks, t.header, t.records);
    expect(tf.memory().numTensors).toBe(m);
    expect(m).toBeGreaterThan(n);
  });
});
