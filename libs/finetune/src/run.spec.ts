// finetune() in process on the real stories260K: an AbortSignal stops the run after the step under
// way and leaves a directory that resumeFinetune() continues to the very bytes of a run that was never
// stopped (its weight files byte for byte); onProgress gets every metrics line; evaluate() of the run's best checkpoint repeats the
// run's own test accuracy.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { openTrajectory } from '@zotune/artifacts';
import { evaluate } from './evaluate';
import { DeferredLoss, recordedLosses } from '@zotune/zo';
import { FinetuneAbortError, type FinetuneEvent, type StepLosses } from './trainer';
import { finetune, resumeFinetune } from './run';

const work = mkdtempSync(join(tmpdir(), 'zotune-finetune-lib-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// small and quick: 8 elite steps (elite carries a seed from one step to the next, so a resume that
// loses, repeats or misorders a step changes every later byte), dev every 4, 24 dev and test examples
const CONFIG = { task: 'story-name', estimator: 'elite', steps: 8, evalEvery: 4, seed: 5, evalN: 24, testN: 24, saveFinal: true, engine: 'ort', threads: 1 } as const;
const bytes = (dir: string, f: string) => readFileSync(join(dir, f));
/** metrics.jsonl without the clock: what the run computed */
const computed = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const { seconds: _s, stepSeconds: _t, ...r } = JSON.parse(l);
    return r;
  });

describe('finetune()', () => {
  const whole = join(work, 'whole');
  const events: FinetuneEvent[] = [];

  test('runs into the directory the CLI writes; onProgress gets every metrics line', async () => {
    const s = await finetune(CONFIG, { dir: whole, onProgress: (e) => events.push(e) });
    for (const f of ['config.json', 'trajectory', 'metrics.jsonl', 'model.safetensors', 'final.safetensors', 'summary.json', 'report.html']) expect(existsSync(join(whole, f)), f).toBe(true);
    expect(s).toMatchObject({ task: 'story-name', estimator: 'elite', steps: 8, runDir: whole, resumedAt: null });
    expect(JSON.parse(readFileSync(join(whole, 'summary.json'), 'utf8')).testAcc).toBe(s.testAcc);
    // the events are the metrics lines, in order, each with the run's total
    expect(events.map(({ steps: _, ...e }) => e)).toEqual(readFileSync(join(whole, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
    expect(events.every((e) => e.steps === 8)).toBe(true);
    expect(events.map((e) => `${e.event}${e.step}`)).toEqual(['zeroshot0', 'eval0', 'step1', 'step2', 'step3', 'step4', 'eval4', 'step5', 'step6', 'step7', 'step8', 'eval8', 'test8']);
  });

  test('aborted mid-run: rejects with an AbortError naming the directory; resumeFinetune() ends with the bytes of the uninterrupted run', async () => {
    const cut = join(work, 'cut');
    const ac = new AbortController();
    const err = await finetune(CONFIG, { dir: cut, signal: ac.signal, onProgress: (e) => e.event === 'step' && e.step === 3 && ac.abort() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FinetuneAbortError);
    expect((err as Error).name).toBe('AbortError');
    expect((err as Error).message).toBe(`finetune: aborted after step 3 of 8; ${cut} resumes (resumeFinetune(dir), or zotune finetune --resume ${cut})`);
    expect((err as Error).message).not.toContain('\n');
    expect(existsSync(join(cut, 'summary.json'))).toBe(false);
    const s = await resumeFinetune(cut);
    expect(s.resumedAt).toBe(3);
    for (const f of ['model.safetensors', 'final.safetensors', 'config.json']) expect(bytes(cut, f).equals(bytes(whole, f)), f).toBe(true);
    // the trajectory: the same records and header (but the time the run started), and so the same size
    const [a, b] = [openTrajectory(join(whole, 'trajectory')), openTrajectory(join(cut, 'trajectory'))];
    expect(b.records).toEqual(a.records);
    expect({ ...b.header, createdAt: a.header.createdAt }).toEqual(a.header);
    expect(bytes(cut, 'trajectory').length).toBe(bytes(whole, 'trajectory').length);
    expect(computed(cut)).toEqual(computed(whole));
  });

  test('losses from elsewhere (StepLosses.remote: a distributed run\'s coordinator): its steps move no weight, and the run directory is the local run\'s, weight files byte for byte', async () => {
    // the losses are the local runs' own, deferred as a worker's would be; a policy reads the block
    // statistics at every step's start (the weights are caught up there), the plain run only at its evaluations
    const policyRun = join(work, 'policy-local');
    const withPolicy = { ...CONFIG, policy: 'stories260K/default:latest' };
    await finetune(withPolicy, { dir: policyRun });
    for (const [name, config, ref] of [['none', CONFIG, whole], ['policy', withPolicy, policyRun]] as const) {
      const records = openTrajectory(join(ref, 'trajectory')).records;
      const asked: number[] = [];
      const losses: StepLosses = {
        remote: true,
        open: async () => {},
        lossValue: (step) => {
          asked.push(step);
          const values = recordedLosses(records[step]);
          let k = 0;
          return () => new DeferredLoss(Promise.resolve(values[k++]));
        },
        close: async () => {},
      };
      const dir = join(work, `remote-${name}`);
      await finetune(config, { dir, losses });
      expect(asked).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      for (const f of ['model.safetensors', 'final.safetensors', 'config.json']) expect(bytes(dir, f).equals(bytes(ref, f)), f).toBe(true);
      expect(openTrajectory(join(dir, 'trajectory')).records).toEqual(records);
      expect(computed(dir)).toEqual(computed(ref));
    }
  });

  test('losses from elsewhere refuse an oracle policy in one line, before the run directory is made (it measures gradients on weights that lag)', async () => {
    const dir = join(work, 'remote-oracle');
    const losses: StepLosses = { remote: true, open: async () => {}, lossValue: () => () => NaN, close: async () => {} };
    const { engine: _, ...rest } = CONFIG;
    await expect(finetune({ ...rest, policy: 'oracle-density' }, { dir, losses })).rejects.toThrow(/^--queue: --policy oracle-density measures gradients on the run's weights; it cannot be distributed$/);
    expect(existsSync(dir)).toBe(false);
  });

  test('an already aborted signal: nothing is written', async () => {
    const dir = join(work, 'never');
    const err = await finetune(CONFIG, { dir, signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FinetuneAbortError);
    expect(existsSync(dir)).toBe(false);
  });

  test('evaluate() of the run: its best checkpoint on its test split is the summary\'s test accuracy', async () => {
    const s = JSON.parse(readFileSync(join(whole, 'summary.json'), 'utf8'));
    const r = await evaluate({ run: whole, n: CONFIG.testN, batch: 16, engine: 'ort', threads: 1 });
    expect(r).toMatchObject({ task: s.task, model: 'stories260K', split: 'test', seed: 5, n: s.testN, weights: join(whole, 'model.safetensors') });
    expect(r.accuracy).toBe(s.testAcc);
  });

  test('a bad config fails in one line naming the field', async () => {
    await expect(finetune({ lr: -1 } as never, { dir: join(work, 'bad') })).rejects.toThrow(/^finetune config: lr: .*got -1/);
    await expect(finetune({ learningRate: 1 } as never, { dir: join(work, 'bad') })).rejects.toThrow('finetune config: unknown field "learningRate"');
    expect(existsSync(join(work, 'bad'))).toBe(false);
  });
});

describe('the library on stderr', () => {
  test('finetune(), replayRun() and evaluate() write nothing to stderr without a log callback; with one, it gets the backend and engine notes', async () => {
    const dir = mkdtempSync(join(work, 'quiet-'));
    const run = join(dir, 'run');
    await finetune({ task: 'story-name', steps: 1, evalEvery: 1, evalN: 4, testN: 4, engine: 'ort', threads: 1 }, { dir: run });
    // each call first in a fresh process: only the call that sets up the tfjs backend could print its note
    const calls = {
      finetune: `await finetune({ task: 'story-name', steps: 1, evalEvery: 1, evalN: 4, testN: 4, engine: 'ort', threads: 1 }, { dir: ${JSON.stringify(join(dir, 'again'))} });`,
      replay: `await replayRun(${JSON.stringify(run)}, ${JSON.stringify(join(dir, 'replayed.safetensors'))});`,
      evaluate: `await evaluate({ task: 'sst2', n: 4, engine: 'ort', threads: 1 });`,
      logged: `const lines: string[] = [];
await evaluate({ task: 'sst2', n: 4, engine: 'ort', threads: 1, log: (l) => lines.push(l) });
process.stdout.write(JSON.stringify(lines) + '\\n');`,
    };
    const results = await Promise.all(
      Object.entries(calls).map(([name, body]) => {
        const script = join(dir, `${name}.mts`); // .mts: an ES module outside any package
        writeFileSync(script, `import { evaluate, finetune, replayRun } from ${JSON.stringify(resolve(import.meta.dirname, 'index.ts'))};\n${body}\n`);
        const child = spawn(process.execPath, ['--conditions=@zotune/source', '--import', 'tsx', script], { cwd: resolve(import.meta.dirname, '../../..'), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        return new Promise<{ name: string; code: number | null; stdout: string; stderr: string }>((ok) => child.on('close', (code) => ok({ name, code, stdout, stderr })));
      }),
    );
    for (const r of results) {
      expect(r.code, `${r.name}: ${r.stderr}`).toBe(0);
      expect(r.stderr, r.name).toBe('');
    }
    const lines = JSON.parse(results.find((r) => r.name === 'logged')!.stdout.trim().split('\n').pop()!) as string[];
    expect(lines[0]).toMatch(/^zotune: backend \w+ \(.+\)$/);
    expect(lines[1]).toMatch(/^zotune: engine ort \(requested; ONNX Runtime .+, 1 intra-op thread\(s\)\)$/);
  });
});
