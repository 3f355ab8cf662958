// `zotune bench step`: the cost of a ZO step against one forward pass on a real task batch, and the
// cost of the learned policy's σ (block statistics + one MLP per block + nf) against a MeZO step.
// Issue 22's targets: a MeZO step ≤ 2.4 forward passes, a guided step ≤ (M + 2)·1.1 (issue 4's: 2.3, ·1.15); issue 5's: the
// policy under 5 % of a MeZO step. A step here is est.step() + est.update(), as a run does it.
// --peer: zotune's MeZO step beside the PyTorch + transformers peer (bench-peer.ts) on the same weights
// and batch, per thread count; issue 22's target is zotune's steps/s ≥ 2× the peer's at 2 threads.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerProcess, peerBatch, peerPython } from './bench-peer';
import { backendFlag, type BenchCommand } from './flags';
import { resolveDataDir } from '@zotune/data';
import { writeJsonAtomic } from '@zotune/io';
import { randomCheckpoint, resolveModel, writeGgufCheckpoint, PAD_SEGMENT, STORIES15M_CONFIG, type Block, type Checkpoint, type Model } from '@zotune/models';
import { engineNote, engineReport, enginePreference, openModel, parseThreads, type EngineName, forwardEngine } from '@zotune/engine';
import { featureStateFromRecord, initPertNN, normFactor, policyFeatures, policyScale, sizeFactors, type PertNN } from '@zotune/policy';
import { createAdapter, parseLoraTargets, peftLabel, type PeftConfig } from '@zotune/peft';
import { UserError, parseNumber, peakRssMiB, usageError } from '@zotune/report';
import { Collator, objectiveValue, resolveTask, type TaskBatch } from '@zotune/tasks';
import { initBackend, parseBackend } from '@zotune/tensor';
import { createEstimator, onesScale, scaleContext, stepSeed, type Estimator, type LossValue, type Scale, type StepRecord } from '@zotune/zo';

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
  /** time MeZO beside the PyTorch + transformers peer (scripts/python/mezo_peer.py) on the same weights and batch, once per count of peerThreads */
  peer?: boolean;
  /** --peer: the thread counts of both sides (default 1, 2) */
  peerThreads?: number[];
  /** ZO over a PEFT adapter's blocks instead of the model's (init seed: --seed) */
  peft?: PeftConfig;
  /** also time each estimator with trajectory format version 2's arithmetic (restore, then update) */
  unfused?: boolean;
}

/** One side of a --peer run at one thread count (medians over the timed rounds). */
export interface PeerSide {
  forwardMs: number;
  /** a MeZO step: two forwards and the perturbation/update passes */
  stepMs: number;
  forwardsPerStep: number;
  stepsPerSecond: number;
}

/** zotune and the peer at one thread count, interleaved on the same weights and batch. */
export interface PeerThreadRun {
  threads: number;
  zotune: PeerSide & { engine: Record<string, unknown> };
  /** perturbMs: the four in-place passes of a step (median); loadS: model and batch loading */
  peer: PeerSide & { perturbMs: number; peakRssMiB: number; loadS: number };
  /** zotune's MeZO steps/s over the peer's */
  ratio: number;
  /** the batch's loss at the initial weights (before any step), on each side */
  loss0: { zotune: number; peer: number; absDiff: number };
}

/** `zotune bench step --peer`: the PyTorch + transformers MeZO peer beside zotune's MeZO. */
export interface PeerComparison {
  command: string;
  /** what the peer loads: the model's own GGUF (transformers' loader, dequantized to fp32) or zotune's checkpoint written as an F32 GGUF */
  weights: string;
  versions: { torch: string; transformers: string; numpy: string; python: string };
  /** how each side lays the batch out */
  layout: string;
  /** the peer's batch: one right-padded sequence per (example, candidate), as MeZO lays it out */
  sequences: number;
  paddedTokens: number;
  tokens: number;
  parameters: number;
  attention: string;
  /** the peer's OMP_WAIT_POLICY (PASSIVE unless the environment sets another) */
  ompWaitPolicy: string | null;
  /** the LM head at every position (MeZO's wrapper) or at the scored ones only (the default) */
  fullLogits: boolean;
  eps: number;
  lr: number;
  /** timed rounds per thread count (after one untimed), each: zotune forward, peer forward, zotune step, peer step */
  steps: number;
  /** the runs stop when the two initial losses differ by more (not the same weights or batch: no fair comparison) */
  lossTolerance: number;
  runs: PeerThreadRun[];
  /** os.loadavg() when the runs began and ended (the machine may be shared) */
  loadAverage: { before: number[]; after: number[] };
  /** issue 22's target: zotune's MeZO steps/s at least this many times the peer's at 2 threads */
  target: number;
  ratioAt2Threads?: number;
  withinTarget?: boolean;
}

export interface StepTiming {
  /** median ms of step + update, σ = ones */
  stepMs: number;
  forwardPasses: number;
  /** stepMs / forwardMs */
  forwardsPerStep: number;
  /** issue 22's bound on forwardsPerStep (MeZO 2.4; guided (M + 2)·1.1, 6.6 at M = 4) */
  target: number;
  withinTarget: boolean;
  /** median ms of step + update with the random policy as σ (--policy random) */
  stepWithPolicyMs?: number;
  /** --unfused: median ms of step + update of trajectory format version 2 (restore, then update), same rounds */
  unfusedStepMs?: number;
  /** unfusedStepMs / forwardMs */
  unfusedForwardsPerStep?: number;
  /** --unfused: median ms of step + update of trajectory format version 3 (fused, noise stream 1), same rounds */
  stream1StepMs?: number;
  /** stream1StepMs / forwardMs: the step before version 4's noise stream 2 */
  stream1ForwardsPerStep?: number;
  /**
   * MeZO only: the step in forwards if each of its weight passes cost only the memory floor
   * (forwardPasses + MEZO_PASSES · weightsCopyMs / forwardMs): what no generator of z can beat
   * while z is regenerated instead of stored (memory = inference)
   */
  floorForwardsPerStep?: number;
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
  /**
   * one copy of the ZO blocks' bytes (Float32Array.set over `parameters` floats, one thread, best of 5,
   * after the timed rounds): the memory floor of a pass that reads and writes every weight once
   */
  weightsCopyMs?: number;
  mezo?: StepTiming;
  guided?: StepTiming & { candidates: number };
  policy?: PolicyTiming;
  backend: string;
  /** the forward engine of the steps (ort: ONNX Runtime on `threads` intra-op threads) */
  engine: Record<string, unknown>;
  /** noise threads of the estimator (Block.data blocks) */
  threads: number;
  /** --peer: the PyTorch + transformers peer on the same weights and batch (forwardMs, mezo, engine and threads above are zotune's at the last thread count) */
  peer?: PeerComparison;
  /** whether the blocks live on SharedArrayBuffers (engine ort where ORT accepts them: updated in place by the noise threads) */
  sharedWeights: boolean;
  /** the Node.js version (ORT takes shared inputs from 22.21 on) */
  node: string;
  /** 'full' or the PEFT setting; blocks and parameters above are then the adapter's */
  peft: string;
  /**
   * LoRA: how the adapters reach a forward ('engine': ORT computes the branch x·A·B inside its graph, no
   * merge; 'merge': W0 + (alpha/r)·A·B written into the weights before each forward whose adapters moved)
   */
  loraApplied?: 'engine' | 'merge';
  /** LoRA merging (tfjs): ms to write W0 + (alpha/r)·A·B into every target after the adapters moved (median; paid before each forward of a step) */
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
/** issue 22's bound on a MeZO step, in forward passes (issue 4's was 2.3) */
const MEZO_TARGET = 2.4;
/** weight passes of a fused MeZO step (q = 1, trajectory version ≥ 3): +εz, −2εz, then +(ε − ηĝ)z */
const MEZO_PASSES = 3;

/** ms of one copy of n floats between two arrays (best of `rounds`): the memory floor of a pass over n weights. */
function copyMs(n: number, rounds = 5): number {
  const a = new Float32Array(n).fill(1);
  const b = new Float32Array(n).fill(2);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    a.set(b);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

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
  const resolved = resolveModel(opts.model, dataDir);
  // --shape: random weights of that size, fed the same task batch (the ids of the model's tokenizer)
  const ckpt = opts.shape ? randomCheckpoint(STORIES15M_CONFIG, opts.seed) : resolved.checkpoint;
  const modelName = opts.shape ?? resolved.name;
  if (opts.peer) {
    const tb = new Collator(task, resolved.tokenizer, ckpt.config.maxSeqLen).batch(train.slice(0, opts.batch));
    return benchStepPeer(opts, { ckpt, modelName, task: task.name, backend, tb }, log);
  }
  const engine = await forwardEngine(opts, backend).catch(usageError);
  log(engineNote(engine).trimEnd());
  const threads = opts.threads ?? parseThreads(undefined);
  const base = await openModel(ckpt, engine);
  const runners: Runner[] = [];
  try {
    // --peft: the steps perturb and update the adapter's blocks; every forward goes through it
    const adapter = opts.peft && createAdapter(base, opts.peft);
    const model = adapter ? adapter.model : base;
    const collator = new Collator(task, resolved.tokenizer, model.config.maxSeqLen);
    const tb = collator.batch(train.slice(0, opts.batch), { goldOnly: task.kind === 'generation-lm' });
    const lossValue: LossValue = () => objectiveValue(model, tb);
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
      if (opts.unfused && opts.estimators.includes(name))
        for (const trajectoryVersion of [2, 3])
          runners.push({ key: `${name}@v${trajectoryVersion}`, est: createEstimator(name === 'guided' ? { name, candidates: opts.candidates } : { name }, { threads, trajectoryVersion }), scale: onesScale, step: 0 });
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
      sharedWeights: blocks.every((b) => b.data?.buffer instanceof SharedArrayBuffer),
      node: process.version,
      peft: peftLabel(opts.peft),
      peakRssMiB: 0,
      timing: `median over ${opts.steps} interleaved rounds after ${WARMUP} untimed; a step is est.step + est.update; wall clock (engine ${engine.name}${engine.name === 'ort' ? `, ${engine.threads} ORT threads` : ''}, ${threads} noise threads)`,
    };
    log(`forward: ${forwardMs.toFixed(2)} ms`);
    for (const name of opts.estimators) {
      const stepMs = ms[name];
      const target = name === 'mezo' ? MEZO_TARGET : (opts.candidates + 2) * 1.1;
      const timing: StepTiming = {
        stepMs,
        forwardPasses: runners.find((r) => r.key === name)!.est.forwardPassesPerStep,
        forwardsPerStep: stepMs / forwardMs,
        target,
        withinTarget: stepMs / forwardMs <= target,
      };
      if (policy) timing.stepWithPolicyMs = ms[`${name}+policy`];
      if (opts.unfused) {
        timing.unfusedStepMs = ms[`${name}@v2`];
        timing.unfusedForwardsPerStep = timing.unfusedStepMs / forwardMs;
        timing.stream1StepMs = ms[`${name}@v3`];
        timing.stream1ForwardsPerStep = timing.stream1StepMs / forwardMs;
      }
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
      result.loraApplied = adapter.applied;
      if (adapter.applied === 'engine') log('LoRA: the branch runs inside the ORT graph (no merge before a forward: its cost is part of forwardMs)');
      else {
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
    }
    result.peakRssMiB = peakRssMiB(); // before copyMs's two arrays of the weights' size raise it
    result.weightsCopyMs = copyMs(result.parameters);
    if (result.mezo) result.mezo.floorForwardsPerStep = result.mezo.forwardPasses + (MEZO_PASSES * result.weightsCopyMs) / forwardMs;
    return result;
  } finally {
    runners.forEach((r) => r.est.dispose());
    await base.dispose();
  }
}

/** issue 22: the 135M MeZO step at least twice the peer's steps/s at 2 threads */
const PEER_TARGET = 2;
/** initial losses further apart than this mean different weights or batches: the timing would compare different work */
const PEER_LOSS_TOLERANCE = 1e-3;

/**
 * --peer: zotune's MeZO and the PyTorch + transformers peer (scripts/python/mezo_peer.py) on the same
 * weights and the same batch, at each thread count in turn: one untimed round, then `steps` rounds of
 * zotune forward, peer forward, zotune step, peer step, so that load from elsewhere falls on both.
 * Each thread count starts both sides from the initial weights (zotune's model is a fresh copy of the
 * checkpoint, the peer a fresh process), and first compares their losses there.
 */
async function benchStepPeer(
  opts: BenchStepOptions,
  ctx: { ckpt: Checkpoint; modelName: string; task: string; backend: { name: string; reason: string }; tb: TaskBatch },
  log: (s: string) => void,
): Promise<BenchStepResult> {
  const { ckpt, tb } = ctx;
  const batchFile = peerBatch(tb);
  const python = peerPython();
  const tmp = mkdtempSync(join(tmpdir(), 'zotune-peer-'));
  try {
    const batchPath = join(tmp, 'batch.json');
    writeJsonAtomic(batchPath, batchFile);
    // the model's own GGUF when it is one (transformers dequantizes it as zotune does), else zotune's
    // fp32 checkpoint written as a GGUF: the same weights either way
    let gguf = ckpt.source;
    let weights = `${ckpt.source} (the model's GGUF, transformers' loader, dequantized to fp32)`;
    if (opts.shape || ckpt.format !== 'gguf') {
      gguf = join(tmp, 'weights.gguf');
      writeGgufCheckpoint(gguf, ckpt, { type: 'f32' });
      weights = `zotune's ${opts.shape ? `random ${opts.shape}-shape (seed ${opts.seed})` : ckpt.format} checkpoint written as an F32 GGUF, transformers' loader`;
    }
    const tokens = tb.packed.segments.reduce((n, s) => n + (s === PAD_SEGMENT ? 0 : 1), 0);
    const before = loadavg();
    const runs: PeerThreadRun[] = [];
    let last: { model: Model; engine: Record<string, unknown>; est: Estimator } | undefined;
    let peer: PeerProcess | undefined;
    let comparison: Omit<PeerComparison, 'runs' | 'loadAverage'> | undefined;
    try {
      for (const threads of opts.peerThreads ?? [1, 2]) {
        if (last) {
          last.est.dispose();
          await last.model.dispose();
          last = undefined;
        }
        const engine = await forwardEngine({ engine: opts.engine, threads }, ctx.backend).catch(usageError);
        log(engineNote(engine).trimEnd());
        // a copy of the checkpoint: every thread count starts from the initial weights
        const model = await openModel(ckpt, engine);
        const est = createEstimator({ name: 'mezo' }, { threads });
        last = { model, engine: engineReport(engine), est };
        const lossValue: LossValue = () => objectiveValue(model, tb);
        const args = ['--gguf', gguf, '--batch-file', batchPath, '--threads', String(threads), '--seed', String(opts.seed), '--eps', String(est.config.eps), '--lr', String(est.config.lr)];
        peer = await PeerProcess.start(python, args);
        const ready = peer.ready;
        const zotune0 = await lossValue();
        const absDiff = Math.abs(zotune0 - ready.loss0);
        log(`${threads} thread(s): loss at the initial weights: zotune ${zotune0.toFixed(6)}, peer ${ready.loss0.toFixed(6)} (|Δ| ${absDiff.toExponential(2)}); peer loaded in ${ready.load_s.toFixed(1)} s`);
        if (!(absDiff <= PEER_LOSS_TOLERANCE))
          throw new UserError(
            `--peer: the losses at the initial weights differ: zotune ${zotune0} vs the peer's ${ready.loss0} (|Δ| ${absDiff.toExponential(2)} > ${PEER_LOSS_TOLERANCE}): not the same weights or batch, so the timing would not compare the same work; command: ${peer.command}`,
          );
        comparison ??= {
          command: peer.command,
          weights,
          layout: `the peer: MeZO's, ${ready.sequences} right-padded sequences (prompt + candidate, the prompt once per candidate), ${ready.padded_tokens} token slots; zotune: each example's prompt once with its candidates (tree attention), ${tokens} tokens in rows of ${tb.packed.length}; the same ids, targets and loss`,
          versions: { torch: ready.torch, transformers: ready.transformers, numpy: ready.numpy, python: ready.python },
          sequences: ready.sequences,
          paddedTokens: ready.padded_tokens,
          tokens: ready.tokens,
          parameters: ready.params,
          attention: ready.attn,
          ompWaitPolicy: ready.omp_wait_policy,
          fullLogits: ready.full_logits,
          eps: ready.eps,
          lr: ready.lr,
          steps: opts.steps,
          lossTolerance: PEER_LOSS_TOLERANCE,
          target: PEER_TARGET,
        };
        const samples: Record<'zf' | 'zs' | 'pf' | 'ps' | 'pp', number[]> = { zf: [], zs: [], pf: [], ps: [], pp: [] };
        let prev: StepRecord | undefined;
        for (let round = 0; round <= opts.steps; round++) {
          const timed = round > 0; // round 0 warms both sides up
          let t0 = performance.now();
          await lossValue();
          const zf = performance.now() - t0;
          const pf = await peer.forward();
          t0 = performance.now();
          prev = await est.step({ blocks: model.blocks, lossValue, step: round, seed: stepSeed(opts.seed, round), scale: onesScale, prev, batch: tb.packed });
          await est.update(model.blocks, prev);
          const zs = performance.now() - t0;
          const ps = await peer.step();
          if (timed) {
            samples.zf.push(zf);
            samples.zs.push(zs);
            samples.pf.push(pf.ms);
            samples.ps.push(ps.ms);
            samples.pp.push(ps.perturb_ms);
          }
          log(`${threads} thread(s), ${timed ? `round ${round}` : 'warm-up'}: zotune forward ${zf.toFixed(0)} ms, step ${zs.toFixed(0)} ms; peer forward ${pf.ms.toFixed(0)} ms, step ${ps.ms.toFixed(0)} ms`);
        }
        const peakRssMiB = await peer.close();
        peer = undefined;
        const side = (forwardMs: number, stepMs: number): PeerSide => ({ forwardMs, stepMs, forwardsPerStep: stepMs / forwardMs, stepsPerSecond: 1000 / stepMs });
        const z = side(median(samples.zf), median(samples.zs));
        const p = side(median(samples.pf), median(samples.ps));
        runs.push({
          threads,
          zotune: { ...z, engine: last.engine },
          peer: { ...p, perturbMs: median(samples.pp), peakRssMiB, loadS: ready.load_s },
          ratio: z.stepsPerSecond / p.stepsPerSecond,
          loss0: { zotune: zotune0, peer: ready.loss0, absDiff },
        });
        log(`${threads} thread(s): zotune ${z.stepMs.toFixed(0)} ms/step, peer ${p.stepMs.toFixed(0)} ms/step: zotune ${runs.at(-1)!.ratio.toFixed(2)}× the peer's steps/s`);
      }
      const two = runs.find((r) => r.threads === 2);
      const lastRun = runs.at(-1)!;
      const model = last!.model;
      return {
        model: ctx.modelName,
        task: ctx.task,
        batch: opts.batch,
        tokens,
        rowLength: tb.packed.length,
        blocks: model.blocks.length,
        parameters: model.blocks.reduce((s, b) => s + b.size, 0),
        sharedWeights: model.blocks.every((b) => b.data?.buffer instanceof SharedArrayBuffer),
        node: process.version,
        forwardMs: lastRun.zotune.forwardMs,
        mezo: { stepMs: lastRun.zotune.stepMs, forwardPasses: last!.est.forwardPassesPerStep, forwardsPerStep: lastRun.zotune.forwardsPerStep, target: MEZO_TARGET, withinTarget: lastRun.zotune.forwardsPerStep <= MEZO_TARGET },
        backend: ctx.backend.name,
        engine: last!.engine,
        threads: lastRun.threads,
        peer: {
          ...comparison!,
          runs,
          loadAverage: { before, after: loadavg() },
          ...(two ? { ratioAt2Threads: two.ratio, withinTarget: two.ratio >= PEER_TARGET } : {}),
        },
        peft: 'full',
        peakRssMiB: peakRssMiB(),
        timing: `medians over ${opts.steps} rounds per thread count after 1 untimed, each round zotune forward, peer forward, zotune step (est.step + est.update), peer step; wall clock; mezo, forwardMs, engine and threads are zotune's at ${lastRun.threads} thread(s)`,
      };
    } finally {
      peer?.kill();
      if (last) {
        last.est.dispose();
        await last.model.dispose();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function text(r: BenchStepResult): string {
  const lines = [`${r.model} on ${r.task}, batch ${r.batch} (${r.tokens} tokens), engine ${r.engine.name} (${r.backend}), ZO over ${r.peft} (${r.parameters} parameters): forward ${r.forwardMs.toFixed(2)} ms`];
  if (r.loraMergeMs !== undefined) lines.push(`  LoRA merge before a forward: ${r.loraMergeMs.toFixed(3)} ms = ${(r.loraMergeMs / r.forwardMs).toFixed(3)} forwards`);
  if (r.loraApplied === 'engine') lines.push('  LoRA: the branch runs inside the ORT graph (no merge before a forward; its cost is part of the forward)');
  const step = (label: string, s: StepTiming) =>
    `  ${label}: ${s.stepMs.toFixed(2)} ms/step = ${s.forwardsPerStep.toFixed(2)} forwards (target ≤ ${s.target.toFixed(2)}: ${s.withinTarget ? 'met' : 'missed'})` +
    (s.stepWithPolicyMs !== undefined ? `; with the policy ${s.stepWithPolicyMs.toFixed(2)} ms` : '') +
    (s.unfusedForwardsPerStep !== undefined ? `; unfused (trajectory version 2) ${s.unfusedForwardsPerStep.toFixed(2)} forwards` : '') +
    (s.stream1ForwardsPerStep !== undefined ? `; fused with noise stream 1 (version 3) ${s.stream1ForwardsPerStep.toFixed(2)} forwards` : '') +
    (s.floorForwardsPerStep !== undefined && r.weightsCopyMs !== undefined
      ? `; at the memory floor (${MEZO_PASSES} passes × ${r.weightsCopyMs.toFixed(1)} ms, a copy of the weights) ${s.floorForwardsPerStep.toFixed(2)} forwards`
      : '');
  if (r.mezo) lines.push(step('mezo', r.mezo));
  if (r.guided) lines.push(step(`guided M=${r.guided.candidates}`, r.guided));
  if (r.policy) {
    const p = r.policy;
    lines.push(
      `  policy (${p.blocks} blocks, ${p.parameters} weights): ${p.totalMs.toFixed(3)} ms = ${p.percentOfMezoStep.toFixed(2)} % of a MeZO step ` +
        `(target < ${p.targetPercent} %: ${p.withinTarget ? 'met' : 'missed'}); stats ${p.statsMs.toFixed(3)}, mlp ${p.mlpMs.toFixed(3)}, nf ${p.rescaleMs.toFixed(3)} ms`,
    );
  }
  if (r.peer) {
    const p = r.peer;
    lines.push(`  PyTorch ${p.versions.torch} + transformers ${p.versions.transformers} MeZO peer (${p.sequences} sequences, ${p.paddedTokens} padded tokens; ${p.weights}):`);
    for (const x of p.runs)
      lines.push(
        `    ${x.threads} thread(s): zotune ${x.zotune.stepMs.toFixed(0)} ms/step (${x.zotune.forwardsPerStep.toFixed(2)} forwards), peer ${x.peer.stepMs.toFixed(0)} ms/step (${x.peer.forwardsPerStep.toFixed(2)} forwards): ` +
          `zotune ${x.ratio.toFixed(2)}× the peer's steps/s; initial loss ${x.loss0.zotune.toFixed(6)} vs ${x.loss0.peer.toFixed(6)}`,
      );
    if (p.ratioAt2Threads !== undefined) lines.push(`    target ≥ ${p.target}× at 2 threads: ${p.withinTarget ? 'met' : 'missed'}; load average ${p.loadAverage.before[0].toFixed(1)} → ${p.loadAverage.after[0].toFixed(1)}`);
  }
  lines.push(`  peak RSS ${r.peakRssMiB.toFixed(0)} MiB; timing: ${r.timing}`);
  return lines.join('\n');
}

export interface BenchStepFlags {
  model: string;
  task: string;
  batch: string;
  /** default mezo,guided (mezo with --peer) */
  estimator?: string;
  candidates: string;
  /** default random (none with --peer) */
  policy?: string;
  steps: string;
  seed: string;
  out?: string;
  backend?: string;
  engine?: string;
  threads?: string;
  shape?: string;
  peer?: boolean;
  peft?: string;
  loraRank?: string;
  loraAlpha?: string;
  loraTargets?: string;
  prefixTokens?: string;
  json?: boolean;
  unfused?: boolean;
}

/** Parse the command's flags (exported for tests). */
export function parseBenchStepFlags(flags: BenchStepFlags): BenchStepOptions {
  const peer = flags.peer === true;
  const estimators = (flags.estimator ?? (peer ? 'mezo' : 'mezo,guided')).split(',').map((s) => s.trim());
  for (const e of estimators)
    if (!(ESTIMATORS as readonly string[]).includes(e)) throw new UserError(`--estimator: unknown estimator "${e}"; expected mezo, guided or mezo,guided`, 2);
  const policy = flags.policy ?? (peer ? 'none' : 'random');
  if (policy !== 'none' && policy !== 'random') throw new UserError(`--policy: expected none or random, got "${flags.policy}"`, 2);
  if (peer) {
    // the peer is MeZO on every weight with σ = ones: nothing else has a counterpart there
    if (estimators.join() !== 'mezo') throw new UserError(`--peer: times MeZO only; drop --estimator ${flags.estimator} (or pass --estimator mezo)`, 2);
    if (policy !== 'none') throw new UserError('--peer: times MeZO with σ = ones; drop --policy random (or pass --policy none)', 2);
    if (flags.peft !== undefined && flags.peft !== 'none') throw new UserError(`--peer: the peer steps every weight; drop --peft ${flags.peft}`, 2);
  }
  const backend = backendFlag(flags.backend);
  const candidates = parseNumber('--candidates', flags.candidates, { int: true, min: 2, max: 1024 });
  if (flags.shape !== undefined && flags.shape !== 'stories15M') throw new UserError(`--shape: expected stories15M, got "${flags.shape}"`, 2);
  let engine;
  let threads;
  let peerThreads;
  try {
    engine = enginePreference(flags.engine);
    if (peer) peerThreads = (flags.threads ?? '1,2').split(',').map((t) => parseThreads(t.trim()));
    else threads = parseThreads(flags.threads);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  const seed = parseNumber('--seed', flags.seed, { int: true, min: 0, max: 2 ** 32 - 1 });
  const peft = benchPeft(flags, seed);
  return {
    engine,
    threads,
    shape: flags.shape as 'stories15M' | undefined,
    ...(peer ? { peer, peerThreads: [...new Set(peerThreads)] } : {}),
    model: flags.model,
    task: flags.task,
    batch: parseNumber('--batch', flags.batch, { int: true, min: 1, max: 4096 }),
    estimators: [...new Set(estimators)] as BenchEstimator[],
    candidates,
    policy,
    steps: parseNumber('--steps', flags.steps, { int: true, min: 1, max: 100000 }),
    seed,
    backend,
    ...(peft ? { peft } : {}),
    ...(flags.unfused ? { unfused: true } : {}),
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

/** The run and text of `zotune bench step` (declared in commands.ts). */
export const benchStepCommand: BenchCommand<BenchStepFlags, BenchStepResult> = {
  run: (flags) => benchStep(parseBenchStepFlags(flags), (s) => process.stderr.write(`zotune bench step: ${s}\n`)),
  text,
};
