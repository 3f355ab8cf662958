// `zotune bench step`: the cost of a ZO step against one forward pass on a real task batch, and the
// cost of the learned policy's σ (block statistics + one MLP per block + nf) against a MeZO step.
// Issue 4's targets: a MeZO step ≤ 2.3 forward passes, a guided step ≤ (M + 2)·1.15; issue 5's: the
// policy under 5 % of a MeZO step. A step here is est.step() + est.update(), as a run does it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { backendFlag, benchOutput, engineFlags } from './flags';
import { resolveDataDir } from '@zotune/data';
import { isHostModel, randomCheckpoint, resolveModel, PAD_SEGMENT, STORIES15M_CONFIG, type Block } from '@zotune/models';
import { engineNote, engineReport, openModel, parseThreads, type EngineName, forwardEngine } from '@zotune/ort';
import { featureStateFromRecord, initPertNN, normFactor, policyFeatures, policyScale, sizeFactors, type PertNN } from '@zotune/policy';
import { createAdapter, parseLoraTargets, peftLabel, type PeftConfig } from '@zotune/peft';
import { UserError, parseNumber, peakRssMiB, usageError } from '@zotune/report';
import { Collator, hostObjectiveValue, objectiveFor, resolveTask, type TaskBatch } from '@zotune/tasks';
import { initBackend, parseBackend } from '@zotune/tensor';
import { createEstimator, lossValueOf, onesScale, scaleContext, stepSeed, type Estimator, type LossValue, type Scale, type StepRecord } from '@zotune/zo';

const ESTIMATORS = ['mezo', 'guided'] as const;
type BenchEstimator = (typeof ESTIMATORS)[number];

export interface BenchStepOptions {
  model: string;
  task: string;
  /** examples in the batch */
  batch: number;
  estimators: BenchEstimator[];
  /** guided: M */
  candidates: number;
  policy: 'none' | 'random';
  /** timed repetitions per measurement (the median is reported) */
  steps: number;
  /** sampling seed of the task splits, run seed of the steps and seed of the random policy */
  seed: number;
  backend?: ReturnType<typeof parseBackend>;
  /** forward engine preference (default $ZOTUNE_ENGINE, else auto) */
  engine?: EngineName;
  /** ORT intra-op threads and noise threads (default: cores) */
  threads?: number;
  /** random weights of this shape instead of the model's (the model still gives the tokenizer) */
  shape?: 'stories15M';
  /** the PyTorch peer's directory: run its MeZO on the same model size, batch and seed, 1 and 2 threads */
  peer?: string;
  /** timed steps of each peer run */
  peerSteps?: number;
  /** ZO over a PEFT adapter's blocks instead of the model's (init seed: --seed) */
  peft?: PeftConfig;
}

/** One run of the PyTorch peer (torch-mezo's mezo.py): its own summary line. */
export interface PeerRun {
  threads: number;
  stepsPerSecond: number;
  secPerStep: number;
  forwardS: number;
  perturbUpdateS: number;
  command: string;
}

export interface StepTiming {
  /** median ms of step + update, σ = ones */
  stepMs: number;
  forwardPasses: number;
  /** stepMs / forwardMs */
  forwardsPerStep: number;
  /** issue 4's bound on forwardsPerStep */
  target: number;
  withinTarget: boolean;
  /** median ms of step + update with the random policy as σ (--policy random) */
  stepWithPolicyMs?: number;
}

export interface PolicyTiming {
  /** per-block networks */
  blocks: number;
  parameters: number;
  /** ctx.stats(): mean and unbiased variance of every block (median ms) */
  statsMs: number;
  /** features and one MLP forward per block (median ms) */
  mlpMs: number;
  /** size factors (distinct tokens of the batch) and nf (median ms) */
  rescaleMs: number;
  /** the whole Scale.sigma call on a fresh context (median ms) */
  totalMs: number;
  /** totalMs as a percentage of a MeZO step with σ = ones */
  percentOfMezoStep: number;
  /** that MeZO step (median ms; measured even with --estimator guided) */
  mezoStepMs: number;
  /** issue 5's bound, in percent of a MeZO step */
  targetPercent: number;
  withinTarget: boolean;
}

export interface BenchStepResult {
  model: string;
  task: string;
  batch: number;
  /** non-padding token slots of the packed batch and its padded row length */
  tokens: number;
  rowLength: number;
  blocks: number;
  parameters: number;
  /** median ms of one loss evaluation of the batch (one forward pass) */
  forwardMs: number;
  mezo?: StepTiming;
  guided?: StepTiming & { candidates: number };
  policy?: PolicyTiming;
  backend: string;
  /** the forward engine of the steps (ort: ONNX Runtime on `threads` intra-op threads) */
  engine: Record<string, unknown>;
  /** noise threads of the estimator (Block.data blocks) */
  threads: number;
  /** the PyTorch peer on the same model size and batch, and zotune's MeZO steps/s over the peer's 2-thread steps/s */
  peer?: { runs: PeerRun[]; mezoStepsPerSecond: number; ratioToPeer2Threads: number; note: string };
  /** 'full' or the PEFT setting; blocks and parameters above are then the adapter's */
  peft: string;
  /** LoRA: ms to write W0 + (alpha/r)·A·B into every target after the adapters moved (median; paid before each forward of a step) */
  loraMergeMs?: number;
  /** peak resident set size of this process (MiB), for comparing settings run as separate processes */
  peakRssMiB: number;
  timing: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const WARMUP = 3;

/** One estimator with one σ, stepping the shared model: its own step counter and previous record. */
interface Runner {
  key: string;
  est: Estimator;
  scale: Scale;
  step: number;
  prev?: StepRecord;
}

/**
 * Time everything in interleaved rounds (forward, each step, the policy), so that load from other
 * processes on the machine falls on every measurement alike; report medians over the rounds.
 */
async function measure(
  blocks: Block[],
  lossValue: LossValue,
  tb: TaskBatch,
  runners: Runner[],
  policy: PertNN | undefined,
  opts: Pick<BenchStepOptions, 'steps' | 'seed'>,
): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  const add = (key: string, ms: number, round: number) => {
    if (round >= WARMUP) (samples[key] ??= []).push(ms);
  };
  const scale = policy ? policyScale(policy) : undefined;
  for (let round = 0; round < WARMUP + opts.steps; round++) {
    let t0 = performance.now();
    await lossValue();
    add('forward', performance.now() - t0, round);
    for (const r of runners) {
      t0 = performance.now();
      r.prev = await r.est.step({ blocks, lossValue, step: r.step, seed: stepSeed(opts.seed, r.step), scale: r.scale, prev: r.prev, batch: tb.packed });
      await r.est.update(blocks, r.prev);
      r.step++;
      add(r.key, performance.now() - t0, round);
    }
    if (policy && scale) {
      // the policy on the context of the next MeZO step (the first runner's), by part and as a whole
      const prev = runners[0].prev!;
      const ctx = scaleContext(prev.step + 1, blocks, prev, tb.packed);
      t0 = performance.now();
      const stats = await ctx.stats();
      const t1 = performance.now();
      const sigma = policy.sigma(policyFeatures(stats, featureStateFromRecord(prev, blocks.length)));
      const t2 = performance.now();
      normFactor(sigma, sizeFactors(blocks, tb.packed));
      const t3 = performance.now();
      add('stats', t1 - t0, round);
      add('mlp', t2 - t1, round);
      add('rescale', t3 - t2, round);
      t0 = performance.now();
      await scale.sigma(scaleContext(prev.step + 1, blocks, prev, tb.packed));
      add('policy', performance.now() - t0, round);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

export async function benchStep(opts: BenchStepOptions, log: (s: string) => void = () => {}): Promise<BenchStepResult> {
  let task;
  try {
    task = resolveTask(opts.task);
  } catch (e) {
    throw new UserError(`--task: ${(e as Error).message}`, 2);
  }
  const dataDir = resolveDataDir();
  const train = task.splits(dataDir, opts.seed).train;
  if (train.length < opts.batch) throw new UserError(`--batch ${opts.batch}: task ${task.name} has only ${train.length} training examples`, 2);
  const backend = await initBackend(opts.backend ?? 'auto');
  const engine = await forwardEngine(opts, backend).catch(usageError);
  log(engineNote(engine).trimEnd());
  const threads = opts.threads ?? parseThreads(undefined);
  const resolved = resolveModel(opts.model, dataDir);
  // --shape: random weights of that size, fed the same task batch (the ids of the model's tokenizer)
  const ckpt = opts.shape ? randomCheckpoint(STORIES15M_CONFIG, opts.seed) : resolved.checkpoint;
  const modelName = opts.shape ?? resolved.name;
  const base = await openModel(ckpt, engine);
  const runners: Runner[] = [];
  try {
    // --peft: the steps perturb and update the adapter's blocks; every forward goes through it
    const adapter = opts.peft && createAdapter(base, opts.peft);
    const model = adapter ? adapter.model : base;
    const collator = new Collator(task, resolved.tokenizer, model.config.maxSeqLen);
    const tb = collator.batch(train.slice(0, opts.batch), { goldOnly: task.kind === 'generation-lm' });
    const objective = objectiveFor(task.kind);
    const lossValue: LossValue = isHostModel(model) ? () => hostObjectiveValue(model, tb) : lossValueOf(() => objective(model, tb));
    const blocks = adapter ? adapter.blocks : model.blocks;
    const tokens = tb.packed.segments.reduce((n, s) => n + (s === PAD_SEGMENT ? 0 : 1), 0);
    log(`${modelName}, ${task.name}: batch ${opts.batch} (${tokens} tokens, rows of ${tb.packed.length}), ${blocks.length} blocks, engine ${engine.name}, backend ${backend.name}`);

    const policy = opts.policy === 'random' ? initPertNN(blocks.map((b) => b.name), { seed: opts.seed }) : undefined;
    // the policy is timed on a MeZO step's context: put a MeZO runner first even for --estimator guided
    const names: BenchEstimator[] = policy ? ['mezo', ...opts.estimators.filter((e) => e !== 'mezo')] : opts.estimators;
    for (const name of names) {
      const make = () => createEstimator(name === 'guided' ? { name, candidates: opts.candidates } : { name }, { threads });
      runners.push({ key: name, est: make(), scale: onesScale, step: 0 });
      if (policy && opts.estimators.includes(name)) runners.push({ key: `${name}+policy`, est: make(), scale: policyScale(policy), step: 0 });
    }
    log(`timing ${opts.steps} rounds (after ${WARMUP} untimed) of: forward, ${runners.map((r) => r.key).join(', ')}${policy ? ', policy' : ''}`);
    const ms = await measure(blocks, lossValue, tb, runners, policy, opts);
    const forwardMs = ms.forward;
    const result: BenchStepResult = {
      model: modelName,
      task: task.name,
      batch: opts.batch,
      tokens,
      rowLength: tb.packed.length,
      blocks: blocks.length,
      parameters: blocks.reduce((s, b) => s + b.size, 0),
      forwardMs,
      backend: backend.name,
      engine: engineReport(engine),
      threads,
      peft: peftLabel(opts.peft),
      peakRssMiB: 0,
      timing: `median over ${opts.steps} interleaved rounds after ${WARMUP} untimed; a step is est.step + est.update; wall clock (engine ${engine.name}${engine.name === 'ort' ? `, ${engine.threads} ORT threads` : ''}, ${threads} noise threads)`,
    };
    log(`forward: ${forwardMs.toFixed(2)} ms`);
    for (const name of opts.estimators) {
      const stepMs = ms[name];
      const target = name === 'mezo' ? 2.3 : (opts.candidates + 2) * 1.15;
      const timing: StepTiming = {
        stepMs,
        forwardPasses: runners.find((r) => r.key === name)!.est.forwardPassesPerStep,
        forwardsPerStep: stepMs / forwardMs,
        target,
        withinTarget: stepMs / forwardMs <= target,
      };
      if (policy) timing.stepWithPolicyMs = ms[`${name}+policy`];
      log(`${name}: ${stepMs.toFixed(2)} ms/step = ${timing.forwardsPerStep.toFixed(2)} forwards (target ≤ ${target.toFixed(2)})${timing.stepWithPolicyMs !== undefined ? `; with the policy ${timing.stepWithPolicyMs.toFixed(2)} ms` : ''}`);
      if (name === 'mezo') result.mezo = timing;
      else result.guided = { ...timing, candidates: opts.candidates };
    }
    if (policy) {
      const percentOfStep = (100 * ms.policy) / ms.mezo;
      result.policy = {
        blocks: policy.numBlocks,
        parameters: policy.parameters,
        statsMs: ms.stats,
        mlpMs: ms.mlp,
        rescaleMs: ms.rescale,
        totalMs: ms.policy,
        percentOfMezoStep: percentOfStep,
        mezoStepMs: ms.mezo,
        targetPercent: 5,
        withinTarget: percentOfStep < 5,
      };
      log(`policy: ${ms.policy.toFixed(3)} ms (stats ${ms.stats.toFixed(3)}, mlp ${ms.mlp.toFixed(3)}, nf ${ms.rescale.toFixed(3)}) = ${percentOfStep.toFixed(2)} % of a mezo step`);
    }
    if (adapter && opts.peft?.method === 'lora') {
      // the merge alone: move one adapter weight, then sync (every target is rewritten)
      const times: number[] = [];
      for (let i = 0; i < WARMUP + opts.steps; i++) {
        for (const b of blocks) b.data![0] = Math.fround(b.data![0] + 1e-7);
        const t0 = performance.now();
        adapter.sync();
        if (i >= WARMUP) times.push(performance.now() - t0);
      }
      result.loraMergeMs = median(times);
      log(`LoRA merge: ${result.loraMergeMs.toFixed(3)} ms = ${(result.loraMergeMs / forwardMs).toFixed(3)} forwards`);
    }
    if (opts.peer && result.mezo) {
      const runs = [1, 2].map((t) => runPeer(opts.peer!, opts.shape ?? 'stories260K', t, opts, log));
      const mezoStepsPerSecond = 1000 / result.mezo.stepMs;
      const two = runs.find((r) => r.threads === 2)!;
      result.peer = {
        runs,
        mezoStepsPerSecond,
        ratioToPeer2Threads: mezoStepsPerSecond / two.stepsPerSecond,
        note:
          opts.shape !== undefined
            ? "the peer's random-weight shape scores 32 padded sequences of 64 random ids (its own batch layout); zotune scores the packed SST-2 batch through the same shape"
            : 'the peer samples its own SST-2 batch of the same size (prompt repeated per option, padded); zotune packs the prompt once',
      };
      log(`peer: ${runs.map((r) => `${r.threads} thread(s) ${r.stepsPerSecond.toFixed(2)} steps/s`).join(', ')}; zotune mezo ${mezoStepsPerSecond.toFixed(2)} steps/s = ${result.peer.ratioToPeer2Threads.toFixed(2)}× the peer's 2 threads`);
    }
    result.peakRssMiB = peakRssMiB();
    return result;
  } finally {
    runners.forEach((r) => r.est.dispose());
    await base.dispose();
  }
}

/** Run the PyTorch peer's MeZO (Debian python3-torch) and read its summary line. */
function runPeer(dir: string, model: string, threads: number, opts: BenchStepOptions, log: (s: string) => void): PeerRun {
  const script = join(dir, 'mezo.py');
  if (!existsSync(script)) throw new UserError(`--peer: ${script} not found`, 2);
  const args = [script, '--model', model, '--steps', String((opts.peerSteps ?? 10) + 2), '--threads', String(threads), '--batch', String(opts.batch), '--seed', String(opts.seed), '--eval-n', '1'];
  const command = `/usr/bin/python3 ${args.join(' ')}`;
  log(`peer: ${command}`);
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync('/usr/bin/python3', args, { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new UserError(`--peer: ${command} failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}; install it with apt-get install -y python3-torch libopenblas0-pthread`);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  return { threads, stepsPerSecond: last.steps_per_s, secPerStep: last.sec_per_step, forwardS: last.forward_s, perturbUpdateS: last.perturb_update_s, command };
}

function text(r: BenchStepResult): string {
  const lines = [`${r.model} on ${r.task}, batch ${r.batch} (${r.tokens} tokens), engine ${r.engine.name} (${r.backend}), ZO over ${r.peft} (${r.parameters} parameters): forward ${r.forwardMs.toFixed(2)} ms`];
  if (r.loraMergeMs !== undefined) lines.push(`  LoRA merge before a forward: ${r.loraMergeMs.toFixed(3)} ms = ${(r.loraMergeMs / r.forwardMs).toFixed(3)} forwards`);
  const step = (label: string, s: StepTiming) =>
    `  ${label}: ${s.stepMs.toFixed(2)} ms/step = ${s.forwardsPerStep.toFixed(2)} forwards (target ≤ ${s.target.toFixed(2)}: ${s.withinTarget ? 'met' : 'missed'})` +
    (s.stepWithPolicyMs !== undefined ? `; with the policy ${s.stepWithPolicyMs.toFixed(2)} ms` : '');
  if (r.mezo) lines.push(step('mezo', r.mezo));
  if (r.guided) lines.push(step(`guided M=${r.guided.candidates}`, r.guided));
  if (r.policy) {
    const p = r.policy;
    lines.push(
      `  policy (${p.blocks} blocks, ${p.parameters} weights): ${p.totalMs.toFixed(3)} ms = ${p.percentOfMezoStep.toFixed(2)} % of a MeZO step ` +
        `(target < ${p.targetPercent} %: ${p.withinTarget ? 'met' : 'missed'}); stats ${p.statsMs.toFixed(3)}, mlp ${p.mlpMs.toFixed(3)}, nf ${p.rescaleMs.toFixed(3)} ms`,
    );
  }
  if (r.peer)
    lines.push(
      `  PyTorch peer: ${r.peer.runs.map((p) => `${p.threads} thread(s) ${p.stepsPerSecond.toFixed(2)} steps/s`).join(', ')}; zotune MeZO ${r.peer.mezoStepsPerSecond.toFixed(2)} steps/s = ${r.peer.ratioToPeer2Threads.toFixed(2)}× the peer's 2 threads`,
    );
  lines.push(`  peak RSS ${r.peakRssMiB.toFixed(0)} MiB; timing: ${r.timing}`);
  return lines.join('\n');
}

interface BenchStepFlags {
  model: string;
  task: string;
  batch: string;
  estimator: string;
  candidates: string;
  policy: string;
  steps: string;
  seed: string;
  out?: string;
  backend?: string;
  engine?: string;
  threads?: string;
  shape?: string;
  peer?: string | boolean;
  peerSteps?: string;
  peft?: string;
  loraRank?: string;
  loraAlpha?: string;
  loraTargets?: string;
  prefixTokens?: string;
  json?: boolean;
}

/** Parse the command's flags (exported for tests). */
export function parseBenchStepFlags(flags: BenchStepFlags): BenchStepOptions {
  const estimators = flags.estimator.split(',').map((s) => s.trim());
  for (const e of estimators)
    if (!(ESTIMATORS as readonly string[]).includes(e)) throw new UserError(`--estimator: unknown estimator "${e}"; expected mezo, guided or mezo,guided`, 2);
  if (flags.policy !== 'none' && flags.policy !== 'random') throw new UserError(`--policy: expected none or random, got "${flags.policy}"`, 2);
  const backend = backendFlag(flags.backend);
  const candidates = parseNumber('--candidates', flags.candidates, { int: true, min: 2, max: 1024 });
  if (flags.shape !== undefined && flags.shape !== 'stories15M') throw new UserError(`--shape: expected stories15M, got "${flags.shape}"`, 2);
  const { engine, threads } = engineFlags(flags);
  const seed = parseNumber('--seed', flags.seed, { int: true, min: 0, max: 2 ** 32 - 1 });
  const peft = benchPeft(flags, seed);
  const peer = flags.peer === undefined || flags.peer === false ? undefined : resolve(flags.peer === true ? join(resolveDataDir(), '../bench/torch-mezo') : flags.peer);
  return {
    engine,
    threads,
    shape: flags.shape as 'stories15M' | undefined,
    peer,
    peerSteps: parseNumber('--peer-steps', flags.peerSteps ?? '10', { int: true, min: 1 }),
    model: flags.model,
    task: flags.task,
    batch: parseNumber('--batch', flags.batch, { int: true, min: 1, max: 4096 }),
    estimators: [...new Set(estimators)] as BenchEstimator[],
    candidates,
    policy: flags.policy === 'none' ? 'none' : 'random',
    steps: parseNumber('--steps', flags.steps, { int: true, min: 1, max: 100000 }),
    seed,
    backend,
    ...(peft ? { peft } : {}),
  };
}

/** --peft lora|prefix with its options (the finetune defaults: r 8, alpha 16, q_proj,v_proj; 5 prefix tokens). */
function benchPeft(flags: BenchStepFlags, seed: number): PeftConfig | undefined {
  const method = flags.peft ?? 'none';
  if (!['none', 'lora', 'prefix'].includes(method)) throw new UserError(`--peft: expected none, lora or prefix, got "${flags.peft}"`, 2);
  const only = (flag: string, v: unknown, needs: string) => {
    if (v !== undefined && method !== needs) throw new UserError(`${flag}: only with --peft ${needs}`, 2);
  };
  only('--lora-rank', flags.loraRank, 'lora');
  only('--lora-alpha', flags.loraAlpha, 'lora');
  only('--lora-targets', flags.loraTargets, 'lora');
  only('--prefix-tokens', flags.prefixTokens, 'prefix');
  if (method === 'lora') {
    let targets = ['q_proj', 'v_proj'];
    try {
      if (flags.loraTargets !== undefined) targets = parseLoraTargets(flags.loraTargets);
    } catch (e) {
      throw new UserError((e as Error).message, 2);
    }
    const alpha = parseNumber('--lora-alpha', flags.loraAlpha ?? '16');
    if (!(alpha > 0)) throw new UserError(`--lora-alpha: expected a number > 0, got ${flags.loraAlpha}`, 2);
    return { method, rank: parseNumber('--lora-rank', flags.loraRank ?? '8', { int: true, min: 1, max: 4096 }), alpha, targets, initSeed: seed };
  }
  if (method === 'prefix') return { method, tokens: parseNumber('--prefix-tokens', flags.prefixTokens ?? '5', { int: true, min: 1, max: 4096 }), initSeed: seed };
  return undefined;
}

/** Add `step` to an existing `zotune bench` command. */
export function registerBenchStep(bench: Command): void {
  const cmd = bench
    .command('step')
    .description('ms per forward pass, per MeZO and guided step (and their ratio to a forward), and the policy\'s overhead, on a real task batch')
    .option('--model <model>', 'a name under the data dir\'s models/, a llama2.c .bin, or a Hugging Face directory', 'stories260K')
    .option('--task <task>', 'a built-in task, a config in configs/tasks, or a task .json (its first training examples form the batch)', 'sst2')
    .option('--batch <B>', 'examples in the batch', '16')
    .option('--estimator <names>', 'mezo, guided, or mezo,guided', 'mezo,guided')
    .option('--candidates <M>', 'guided: candidates per step', '4')
    .option('--policy <p>', 'random: also time a randomly initialised PertNN as σ; none: skip it', 'random')
    .option('--steps <N>', 'timed repetitions per measurement (median reported)', '20')
    .option('--seed <S>', 'task sampling seed, run seed and policy init seed', '0')
    .option('--engine <name>', 'forward engine: auto, ort or tfjs (default: $ZOTUNE_ENGINE, else auto)')
    .option('--threads <n>', "ORT intra-op threads and noise threads (default: the machine's cores)")
    .option('--shape <name>', 'random weights of this shape (stories15M) fed the same task batch')
    .option('--peer [dir]', 'also run the PyTorch peer (torch-mezo; default: bench/torch-mezo beside the data directory) on 1 and 2 threads and report the ratio')
    .option('--peer-steps <n>', 'timed steps of each peer run', '10')
    .option('--peft <p>', 'ZO over none (every block; default), lora or prefix adapter blocks')
    .option('--lora-rank <r>', '--peft lora: rank (default 8)')
    .option('--lora-alpha <a>', '--peft lora: alpha (default 16)')
    .option('--lora-targets <list>', '--peft lora: linears (default q_proj,v_proj)')
    .option('--prefix-tokens <n>', '--peft prefix: prefix positions per layer (default 5)');
  benchOutput(cmd, (flags: BenchStepFlags) => benchStep(parseBenchStepFlags(flags), (s) => process.stderr.write(`zotune bench step: ${s}\n`)), text);
}
