// Resume against the uninterrupted run, at every cut point: a five-step elite run (elite carries a
// seed from one step to the next, so a resume that loses or repeats a record, or passes the wrong
// previous record, changes every later step) is cut after k complete records and a few bytes of the
// next (a kill mid-append), resumed on fresh base weights and continued to the end. Resuming after k
// records must replay exactly k (the weights of step k, bit for bit) and end with the weights and
// records of the run that was never interrupted. The toy: three blocks in JS memory (as engine ort
// keeps them) and a least-squares loss computed here.
import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendRecord, createTrajectory } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import { createEstimator, parseEstimatorConfig, stepSeed, trajectoryHeader, type StepRecord } from '@zotune/zo';
import { checkPeftHeader, recordedLoraApplied, replayForResume, type ResumeInputs } from './resume';

const work = mkdtempSync(join(tmpdir(), 'zotune-resume-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const STEPS = 5;
const SEED = 7;
const CONFIG = parseEstimatorConfig({ name: 'elite', eps: 1e-2, lr: 0.05, cacheNoise: false });
const TORN = 7; // bytes of a record the kill left behind

function baseBlocks(): Block[] {
  const spec: [string, number[], Block['kind']][] = [['w', [4, 3], 'matrix'], ['b', [3], 'bias'], ['g', [3], 'norm']];
  return spec.map(([name, shape, kind], index) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: size }, (_, k) => Math.sin(1 + k + 10 * index) / 2);
    return { name, shape, kind, size, index, data };
  });
}
const lossOf = (blocks: Block[]) => () => {
  let s = 0;
  let n = 0;
  for (const b of blocks) b.data!.forEach((x, k) => ((s += (x - Math.cos(k)) ** 2), n++));
  return s / n;
};
const weights = (blocks: Block[]) => blocks.map((b) => Array.from(b.data!));

async function continueRun(blocks: Block[], from: number, prev: StepRecord | undefined, onRecord: (r: StepRecord) => void = () => {}, trajectoryVersion?: number) {
  const est = createEstimator(CONFIG, { trajectoryVersion });
  for (let s = from; s < STEPS; s++) {
    const rec = await est.step({ blocks, lossValue: lossOf(blocks), step: s, seed: stepSeed(SEED, s), prev });
    await est.update(blocks, rec);
    onRecord(rec);
    prev = rec;
  }
  est.dispose();
}

// the uninterrupted run: its trajectory, the file size after each record, the weights after each step
const live = baseBlocks();
const full = join(work, 'full.zotraj');
const ends: number[] = [];
const recs: StepRecord[] = [];
const after: number[][][] = [weights(live)];

describe('resume', () => {
  // in beforeAll, not a test: every test below needs it, also when run alone (Stryker runs only the
  // tests that cover a mutant)
  beforeAll(async () => {
    createTrajectory(full, await trajectoryHeader(live, { runSeed: SEED, family: 'toy', estimator: CONFIG, engine: 'ort' }));
    ends.push(statSync(full).size);
    await continueRun(live, 0, undefined, (rec) => {
      appendRecord(full, rec);
      ends.push(statSync(full).size);
      recs.push(rec);
      after.push(weights(live));
    });
  });

  it('the uninterrupted run, the reference the cuts are compared with, carries the elite seed', () => {
    expect(recs.map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
    // elite carries a seed: from step 1 on, candidate 0 is the previous step's lower-loss candidate
    for (let s = 1; s < STEPS; s++) {
      const [a, b] = recs[s - 1].candidates;
      expect(recs[s].candidates[0].seed).toBe(a.loss! <= b.loss! ? a.seed : b.seed);
    }
    // the run moved: every step changed the weights
    for (let s = 1; s <= STEPS; s++) expect(after[s]).not.toEqual(after[s - 1]);
  });

  for (let k = 0; k <= STEPS; k++) {
    it(`killed after ${k} complete record${k === 1 ? '' : 's'}${k < STEPS ? ' and part of the next' : ''}: replays exactly ${k}, then ends as the uninterrupted run`, async () => {
      const cut = join(work, `cut-${k}.zotraj`);
      copyFileSync(full, cut);
      const torn = k < STEPS ? TORN : 0;
      truncateSync(cut, ends[k] + torn);
      const blocks = baseBlocks();
      const lines: string[] = [];
      const seen: number[] = [];
      const { header, records } = await replayForResume(cut, blocks, {
        config: { seed: SEED, estimator: 'elite', steps: STEPS }, base: { name: 'toy', digest: 'unused' }, engine: 'ort',
        log: (l) => lines.push(l),
        onHeader: (h) => seen.push(h.runSeed),
      });
      expect(records.length).toBe(k);
      expect(records).toEqual(recs.slice(0, k));
      expect(header.runSeed).toBe(SEED);
      expect(seen).toEqual([SEED]);
      expect(weights(blocks)).toEqual(after[k]);
      expect(lines).toEqual([...(torn ? [`resume: dropped a torn last record (${TORN} bytes)`] : []), `resume: replayed ${k} steps onto the base weights`]);
      expect(statSync(cut).size).toBe(ends[k]); // the torn bytes are gone from the file
      const more: StepRecord[] = [];
      await continueRun(blocks, k, records.at(-1), (r) => more.push(r));
      expect(more).toEqual(recs.slice(k));
      expect(weights(blocks)).toEqual(after[STEPS]);
    });
  }

  it('a format-version-2 run (restore, then update) resumes and continues with its own arithmetic, bit for bit', async () => {
    const v2 = baseBlocks();
    const path = join(work, 'v2.zotraj');
    createTrajectory(path, { ...(await trajectoryHeader(v2, { runSeed: SEED, family: 'toy', estimator: CONFIG, engine: 'ort' })), version: 2 });
    const v2ends = [statSync(path).size];
    const v2recs: StepRecord[] = [];
    await continueRun(v2, 0, undefined, (rec) => (appendRecord(path, rec), v2ends.push(statSync(path).size), v2recs.push(rec)), 2);
    expect(weights(v2)).not.toEqual(after[STEPS]); // version 4 takes other directions (and lands on other round-off)
    truncateSync(path, v2ends[2] + TORN);
    const blocks = baseBlocks();
    const lines: string[] = [];
    const { header, records } = await replayForResume(path, blocks, {
      config: { seed: SEED, estimator: 'elite', steps: STEPS }, base: { name: 'toy', digest: 'unused' }, engine: 'ort', log: (l) => lines.push(l),
    });
    expect(lines).toContain('note: the trajectory is format version 2: the run continues with its arithmetic (restore, then update, noise stream 1; new runs write version 4: fused restore and update, noise stream 2)');
    const more: StepRecord[] = [];
    await continueRun(blocks, records.length, records.at(-1), (r) => more.push(r), header.version);
    expect([...records, ...more]).toEqual(v2recs);
    expect(weights(blocks)).toEqual(weights(v2));
  });

  it('refuses a trajectory of another seed, estimator or a longer run, and notes another engine', async () => {
    const inputs = (config: Partial<ResumeInputs['config']>, engine = 'ort', lines: string[] = []): ResumeInputs => ({
      config: { seed: SEED, estimator: 'elite', steps: STEPS, ...config }, base: { name: 'toy', digest: 'unused' }, engine, log: (l) => lines.push(l),
    });
    await expect(replayForResume(full, baseBlocks(), inputs({ seed: 8 }))).rejects.toThrow(`${full}: written with seed 7, config.json says 8`);
    await expect(replayForResume(full, baseBlocks(), inputs({ estimator: 'guided' }))).rejects.toThrow(`${full}: written by estimator elite, config.json says guided`);
    await expect(replayForResume(full, baseBlocks(), inputs({ steps: 4 }))).rejects.toThrow(`${full}: holds 5 steps, the run has only 4`);
    const lines: string[] = [];
    const blocks = baseBlocks();
    const { records } = await replayForResume(full, blocks, inputs({}, 'tfjs', lines));
    expect(records.length).toBe(STEPS);
    expect(weights(blocks)).toEqual(after[STEPS]);
    expect(lines).toEqual([
      "note: the trajectory's losses were computed on engine ort, this session runs tfjs: the replayed weights are the same bits, the new steps' losses agree only to float tolerance",
      'resume: replayed 5 steps onto the base weights',
    ]);
    // a version-1 trajectory has no engine: its losses came from tfjs
    const v1 = join(work, 'v1.zotraj');
    const { engine: _engine, ...h } = { ...(await trajectoryHeader(baseBlocks(), { runSeed: SEED, family: 'toy', estimator: CONFIG })), version: 1 as const };
    createTrajectory(v1, h);
    const notes: string[] = [];
    await replayForResume(v1, baseBlocks(), inputs({}, 'ort', notes));
    expect(notes[0]).toBe("note: the trajectory's losses were computed on engine tfjs, this session runs ort: the replayed weights are the same bits, the new steps' losses agree only to float tolerance");
    const peft = { method: 'prefix' as const, tokens: 2, initSeed: 1 };
    await expect(replayForResume(full, baseBlocks(), inputs({ peft }))).rejects.toThrow(`${full}: written for PEFT setting "none", config.json says {"method":"prefix","tokens":2,"initSeed":1}`);
  });

  it('a LoRA run notes that its losses met the adapters another way (merged weights before, the ORT graph\'s branch now); the replay is the same bits', async () => {
    const lora = { method: 'lora' as const, rank: 4, alpha: 8, targets: ['q_proj'], initSeed: 3 };
    // the toy's records under a LoRA run's header, with or without run.loraApplied
    const write = async (file: string, loraApplied?: string, engine: 'ort' | 'tfjs' = 'ort') => {
      const run = { peft: { ...lora, baseDigest: 'd' }, ...(loraApplied ? { loraApplied } : {}) };
      createTrajectory(file, await trajectoryHeader(baseBlocks(), { runSeed: SEED, family: 'toy', estimator: CONFIG, engine, run }));
      for (const r of recs) appendRecord(file, r);
      return file;
    };
    const resume = async (file: string, loraApplied: 'engine' | 'merge', engine = 'ort') => {
      const lines: string[] = [];
      const blocks = baseBlocks();
      await replayForResume(file, blocks, {
        config: { seed: SEED, estimator: 'elite', steps: STEPS, peft: lora }, base: { name: 'toy', digest: 'd' }, engine, loraApplied, log: (l) => lines.push(l),
      });
      expect(weights(blocks)).toEqual(after[STEPS]);
      return lines.filter((l) => l.startsWith('note:'));
    };
    // written before run.loraApplied existed: LoRA merged, on ORT too
    const old = await write(join(work, 'lora-old.zotraj'));
    expect(await resume(old, 'engine')).toEqual([
      "note: the trajectory's losses were computed with W0 + (alpha/r)·A·B merged into the weights (float64, rounded once), this session computes with LoRA's branch inside the ORT graph (float32): the replayed weights are the same bits, the new steps' losses agree only to float tolerance",
    ]);
    expect(await resume(old, 'merge', 'ort')).toEqual([]);
    // written with the branch in the graph, resumed the same way: nothing to say
    expect(await resume(await write(join(work, 'lora-graph.zotraj'), 'engine'), 'engine')).toEqual([]);
    // another engine: its note says it all
    const tfjsRun = await write(join(work, 'lora-tfjs.zotraj'), 'merge', 'tfjs');
    expect(await resume(tfjsRun, 'engine', 'ort')).toEqual([
      "note: the trajectory's losses were computed on engine tfjs, this session runs ort: the replayed weights are the same bits, the new steps' losses agree only to float tolerance",
    ]);
    expect(await resume(tfjsRun, 'merge', 'tfjs')).toEqual([]);
  });
});

describe('recordedLoraApplied', () => {
  it('the header\'s run.loraApplied, or merge for a trajectory written before it', () => {
    expect(recordedLoraApplied({ loraApplied: 'engine' })).toBe('engine');
    expect(recordedLoraApplied({ loraApplied: 'merge' })).toBe('merge');
    expect(recordedLoraApplied({ model: 'x' })).toBe('merge');
    expect(recordedLoraApplied(undefined)).toBe('merge');
  });
});

describe('checkPeftHeader', () => {
  const lora = { method: 'lora' as const, rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'], initSeed: 3 };
  const base = { name: 'tiny', digest: 'abcdef0123456789ffff' };
  it('accepts the same setting in any key order over the same base weights, and no setting on both sides', () => {
    expect(() => checkPeftHeader({ peft: { initSeed: 3, targets: ['q_proj', 'v_proj'], baseDigest: base.digest, alpha: 8, rank: 4, method: 'lora' } }, lora, base, 'f')).not.toThrow();
    expect(() => checkPeftHeader(undefined, undefined, base, 'f')).not.toThrow();
    expect(() => checkPeftHeader({ model: 'tiny' }, undefined, base, 'f')).not.toThrow();
  });
  it('refuses another setting, a missing one, one too many, and other base weights, in one line', () => {
    const run = { peft: { ...lora, baseDigest: base.digest } };
    expect(() => checkPeftHeader(run, { ...lora, initSeed: 4 }, base, 'f')).toThrow(
      'f: written for PEFT setting {"method":"lora","rank":4,"alpha":8,"targets":["q_proj","v_proj"],"initSeed":3}, config.json says {"method":"lora","rank":4,"alpha":8,"targets":["q_proj","v_proj"],"initSeed":4}',
    );
    expect(() => checkPeftHeader(run, undefined, base, 'f')).toThrow('f: written for PEFT setting {"method":"lora","rank":4,"alpha":8,"targets":["q_proj","v_proj"],"initSeed":3}, config.json says "none"');
    expect(() => checkPeftHeader(undefined, lora, base, 'f')).toThrow('f: written for PEFT setting "none", config.json says {"method":"lora"');
    expect(() => checkPeftHeader({ peft: { ...lora, baseDigest: '0123456789abcdefaaaa' } }, lora, base, 'f')).toThrow('f: its adapters apply to base weights 0123456789ab…, tiny is abcdef012345…');
  });
});
