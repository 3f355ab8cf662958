// `zotune bench step --peer` through the bin: the PyTorch + transformers MeZO peer
// (scripts/python/mezo_peer.py) on the same weights and batch as zotune. The loss each side computes at
// the initial weights (transformers' model vs zotune's ONNX graph: independent implementations) must
// agree, on stories260K (zotune's checkpoint handed over as an F32 GGUF) and on SmolLM2-135M (its Q4_1
// GGUF, dequantized by transformers' own loader). Needs ZOTUNE_PYTHON: a python with the packages of
// scripts/python/requirements.txt (scripts/python/venv.sh prints one); without it the tests report
// skipped, except on CI, which provides it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, json } from './cli.testkit';
import { findSmollm2, skipWithoutSmollm2 } from './smollm2.testkit';

const PYTHON = process.env.ZOTUNE_PYTHON || undefined;
const SKIP = PYTHON === undefined && process.env.CI !== 'true';
const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const work = mkdtempSync(join(tmpdir(), 'zotune-peer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { zotune } = cli(work, DATA);

/** The run's JSON (--json and --out agree), with the fields every --peer result has. */
async function peerRun(...args: string[]): Promise<Record<string, any>> {
  if (PYTHON === undefined) throw new Error('CI: ZOTUNE_PYTHON is not set (scripts/python/venv.sh prints the python to use)');
  const out = join(work, `${args.join('_').replace(/\W+/g, '')}.json`);
  const r = json(await zotune('bench', 'step', '--peer', '--task', 'sst2', '--batch', '2', '--steps', '1', ...args, '--out', out, '--json'));
  expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(r);
  const p = r.peer;
  expect(p.versions).toMatchObject({ torch: expect.stringMatching(/^2\.15\.0/), transformers: '5.23.0' });
  expect(p).toMatchObject({ sequences: 4, steps: 1, lossTolerance: 1e-3, target: 2, fullLogits: false, eps: 1e-3, lr: 1e-4 });
  expect(p.parameters).toBe(r.parameters);
  expect(p.ompWaitPolicy).toBe(process.env.OMP_WAIT_POLICY ?? 'PASSIVE');
  expect(p.loadAverage.before).toHaveLength(3);
  for (const run of p.runs) {
    expect(run.loss0.absDiff).toBeLessThanOrEqual(1e-4);
    expect(run.loss0.absDiff).toBe(Math.abs(run.loss0.zotune - run.loss0.peer));
    for (const side of [run.zotune, run.peer]) {
      expect(side.stepMs).toBeGreaterThan(side.forwardMs);
      expect(side.stepsPerSecond).toBeCloseTo(1000 / side.stepMs, 10);
      expect(side.forwardsPerStep).toBeCloseTo(side.stepMs / side.forwardMs, 10);
    }
    expect(run.ratio).toBeCloseTo(run.zotune.stepsPerSecond / run.peer.stepsPerSecond, 10);
    expect(run.peer.perturbMs).toBeGreaterThan(0);
    expect(run.peer.peakRssMiB).toBeGreaterThan(0);
  }
  expect(r.mezo.stepMs).toBe(p.runs.at(-1).zotune.stepMs);
  return r;
}

describe.skipIf(SKIP)('zotune bench step --peer', () => {
  it('stories260K: zotune\'s checkpoint as an F32 GGUF; the peer\'s initial loss is zotune\'s (≤ 1e-4)', async () => {
    const r = await peerRun('--threads', '1');
    expect(r).toMatchObject({ model: 'stories260K', task: 'SST-2', batch: 2, threads: 1, engine: { name: 'ort', threads: 1 } });
    expect(r.peer.weights).toMatch(/^zotune's llama2c-\S+ checkpoint written as an F32 GGUF/);
    expect(r.peer.runs.map((x: any) => x.threads)).toEqual([1]);
  }, 120_000);

  it.skipIf(skipWithoutSmollm2())('SmolLM2-135M: its Q4_1 GGUF in transformers\' loader; the initial losses agree to 1e-4', async () => {
    const gguf = findSmollm2()!;
    const r = await peerRun('--model', gguf, '--threads', '2');
    expect(r).toMatchObject({ parameters: 134_515_008, threads: 2 });
    expect(r.peer.weights).toBe(`${gguf} (the model's GGUF, transformers' loader, dequantized to fp32)`);
    expect(r.peer.ratioAt2Threads).toBe(r.peer.runs[0].ratio);
  }, 300_000);

  it('the peer refuses a malformed batch file in one line naming the field', () => {
    if (PYTHON === undefined) throw new Error('CI: ZOTUNE_PYTHON is not set');
    const bad = join(work, 'bad-batch.json');
    writeFileSync(bad, JSON.stringify({ format: 'zotune-peer-batch/1', numCandidates: 2, gold: [0], sequences: [{ ids: [1, 2], positions: [5], targets: [3] }, { ids: [1], positions: [0], targets: [4] }] }));
    const r = spawnSync(PYTHON, [join(REPO_ROOT, 'scripts/python/mezo_peer.py'), '--shape', 'stories15M', '--batch-file', bad, '--threads', '1'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`mezo_peer.py: --batch-file ${bad}: sequences[0].positions: expected indices into ids (0..1)`);
  }, 60_000);
});
