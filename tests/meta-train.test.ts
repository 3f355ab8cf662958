// End to end on the real stories260K: `zotune meta-train` as a user runs it. A short run changes the
// policy and yields an artifact that decodes, matches the model's fingerprint, loads as a policy and
// passes the registry's verify; a run killed with SIGKILL and resumed ends with exactly the policy of
// the uninterrupted run.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { decodePolicyArtifact, checkFingerprint, type PolicyArtifact } from '@zotune/artifacts';
import { REPO_ROOT } from '@zotune/data';
import { MetaPlan, parseMetaConfig } from '@zotune/meta';
import { checkpointDigest, createTfjsModel, resolveModel } from '@zotune/models';
import { initPertNN, modelFingerprint, policyFromArtifact } from '@zotune/policy';
import { readMetrics } from '@zotune/report';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const BIN = join(REPO_ROOT, 'apps/cli/bin/zotune.js');
const work = mkdtempSync(join(tmpdir(), 'zotune-meta-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = { ...process.env, ZOTUNE_DATA: DATA, ZOTUNE_BACKEND: 'wasm' };
// small but real: both tasks, two epochs with a reset between them, checkpoints every 2 steps
const RUN = ['meta-train', '--model', 'stories260K', '--tasks', 'sst2,copa', '--batch', '4', '--train-examples', '24', '--epochs', '2', '--reset-every', '1',
  '--checkpoint-every', '2', '--seed', '7'];
const STEPS = 24; // (24/4 + 24/4) per epoch × 2 epochs

function zotune(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(r: { code: number | null; stdout: string; stderr: string }) {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

let uninterrupted: PolicyArtifact;

/** Start `zotune …args --out out`, SIGKILL it as soon as its first checkpoint is on disk, check it was really interrupted. */
async function killAfterCheckpoint(args: readonly string[], out: string): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args, '--out', out, '--json'], { cwd: REPO_ROOT, env, stdio: 'ignore' });
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  const ckpt = join(out, 'checkpoint.zmeta');
  const t0 = Date.now();
  while (!existsSync(ckpt) && Date.now() - t0 < 60_000) await new Promise((ok) => setTimeout(ok, 20));
  child.kill('SIGKILL');
  await exited;
  expect(existsSync(ckpt)).toBe(true);
  expect(existsSync(join(out, 'policy.zpol'))).toBe(false); // really interrupted
}

describe('zotune meta-train', () => {
  test('a short run on stories260K changes the policy and publishes a loadable, verifiable artifact', () => {
    const reg = join(work, 'registry');
    const out = join(work, 'a');
    const r = json(zotune(...RUN, '--out', out, '--publish', '--publish', 'stories260K/test-run:t1', '--registry', reg, '--json'));
    expect(r).toMatchObject({ steps: STEPS, stepsThisProcess: STEPS, model: 'stories260K', tasks: ['SST-2', 'COPA'], backend: 'wasm' });
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.peakRssMiB).toBeGreaterThan(0);
    expect(r.published.map((p: { ref: string }) => p.ref)).toEqual(['stories260K/default:latest', 'stories260K/test-run:t1']);
    expect(r.published.every((p: { digest: string }) => p.digest === r.digest)).toBe(true);

    const bytes = readFileSync(r.artifact);
    const artifact = decodePolicyArtifact(bytes, r.artifact);
    uninterrupted = artifact;
    expect(artifact.training.tasks).toEqual(['SST-2', 'COPA']);
    expect(artifact.training.config).toMatchObject({ batch: 4, epochs: 2, resetEvery: 1, eps: 1e-3, lrMlp: 0.1, lrLlm: 0.01, metaLr: 1e-4, model: 'stories260K' });
    expect(artifact.training.metrics).toMatchObject({ steps: STEPS });
    // auto chose the exact meta-gradient, and an exact run records no SPSA setting (its config and run identity are those of before --meta-grad)
    expect(r.metaGrad).toBe('exact');
    expect(Object.keys(artifact.training.config).filter((k) => k.startsWith('spsa') || k === 'metaGrad')).toEqual([]);

    // the fingerprint is the real model's, and the policy loads onto it
    const resolved = resolveModel('stories260K', DATA);
    const model = createTfjsModel(resolved.checkpoint);
    const fp = modelFingerprint(model, checkpointDigest(resolved.checkpoint), 'stories260K');
    checkFingerprint(artifact.fingerprint, fp);
    const policy = policyFromArtifact(artifact, model, fp);
    // and it moved away from its initial weights
    const config = parseMetaConfig(artifact.training.config);
    const init = initPertNN(model.blocks.map((b) => b.name), { seed: new MetaPlan(config, [1]).policySeed, hidden: config.hidden });
    let maxDiff = 0;
    for (const k of ['w1', 'b1', 'w2', 'b2'] as const) policy.weights[k].forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - init.weights[k][i]))));
    expect(maxDiff).toBeGreaterThan(1e-5);
    model.dispose();

    // metrics: one line per step with the meta-loss, L± and σ
    const steps = readMetrics(join(out, 'metrics.jsonl'));
    expect(steps.map((s) => s.step)).toEqual([...Array(STEPS).keys()].map((i) => i + 1));
    for (const s of steps) for (const k of ['metaLoss', 'lossPlus', 'lossMinus', 'meanSigma']) expect(Number.isFinite(s[k])).toBe(true);

    // the registry holds it intact
    const verify = json(zotune('policy', 'verify', '--registry', reg, '--json'));
    expect(verify.ok).toBe(true);
    const list = json(zotune('policy', 'list', '--registry', reg, '--json'));
    expect(list.policies.map((p: { ref: string }) => p.ref).sort()).toEqual(['stories260K/default:latest', 'stories260K/test-run:t1']);
  });

  test('a run killed with SIGKILL resumes from its last checkpoint and ends with the uninterrupted policy', async () => {
    expect(uninterrupted, 'needs the previous test').toBeDefined();
    const out = join(work, 'b');
    await killAfterCheckpoint(RUN, out);
    const r = json(zotune('meta-train', '--resume', out, '--json'));
    expect(r.resumedFrom).toBeGreaterThanOrEqual(2);
    expect(r.resumedFrom).toBeLessThan(STEPS);
    expect(r.steps).toBe(STEPS);
    expect(r.stepsThisProcess).toBe(STEPS - r.resumedFrom);
    const resumed = decodePolicyArtifact(readFileSync(r.artifact), r.artifact);
    expect(resumed.weights).toEqual(uninterrupted.weights);
    // each step's metrics exactly once, the lost steps' lines dropped
    expect(readMetrics(join(out, 'metrics.jsonl')).map((s) => s.step)).toEqual([...Array(STEPS).keys()].map((i) => i + 1));
  });

  test('--meta-grad spsa: forward passes only on ORT; the policy moves, and a killed run resumes to the uninterrupted policy', async () => {
    const SPSA = [...RUN, '--meta-grad', 'spsa', '--spsa-directions', '2', '--threads', '1'];
    const a = json(zotune(...SPSA, '--out', join(work, 'spsa-a'), '--json'));
    expect(a).toMatchObject({ steps: STEPS, metaGrad: 'spsa', backend: 'ort', config: { metaGrad: 'spsa', spsaDirections: 2, spsaSpace: 'sigma' } });
    // per step: L±, meta(ω), 2 per direction, L(θ) and θ's MeZO pair; no backward
    expect(a.metrics).toMatchObject({ forwardPasses: STEPS * (3 + 2 * 2 + 3), backwardPasses: 0 });
    expect(a.metrics.omegaMoved).toBeGreaterThan(0);
    const artifact = decodePolicyArtifact(readFileSync(a.artifact), a.artifact);
    expect(artifact.training.config).toMatchObject({ metaGrad: 'spsa', spsaDirections: 2, spsaScale: 0.05, backend: 'ort' });
    const out = join(work, 'spsa-b');
    await killAfterCheckpoint(SPSA, out);
    const r = json(zotune('meta-train', '--resume', out, '--json'));
    expect(r.resumedFrom).toBeGreaterThanOrEqual(2);
    expect(r.stepsThisProcess).toBe(STEPS - r.resumedFrom);
    expect(decodePolicyArtifact(readFileSync(r.artifact), r.artifact).weights).toEqual(artifact.weights);
  });

  test('--peft lora: a policy of the adapter blocks that a finetune with the same PEFT flags uses; another rank is refused', () => {
    const out = join(work, 'peft-lora');
    const LORA = ['--peft', 'lora', '--lora-rank', '4', '--lora-targets', 'q,v'];
    // no --meta-grad: auto picks spsa for adapter blocks even below 50M parameters
    const r = json(zotune('meta-train', '--model', 'stories260K', '--tasks', 'sst2', '--batch', '4', '--train-examples', '8', '--epochs', '1', '--seed', '7',
      '--spsa-directions', '2', '--threads', '1', ...LORA, '--out', out, '--json'));
    expect(r).toMatchObject({ steps: 2, metaGrad: 'spsa', backend: 'ort' });
    const artifact = decodePolicyArtifact(readFileSync(r.artifact), r.artifact);
    // stories260K: 5 layers × (q, v) × (A, B) adapter blocks, named as the adapter's (not the model's 47)
    expect(artifact.fingerprint.blocks).toHaveLength(20);
    expect(artifact.fingerprint.blocks.every((b) => /lora/.test(b.name) && b.shape.includes(4))).toBe(true);
    expect(artifact.training.config).toMatchObject({ peft: 'lora-r4-a16-q_proj,v_proj' });
    expect(r.metrics.omegaMoved).toBeGreaterThan(0);
    const ft = (extra: string[], dir: string) => zotune('finetune', '--model', 'stories260K', '--task', 'sst2', '--steps', '2', '--eval-every', '2', '--eval-n', '8',
      '--test-n', '8', '--threads', '1', '--policy', r.artifact, ...extra, '--out', join(out, dir), '--json');
    expect(json(ft(LORA, 'ft'))).toMatchObject({ steps: 2, peft: 'lora-r4-a16-q_proj,v_proj', policyDigest: r.digest });
    const other = ft(['--peft', 'lora', '--lora-rank', '8', '--lora-targets', 'q,v'], 'ft8');
    expect(other.code).toBe(2);
    // one error line (beside the backend, engine and peft notes of the run's start)
    const errors = other.stderr.trim().split('\n').filter((l) => l.startsWith('zotune: ') && !/^zotune: (backend|engine) /.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^zotune: --policy .*policy\.zpol: .*lora/);
    // bad PEFT input: one line each
    for (const [args, msg] of [
      [['--meta-grad', 'exact', '--peft', 'lora'], 'zotune: --peft lora: only with --meta-grad spsa (the exact meta-gradient differentiates the model\'s own blocks)'],
      [['--meta-grad', 'spsa', '--prefix-tokens', '3'], 'zotune: --prefix-tokens: only with --peft prefix (this run has --peft none)'],
      [['--meta-grad', 'spsa', '--peft', 'adapters'], 'zotune: --peft: expected none, lora, prefix, got adapters'],
      [['--meta-grad', 'spsa', '--peft', 'lora', '--lora-rank', '0'], 'zotune: --lora-rank: expected an integer >= 1, got 0'],
    ] as [string[], string][]) {
      const bad = zotune('meta-train', '--model', 'stories260K', '--tasks', 'sst2', '--threads', '1', ...args, '--out', join(work, 'peft-bad'));
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr.trim().split('\n').filter((l) => !/^zotune: (backend|engine) /.test(l)).join('\n')).toBe(msg);
    }
  });

  test.each(['qwen2', 'opt', 'gpt2'])('meta-trains on the %s fixture, and the policy it publishes drives a guided finetune of that model', (family) => {
    const dir = join(REPO_ROOT, 'tests/fixtures/families', family);
    const out = join(work, `family-${family}`);
    const r = json(zotune('meta-train', '--model', dir, '--tasks', 'sst2', '--batch', '4', '--train-examples', '8', '--epochs', '1', '--seed', '7', '--out', out, '--json'));
    expect(r).toMatchObject({ steps: 2, model: family });
    const artifact = decodePolicyArtifact(readFileSync(r.artifact), r.artifact);
    expect(artifact.fingerprint.family).toBe(family);
    const resolved = resolveModel(dir, DATA);
    const model = createTfjsModel(resolved.checkpoint);
    try {
      expect(artifact.fingerprint.blocks.map((b) => b.kind)).toEqual(model.blocks.map((b) => b.kind));
      const init = initPertNN(model.blocks.map((b) => b.name), { seed: new MetaPlan(parseMetaConfig(artifact.training.config), [1]).policySeed });
      expect(artifact.weights.w2).not.toEqual(init.weights.w2);
    } finally {
      model.dispose();
    }
    const ft = json(zotune('finetune', '--model', dir, '--task', 'sst2', '--estimator', 'guided', '--steps', '3', '--eval-every', '3', '--eval-n', '8', '--test-n', '8',
      '--policy', r.artifact, '--out', join(out, 'ft'), '--json'));
    expect(ft).toMatchObject({ steps: 3, model: family, policyDigest: r.digest });
  });

  test('bad input gives a one-line error and a non-zero exit', () => {
    const unknown = zotune('meta-train', '--tasks', 'sst2,nope', '--out', join(work, 'c'), '--json');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toMatch(/--tasks: unknown task "nope"/);
    const mixed = zotune('meta-train', '--resume', join(work, 'b'), '--epochs', '3');
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--resume: the run's config.json fixes --epochs/);
    const badLr = zotune('meta-train', '--tasks', 'copa', '--lr-mlp', '-1');
    expect(badLr.code).toBe(2);
    expect(badLr.stderr).toMatch(/--lr-mlp: expected a number >= 0, got -1/);
    const badMetaLr = zotune('meta-train', '--tasks', 'copa', '--meta-lr', '0');
    expect(badMetaLr.code).toBe(2);
    expect(badMetaLr.stderr).toMatch(/--meta-lr: expected a number > 0, got 0/);
    for (const [k, why] of [['0', 'an integer >= 1, got 0'], ['1.5', 'an integer, got "1.5"'], ['65', 'an integer <= 64, got 65']]) {
      const badK = zotune('meta-train', '--tasks', 'copa', '--lookahead-steps', k);
      expect(badK.code).toBe(2);
      expect(badK.stderr.trim().split('\n')).toHaveLength(1);
      expect(badK.stderr).toContain(`--lookahead-steps: expected ${why}`);
    }
    const spsaErrors: [string[], string][] = [
      [['--meta-grad', 'fast'], 'zotune: --meta-grad: expected auto, exact or spsa, got fast'],
      [['--spsa-directions', '4'], 'zotune: --spsa-directions: only with --meta-grad spsa (this run\'s meta-gradient is exact)'],
      [['--meta-grad', 'spsa', '--spsa-directions', '0'], 'zotune: --spsa-directions: expected an integer >= 1, got 0'],
      [['--meta-grad', 'spsa', '--spsa-space', 'theta'], 'zotune: --spsa-space: expected sigma or omega, got theta'],
      [['--meta-grad', 'spsa', '--lookahead-steps', '2'], 'zotune: --lookahead-steps: --meta-grad spsa runs one look-ahead step, got 2'],
    ];
    for (const [args, msg] of spsaErrors) {
      const bad = zotune('meta-train', '--tasks', 'copa', ...args);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr.trim()).toBe(msg);
    }
    const badSet = zotune('meta-train', '--tasks', 'copa', '--features', 'hessian');
    expect(badSet.code).toBe(2);
    expect(badSet.stderr.trim()).toBe('zotune: --features: expected base or curvature, got hessian');
  });

  test('--features curvature: κ of the task at the pretrained weights, and a 6-input policy that records its probe', () => {
    const out = join(work, 'curvature');
    const r = json(zotune('meta-train', '--model', 'stories260K', '--tasks', 'sst2', '--batch', '4', '--train-examples', '8', '--epochs', '1', '--seed', '7',
      '--features', 'curvature', '--out', out, '--json'));
    expect(r).toMatchObject({ steps: 2, config: { features: 'curvature' } });
    expect(r.metrics.omegaMoved).toBeGreaterThan(0);
    const artifact = decodePolicyArtifact(readFileSync(r.artifact), r.artifact);
    expect(artifact.architecture).toEqual({ type: 'pertnn', inputs: 6, hidden: 64, activation: 'tanh', features: 'curvature', probe: { delta: 1e-2, probes: 2, examples: 16 } });
    const kappa = artifact.training.config.curvatureKappa as Record<string, number[]>;
    expect(Object.keys(kappa)).toEqual(['SST-2']);
    expect(kappa['SST-2']).toHaveLength(47);
    expect(kappa['SST-2'].every((x) => Math.abs(x) <= 3)).toBe(true);
    expect(Math.max(...kappa['SST-2']) - Math.min(...kappa['SST-2'])).toBeGreaterThan(0.5); // blocks differ in curvature
    // it loads onto the model as a 6-input policy (finetune.test.ts runs one)
    const resolved = resolveModel('stories260K', DATA);
    const model = createTfjsModel(resolved.checkpoint);
    try {
      expect(policyFromArtifact(artifact, model, modelFingerprint(model, checkpointDigest(resolved.checkpoint), 'stories260K')).inputs).toBe(6);
    } finally {
      model.dispose();
    }
  });
});
