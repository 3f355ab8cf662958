// End to end: `zotune finetune` and `zotune replay` as a user runs them, child processes of the real
// bin on the real stories260K model with small step counts: the run directory, kill -9 and resume
// (bit-identical weights), replay from the trajectory alone, one-line errors, a config-defined task.
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openTrajectory, writePolicyArtifactFile } from '@zotune/artifacts';
import { REPO_ROOT } from '@zotune/data';
import { checkpointDigest, createTfjsModel, packSequences, readSafetensors, resolveModel } from '@zotune/models';
import { createAdapter, type PeftConfig } from '@zotune/peft';
import { openRegistry, parseRef } from '@zotune/registry';
import { initPertNN, modelFingerprint, policyToArtifact } from '@zotune/policy';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, json } from './cli.testkit';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const work = mkdtempSync(join(tmpdir(), 'zotune-finetune-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { start, killAfter, zotune } = cli(work, DATA);

const small = ['--eval-n', '24', '--test-n', '24', '--policy', 'none'];

/** A freshly initialised (not meta-trained) policy for stories260K, one for other base weights, and one of the curvature feature set. */
const policyFile = join(work, 'init.zpol');
const foreignPolicyFile = join(work, 'foreign.zpol');
const curvPolicyFile = join(work, 'curv.zpol');
beforeAll(() => {
  const { checkpoint } = resolveModel('stories260K', DATA);
  const model = createTfjsModel(checkpoint);
  try {
    const fingerprint = modelFingerprint(model, checkpointDigest(checkpoint), 'stories260K');
    const policy = initPertNN(model.blocks.map((b) => b.name), { seed: 7 });
    const training = { config: {}, tasks: ['none'], metrics: {} };
    writePolicyArtifactFile(policyFile, policyToArtifact(policy, { fingerprint, training, name: 'init' }));
    writePolicyArtifactFile(foreignPolicyFile, policyToArtifact(policy, { fingerprint: { ...fingerprint, weightsSha256: '0'.repeat(64) }, training }));
    const curv = initPertNN(model.blocks.map((b) => b.name), { seed: 7, inputs: 6 });
    writePolicyArtifactFile(curvPolicyFile, policyToArtifact(curv, { fingerprint, training, name: 'curv', probe: { delta: 1e-2, probes: 1, examples: 16 } }));
  } finally {
    model.dispose();
  }
});

/** Each command fails with one line on stderr matching its pattern, nothing on stdout, and no `out` directory. */
async function expectOneLineErrors(cases: [string[], RegExp][], out: string): Promise<void> {
  const results = await Promise.all(cases.map(([args]) => zotune(...args)));
  results.forEach((r, i) => {
    const [args, want] = cases[i];
    expect(r.code, args.join(' ')).not.toBe(0);
    expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    expect(r.stderr.trim(), args.join(' ')).toMatch(want);
    expect(r.stdout).toBe('');
  });
  expect(existsSync(out)).toBe(false);
}

describe('zotune finetune', () => {
  test('a short run writes the run directory, a --json summary, and replays to its weights', async () => {
    const dir = join(work, 'short');
    const s = json(await zotune('finetune', '--estimator', 'mezo', '--steps', '6', '--eval-every', '3', '--save-final', ...small, '--out', dir, '--json'));
    for (const f of ['config.json', 'metrics.jsonl', 'trajectory', 'summary.json', 'model.safetensors', 'final.safetensors', 'report.html', 'loss.svg', 'dev-acc.svg'])
      expect(existsSync(join(dir, f)), f).toBe(true);
    expect(s).toMatchObject({ task: 'SST-2', estimator: 'mezo', model: 'stories260K', seed: 0, steps: 6, forwardPasses: 12, policy: 'none', devN: 24, testN: 24 });
    for (const k of ['bestDevAcc', 'testAcc', 'zeroShotTestAcc', 'zeroShotDevAcc', 'finalTrainLoss', 'secondsPerStep', 'peakRssMiB']) expect(s[k], k).toBeTypeOf('number');
    expect([0, 3, 6]).toContain(s.bestStep);
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'))).toEqual(s);

    const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps = metrics.filter((m) => m.event === 'step');
    expect(steps.map((m) => [m.step, m.forwardPasses])).toEqual([1, 2, 3, 4, 5, 6].map((t) => [t, 2 * t]));
    for (const m of steps) for (const k of ['loss', 'projectedGrad', 'seconds']) expect(m[k], k).toBeTypeOf('number');
    expect(metrics.filter((m) => m.event === 'eval').map((m) => m.step)).toEqual([0, 3, 6]);
    expect(metrics.find((m) => m.event === 'zeroshot')?.testAcc).toBe(s.zeroShotTestAcc);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ estimator: 'mezo', steps: 6, lr: 1e-4, eps: 1e-3, batch: 16, policy: 'none' });

    // the trajectory alone rebuilds the weights: all steps → final.safetensors, the best step → model.safetensors
    const [all, best] = await Promise.all([
      zotune('replay', dir, '--out', join(work, 'replay-all.safetensors'), '--json'),
      zotune('replay', dir, '--step', String(s.bestStep), '--out', join(work, 'replay-best.safetensors'), '--json'),
    ]);
    expect(json(all)).toMatchObject({ steps: 6, recordedSteps: 6, estimator: 'mezo' });
    expect(json(best).steps).toBe(s.bestStep);
    expect(readFileSync(join(work, 'replay-all.safetensors')).equals(readFileSync(join(dir, 'final.safetensors')))).toBe(true);
    expect(readFileSync(join(work, 'replay-best.safetensors')).equals(readFileSync(join(dir, 'model.safetensors')))).toBe(true);
    // the run's losses came from ORT (auto); replayed on tfjs, the weights match the run's own files
    expect(s.engine).toMatchObject({ name: 'ort', ortVersion: '1.30.0' });
    expect(openTrajectory(join(dir, 'trajectory')).header.engine).toBe('ort');
    const other = json(await zotune('replay', dir, '--engine', 'tfjs', '--out', join(work, 'replay-tfjs.safetensors'), '--json'));
    expect(other).toMatchObject({ recordedEngine: 'ort', engine: { name: 'tfjs' }, runWeights: { file: join(dir, 'final.safetensors') } });
    expect(other.runWeights.maxAbsDiff).toBeLessThanOrEqual(1e-6);
    // --format gguf needs a GGUF base (its tokenizer metadata): refused in one line before any work
    const notGguf = await zotune('replay', dir, '--format', 'gguf', '--out', join(work, 'x.gguf'));
    expect(notGguf.code).toBe(2);
    expect(notGguf.stderr.trim().split('\n').at(-1)).toMatch(/^zotune: --format gguf: the run's base model stories260K is not a GGUF \(llama2c-\S+\); .*write safetensors instead\)$/);
    expect(existsSync(join(work, 'x.gguf'))).toBe(false);

    // eval --run: the run's best checkpoint on the run's task and seed gives the summary's test accuracy
    const ev = json(await zotune('eval', '--run', dir, '--split', 'test', '--n', String(s.testN), '--json'));
    expect(ev).toMatchObject({ task: 'SST-2', seed: 0, n: s.testN, weights: join(dir, 'model.safetensors') });
    expect(ev.accuracy).toBe(s.testAcc);

    // the best checkpoint gone: --resume of the finished run rebuilds it while replaying, byte for byte, and tests it again
    const gone = join(work, 'short-no-best');
    cpSync(dir, gone, { recursive: true });
    rmSync(join(gone, 'model.safetensors'));
    const again = json(await zotune('finetune', '--resume', gone, '--json'));
    expect(readFileSync(join(gone, 'model.safetensors')).equals(readFileSync(join(dir, 'model.safetensors')))).toBe(true);
    expect(again).toMatchObject({ bestStep: s.bestStep, testAcc: s.testAcc, resumedAt: 6 });
  });

  test('a curvature policy: κ is probed once at the base weights into the trajectory header; kill -9 and --resume are bit-identical', async () => {
    const args = (out: string) => ['finetune', '--task', 'story-name', '--estimator', 'mezo', '--steps', '12', '--eval-every', '6', '--seed', '3', '--save-final', '--eval-n', '24', '--test-n', '24',
      '--policy', curvPolicyFile, '--threads', '1', '--out', out, '--json'];
    const a = join(work, 'curv-a');
    const b = join(work, 'curv-b');
    const whole = start(args(a)).done;
    await killAfter(args(b), join(b, 'trajectory'), 4);
    const resumed = await zotune('finetune', '--resume', b, '--json');
    const [wa, rb] = [await whole, resumed];
    const [sa, sb] = [json(wa), json(rb)];
    expect(wa.stderr).toMatch(/policy: curvature probe: 95 forward passes on 16 examples \(not counted in the budget\); κ from -?\d/);
    expect(rb.stderr).not.toContain('curvature probe'); // read back from the header, not measured again
    expect(sb.resumedAt).toBeGreaterThanOrEqual(4);
    const [ha, hb] = [openTrajectory(join(a, 'trajectory')).header, openTrajectory(join(b, 'trajectory')).header];
    const curv = ha.run!.curvature as { kappa: number[]; raw: number[]; probe: object; forwardPasses: number };
    expect(curv).toMatchObject({ probe: { delta: 1e-2, probes: 1, examples: 16 }, forwardPasses: 95 });
    expect(curv.kappa).toHaveLength(47);
    expect(new Set(curv.kappa.map((k) => k.toFixed(3))).size).toBeGreaterThan(10); // the blocks differ
    expect(hb.run).toEqual(ha.run);
    // σ moves with the features: not uniform, and identical in the resumed run
    const [ra, rbRecs] = [openTrajectory(join(a, 'trajectory')).records, openTrajectory(join(b, 'trajectory')).records];
    expect(new Set(ra[0].sigma!.map((x) => x.toFixed(4))).size).toBeGreaterThan(10);
    expect(rbRecs).toEqual(ra);
    for (const f of ['final.safetensors', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expect(sb.forwardPasses).toBe(sa.forwardPasses);
    // replay needs only the recorded σ
    const rep = json(await zotune('replay', a, '--out', join(work, 'curv-replay.safetensors'), '--json'));
    expect(rep.steps).toBe(12);
    expect(readFileSync(join(work, 'curv-replay.safetensors')).equals(readFileSync(join(a, 'final.safetensors')))).toBe(true);
  }, 300_000);

  test('kill -9 and --resume end with the weights of an uninterrupted run (guided with a policy, engine ort)', async () => {
    // the policy's features come from the previous record: the resumed run must feed it the same
    const args = (out: string) => ['finetune', '--estimator', 'guided', '--steps', '20', '--eval-every', '4', '--seed', '11', '--save-final', '--eval-n', '24', '--test-n', '24', '--policy', policyFile, '--engine', 'ort', '--threads', '1', '--out', out, '--json'];
    const a = join(work, 'uninterrupted');
    const b = join(work, 'killed');
    const whole = zotune(...args(a));
    const traj = join(b, 'trajectory');
    await killAfter(args(b), traj, 6);
    expect(existsSync(join(b, 'summary.json'))).toBe(false);
    // as if the kill had torn the last writes too
    appendFileSync(traj, Buffer.from([0x2a, 0x00, 0x00]));
    appendFileSync(join(b, 'metrics.jsonl'), '{"event":"step","st');
    const atKill = openTrajectory(traj).records.length;
    expect(atKill).toBeGreaterThanOrEqual(6);
    expect(atKill).toBeLessThan(20);

    // resumed on 2 threads (the noise pool's and ORT's): the thread count never changes a result
    const resumed = await zotune('finetune', '--resume', b, '--threads', '2', '--json');
    const [sa, sb] = [json(await whole), json(resumed)];
    expect(resumed.stderr).toContain(`replayed ${atKill} steps`);
    expect(sb.resumedAt).toBe(atKill);
    for (const f of ['final.safetensors', 'model.safetensors'])
      expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expect(openTrajectory(join(b, 'trajectory')).records).toEqual(openTrajectory(join(a, 'trajectory')).records);
    for (const k of ['steps', 'forwardPasses', 'bestDevAcc', 'bestStep', 'testAcc', 'zeroShotTestAcc', 'finalTrainLoss']) expect(sb[k], k).toEqual(sa[k]);
    expect([sa.engine.name, sb.engine.name, openTrajectory(traj).header.engine]).toEqual(['ort', 'ort', 'ort']);
    const stepLines = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.event === 'step').map((m) => [m.step, m.loss]);
    expect(stepLines(b)).toEqual(stepLines(a));
  }, 300_000);

  test('the demo preset (what `zotune finetune` runs with no arguments), short: ends with zero-shot vs fine-tuned test accuracy', async () => {
    const r = await zotune('finetune', '--config', 'demo', '--steps', '6', '--eval-every', '3', '--eval-n', '24', '--test-n', '24', '--out', join(work, 'demo'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^before → after, story-name test accuracy on the same 24 examples: zero-shot \d+\.\d% → fine-tuned \d+\.\d% \(([+-]\d+\.\d points|no dev gain: the best checkpoint is the base model)\)$/);
    const s = JSON.parse(readFileSync(join(work, 'demo', 'summary.json'), 'utf8'));
    expect(s).toMatchObject({ task: 'story-name', estimator: 'mezo', policy: 'none', steps: 6, testN: 24 });
    expect(s.zeroShotTestAcc).toBeGreaterThan(0.6); // in-domain: well above chance from the start
  });

  test('--policy oracle-density: σ measured with backward passes every K steps and recorded; replay needs no gradients and is bit-identical', async () => {
    const dir = join(work, 'oracle');
    const args = ['finetune', '--estimator', 'mezo', '--steps', '5', '--eval-every', '5', '--save-final', '--eval-n', '16', '--test-n', '16', '--policy', 'oracle-density', '--oracle-every', '3'];
    const r = await zotune(...args, '--out', dir, '--json');
    const s = json(r);
    expect(s).toMatchObject({ policy: 'oracle-density', policyDigest: null, steps: 5 });
    expect(r.stderr).toMatch(/YARDSTICK: it needs backward passes/);
    expect(r.stderr.match(/^oracle: step \d+:/gm)).toEqual(['oracle: step 0:', 'oracle: step 3:']);
    const t = openTrajectory(join(dir, 'trajectory'));
    const sig = t.records.map((x) => x.sigma!);
    expect(new Set(sig[0]).size).toBeGreaterThan(1);
    expect(sig[1]).toEqual(sig[0]);
    expect(sig[2]).toEqual(sig[0]);
    expect(sig[3]).not.toEqual(sig[0]); // re-measured at step 3
    const out = join(work, 'oracle-replay.safetensors');
    json(await zotune('replay', dir, '--out', out, '--json'));
    expect(readFileSync(out).equals(readFileSync(join(dir, 'final.safetensors')))).toBe(true);
    const bad = await zotune('finetune', '--steps', '1', '--policy', 'oracle-hessian', '--out', join(work, 'oracle-bad'));
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^zotune: --policy oracle-hessian: unknown oracle; expected oracle-density or oracle-curvature$/m);
  });

  test('--policy FILE perturbs with the policy σ; replay needs only the trajectory', async () => {
    const dir = join(work, 'policy');
    const s = json(await zotune('finetune', '--estimator', 'mezo', '--steps', '4', '--eval-every', '4', '--save-final', '--eval-n', '24', '--test-n', '24', '--policy', policyFile, '--out', dir, '--json'));
    expect(s.policy).toBe(policyFile);
    expect(s.policyDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const t = openTrajectory(join(dir, 'trajectory'));
    expect(t.records).toHaveLength(4);
    for (const r of t.records) {
      expect(r.sigma).toHaveLength(t.header.model.blocks.length);
      expect(new Set(r.sigma).size).toBeGreaterThan(1); // per-block σ, not ones
    }
    const out = join(work, 'policy-replay.safetensors');
    json(await zotune('replay', dir, '--out', out, '--json'));
    expect(readFileSync(out).equals(readFileSync(join(dir, 'final.safetensors')))).toBe(true);

    const foreign = await zotune('finetune', '--estimator', 'mezo', '--steps', '2', ...small.slice(0, 4), '--policy', foreignPolicyFile, '--out', join(work, 'foreign'));
    expect(foreign.code).toBe(2);
    expect(foreign.stderr.trim().split('\n').at(-1)).toMatch(/^zotune: --policy .*foreign\.zpol: .*different base model: base weights differ/);
    expect(existsSync(join(work, 'foreign'))).toBe(false);
  });

  test('bad input: one line on stderr, a non-zero exit, no run directory', async () => {
    const out = join(work, 'never');
    const cases: [string[], RegExp][] = [
      [['finetune', '--lr', 'abc', '--out', out], /^zotune: --lr: expected a number, got "abc"$/],
      [['finetune', '--estimator', 'sgd', '--out', out], /^zotune: --estimator: unknown estimator "sgd"; expected one of mezo, guided, greedy, elite, adam$/],
      [['finetune', '--task', 'no-such-task', '--out', out], /^zotune: --task: unknown task "no-such-task"/],
      [['finetune', '--steps', '3', '--forward-passes', '9', '--out', out], /^zotune: --steps and --forward-passes: give one budget, not both$/],
      [['finetune', '--batch', '0', '--out', out], /^zotune: --batch: expected an integer >= 1, got 0$/],
      [['finetune', '--threads', '0', '--out', out], /^zotune: --threads: expected an integer >= 1, got 0$/],
      [['finetune', '--config', join(work, 'missing.json'), '--out', out], /^zotune: --config .*missing\.json: cannot read/],
      [['finetune', '--resume', out], /^zotune: --resume .*: no such run directory$/],
      [['replay', work, '--out', join(work, 'x.safetensors')], /^zotune: .*config\.json: missing/],
    ];
    await expectOneLineErrors(cases, out);
  });

  test('a config-defined task with a preset: story-cloze, configs/runs/mezo-stories260K.json', async () => {
    const dir = join(work, 'cloze');
    const preset = join(REPO_ROOT, 'configs/runs/mezo-stories260K.json');
    const s = json(await zotune('finetune', '--config', preset, '--task', 'story-cloze', '--steps', '4', '--eval-every', '2', '--eval-n', '24', '--test-n', '48', '--out', dir, '--json'));
    expect(s).toMatchObject({ task: 'story-cloze', estimator: 'mezo', steps: 4, forwardPasses: 8, testN: 48, policy: 'none' });
    expect(s.zeroShotTestAcc).toBeGreaterThan(0.5); // in the model's own domain (about 0.70 on the full split)
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ task: 'story-cloze', estimator: 'mezo', steps: 4, forwardPasses: null, lr: 1e-4, eps: 1e-3, evalEvery: 2 });
  });
});

describe('zotune finetune --peft', () => {
  /** the run's own LoRA setting (config.json), and a policy of its adapter blocks (one PertNN per block) */
  const peftPolicy = join(work, 'lora.zpol');
  const loraArgs = ['--peft', 'lora', '--lora-rank', '4', '--lora-targets', 'q,v', '--seed', '5'];
  const adapterOf = (peft: PeftConfig) => {
    const { checkpoint } = resolveModel('stories260K', DATA);
    return { checkpoint, model: createTfjsModel(checkpoint), peft };
  };

  test('LoRA, guided with a policy of the adapter blocks: kill -9 and --resume end as the uninterrupted run; replay writes the adapter, --merge the merged weights', async () => {
    const dir = (n: string) => join(work, n);
    // the adapter blocks of this setting: names and shapes come from the config the run records
    const probe = json(await zotune('finetune', '--estimator', 'mezo', '--steps', '1', ...small, ...loraArgs, '--out', dir('lora-probe'), '--json'));
    expect(probe).toMatchObject({ peft: 'lora-r4-a16-q_proj,v_proj', trainableParameters: 5 * (64 * 4 + 4 * 64 + 64 * 4 + 4 * 32) });
    const config = JSON.parse(readFileSync(join(dir('lora-probe'), 'config.json'), 'utf8'));
    expect(config.peft).toMatchObject({ method: 'lora', rank: 4, alpha: 16, targets: ['q_proj', 'v_proj'] });
    expect(config.peft.initSeed).toBeTypeOf('number');
    const header = openTrajectory(join(dir('lora-probe'), 'trajectory')).header;
    expect(header.run?.peft).toMatchObject({ ...config.peft, baseDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(header.model.blocks).toHaveLength(20);
    const { checkpoint, model } = adapterOf(config.peft);
    try {
      const adapter = createAdapter(model, config.peft);
      const fingerprint = modelFingerprint({ family: model.family, blocks: adapter.blocks }, checkpointDigest(checkpoint), 'stories260K');
      const policy = initPertNN(adapter.blocks.map((b) => b.name), { seed: 3 });
      writePolicyArtifactFile(peftPolicy, policyToArtifact(policy, { fingerprint, training: { config: {}, tasks: ['none'], metrics: {} }, name: 'lora-init' }));
    } finally {
      model.dispose();
    }

    const args = (out: string) => ['finetune', '--estimator', 'guided', '--steps', '14', '--eval-every', '7', ...small.slice(0, 4), '--policy', peftPolicy, ...loraArgs, '--lr', '1e-3', '--save-final', '--engine', 'ort', '--threads', '1', '--out', out, '--json'];
    const whole = zotune(...args(dir('lora-a')));
    await killAfter(args(dir('lora-b')), join(dir('lora-b'), 'trajectory'), 5);
    const resumed = await zotune('finetune', '--resume', dir('lora-b'), '--json');
    const [sa, sb] = [json(await whole), json(resumed)];
    expect(sa.policy).toBe(peftPolicy);
    expect(sb.resumedAt).toBeGreaterThanOrEqual(5);
    for (const f of ['final.safetensors', 'model.safetensors']) expect(readFileSync(join(dir('lora-b'), f)).equals(readFileSync(join(dir('lora-a'), f))), f).toBe(true);
    expect(openTrajectory(join(dir('lora-b'), 'trajectory')).records).toEqual(openTrajectory(join(dir('lora-a'), 'trajectory')).records);
    // the run's weight files hold the adapter, in Hugging Face PEFT's names and layout
    const final = readSafetensors(join(dir('lora-a'), 'final.safetensors'));
    expect(final.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')?.shape).toEqual([4, 64]);
    expect(final.tensors.get('base_model.model.model.layers.4.self_attn.v_proj.lora_B.weight')?.shape).toEqual([32, 4]); // v_proj: 4 kv heads of 8

    // replay: the adapter (bit-identical to the run's) and, with --merge, the full merged weights
    const plain = json(await zotune('replay', dir('lora-a'), '--out', join(work, 'lora-adapter.safetensors'), '--json'));
    expect(plain).toMatchObject({ wrote: 'adapter', steps: 14, runWeights: { maxAbsDiff: 0 } });
    expect(readFileSync(join(work, 'lora-adapter.safetensors')).equals(readFileSync(join(dir('lora-a'), 'final.safetensors')))).toBe(true);
    const merged = json(await zotune('replay', dir('lora-a'), '--merge', '--out', join(work, 'lora-merged.safetensors'), '--json'));
    expect(merged).toMatchObject({ wrote: 'merged', peft: 'lora-r4-a16-q_proj,v_proj' });
    // the merged file's model gives the logits of the base model with the run's adapter, and differs from the base
    const m = adapterOf(config.peft);
    const mergedModel = createTfjsModel({ ...m.checkpoint, tensors: readSafetensors(join(work, 'lora-merged.safetensors')).tensors });
    try {
      const adapter = createAdapter(m.model, config.peft);
      const rows = packSequences([[1, 403, 29, 71, 261, 15, 88, 402]]);
      const base = m.model.forward(rows).dataSync();
      adapter.load(final.tensors, 'final.safetensors');
      const adapted = (adapter.model as typeof m.model).forward(rows).dataSync();
      expect(mergedModel.forward(rows).dataSync()).toEqual(adapted);
      expect(Math.max(...Array.from(adapted, (x, i) => Math.abs(x - base[i])))).toBeGreaterThan(0);
    } finally {
      m.model.dispose();
      mergedModel.dispose();
    }
    // the registry: the adapter-block policy published under a reference, then used by reference
    const registryDir = join(work, 'peft-registry');
    const published = await openRegistry(registryDir).publish(parseRef('stories260K/lora-init:v1'), readFileSync(peftPolicy));
    process.env.ZOTUNE_REGISTRY = registryDir;
    try {
      const byRef = json(await zotune('finetune', '--estimator', 'mezo', '--steps', '2', ...small.slice(0, 4), '--policy', 'stories260K/lora-init:v1', ...loraArgs, '--out', dir('lora-ref'), '--json'));
      expect(byRef).toMatchObject({ policy: 'stories260K/lora-init:v1', policyDigest: published.digest, peft: 'lora-r4-a16-q_proj,v_proj' });
    } finally {
      delete process.env.ZOTUNE_REGISTRY;
    }
    // eval --run reads the adapter file of a PEFT run
    const ev = json(await zotune('eval', '--run', dir('lora-a'), '--split', 'test', '--n', String(sa.testN), '--json'));
    expect(ev.accuracy).toBe(sa.testAcc);
  }, 400_000);

  test('prefix: a short run on both engines; replay rebuilds its adapter bit for bit; --merge is refused', async () => {
    const dir = join(work, 'prefix');
    const s = json(await zotune('finetune', '--estimator', 'mezo', '--steps', '6', '--eval-every', '3', ...small, '--peft', 'prefix', '--prefix-tokens', '3', '--save-final', '--out', dir, '--json'));
    expect(s).toMatchObject({ peft: 'prefix-n3', trainableParameters: 5 * 2 * 3 * 32, steps: 6 });
    const r = json(await zotune('replay', dir, '--engine', 'tfjs', '--out', join(work, 'prefix.safetensors'), '--json'));
    expect(r).toMatchObject({ wrote: 'adapter', runWeights: { maxAbsDiff: 0 } });
    expect(readFileSync(join(work, 'prefix.safetensors')).equals(readFileSync(join(dir, 'final.safetensors')))).toBe(true);
    expect(readSafetensors(join(dir, 'final.safetensors')).tensors.get('model.layers.2.self_attn.prefix_value')?.shape).toEqual([3, 32]);
    const t = json(await zotune('finetune', '--estimator', 'mezo', '--steps', '2', ...small, '--peft', 'prefix', '--engine', 'tfjs', '--out', join(work, 'prefix-tfjs'), '--json'));
    expect(t).toMatchObject({ peft: 'prefix-n5', engine: { name: 'tfjs' } });
    const merge = await zotune('replay', dir, '--merge', '--out', join(work, 'never.safetensors'));
    expect(merge.code).toBe(2);
    expect(merge.stderr.trim()).toMatch(/^zotune: --merge: only a --peft lora run has adapters to merge into the weights \(.* is --peft prefix\)$/);
  }, 300_000);

  test('bad PEFT flags: one line, a non-zero exit, no run directory', async () => {
    const out = join(work, 'never-peft');
    const cases: [string[], RegExp][] = [
      [['finetune', '--peft', 'adapters', '--out', out], /^zotune: --peft: expected one of none, lora, prefix, got "adapters"$/],
      [['finetune', '--peft', 'lora', '--lora-rank', '0', '--out', out], /^zotune: --lora-rank: expected an integer >= 1, got 0$/],
      [['finetune', '--lora-rank', '8', '--out', out], /^zotune: --lora-rank: only with --peft lora \(this run has --peft none\)$/],
      [['finetune', '--peft', 'lora', '--prefix-tokens', '4', '--out', out], /^zotune: --prefix-tokens: only with --peft prefix \(this run has --peft lora\)$/],
      [['finetune', '--peft', 'lora', '--lora-targets', 'q,,v', '--out', out], /^zotune: --lora-targets: expected a comma-separated list/],
      [['finetune', '--peft', 'lora', '--lora-targets', 'x_proj', '--steps', '1', '--out', out], /^zotune: --peft lora-r8-a16-x_proj: --lora-targets: no matrix of the model is named \*\.x_proj\.weight \(its linears: q_proj, k_proj, v_proj, o_proj, gate_proj, down_proj, up_proj\)$/],
      [['finetune', '--peft', 'lora', '--estimator', 'adam', '--out', out], /^zotune: --peft lora: ZO estimators only \(adam trains every block\)$/],
      [['finetune', '--peft', 'prefix', '--prefix-tokens', 'many', '--out', out], /^zotune: --prefix-tokens: expected an integer, got "many"$/],
    ];
    await expectOneLineErrors(cases, out);
  });
});
