// metaTrain() in process on the real stories260K: the run directory and policy artifact of
// `zotune meta-train`; onProgress gets every metrics line; an AbortSignal stops it after the step under
// way with a checkpoint, and resumeMetaTrain() ends with the policy of the run never stopped.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodePolicyArtifact } from '@zotune/artifacts';
import { readMetrics, type MetricRecord } from '@zotune/report';
import { MetaTrainAbortError, metaTrain, resumeMetaTrain } from './run';

const work = mkdtempSync(join(tmpdir(), 'zotune-meta-lib-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// small but real: two tasks, a reset between two epochs, no periodic checkpoint (only the abort's)
const SPEC = { model: 'stories260K', tasks: ['sst2', 'copa'], meta: { batch: 4, trainExamples: 8, epochs: 2, resetEvery: 1, checkpointEvery: 0, seed: 7 } };
const STEPS = 8; // (8/4 + 8/4) per epoch × 2 epochs
const policyOf = (file: string) => decodePolicyArtifact(readFileSync(file), file);

describe('metaTrain()', () => {
  const whole = join(work, 'whole');
  test('writes the run directory and the policy; onProgress gets every metrics line', async () => {
    const events: (MetricRecord & { steps: number })[] = [];
    const r = await metaTrain(SPEC, { dir: whole, backend: 'wasm', onProgress: (e) => events.push(e) });
    expect(r).toMatchObject({ steps: STEPS, stepsThisProcess: STEPS, model: 'stories260K', tasks: ['SST-2', 'COPA'], runDir: whole, artifact: join(whole, 'policy.zpol') });
    for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.zmeta', 'policy.zpol', 'summary.json']) expect(existsSync(join(whole, f)), f).toBe(true);
    expect(events.map(({ steps: _, ...e }) => e)).toEqual(readMetrics(join(whole, 'metrics.jsonl')));
    expect(events.map((e) => [e.step, e.steps])).toEqual([...Array(STEPS).keys()].map((i) => [i + 1, STEPS]));
  });

  test('aborted after step 3: checkpointed, an AbortError naming the directory; resumed, the uninterrupted policy', async () => {
    const cut = join(work, 'cut');
    const stop = new AbortController();
    const err = await metaTrain(SPEC, { dir: cut, backend: 'wasm', signal: stop.signal, onProgress: (e) => e.step === 3 && stop.abort() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetaTrainAbortError);
    expect((err as Error).name).toBe('AbortError');
    expect((err as Error).message).toBe(`meta-train: aborted after step 3 of ${STEPS} (checkpointed); ${cut} resumes (resumeMetaTrain(dir), or zotune meta-train --resume ${cut})`);
    expect(existsSync(join(cut, 'policy.zpol'))).toBe(false);
    const r = await resumeMetaTrain(cut, { backend: 'wasm' });
    expect(r).toMatchObject({ resumedFrom: 3, steps: STEPS, stepsThisProcess: STEPS - 3 });
    expect(policyOf(r.artifact).weights).toEqual(policyOf(join(whole, 'policy.zpol')).weights);
    const strip = (m: MetricRecord[]) => m.map(({ seconds: _, ...x }) => x);
    expect(strip(readMetrics(join(cut, 'metrics.jsonl')))).toEqual(strip(readMetrics(join(whole, 'metrics.jsonl'))));
  });

  test('bad input: one line naming the field', async () => {
    await expect(metaTrain({ ...SPEC, meta: { batch: 0 } }, { dir: join(work, 'bad') })).rejects.toThrow(/^meta-train: batch: /);
    await expect(resumeMetaTrain(join(work, 'none'))).rejects.toThrow(/^--resume .*none: /);
    expect(existsSync(join(work, 'bad'))).toBe(false);
  });
});
