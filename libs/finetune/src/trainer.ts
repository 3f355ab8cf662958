// The fine-tune loop: step → trajectory record → metrics line → dev accuracy every evalEvery steps →
// best checkpoint (model.safetensors) → at the end the best checkpoint's test accuracy, summary.json
// and report.html. A resumed run rebuilds its weights by replaying the trajectory onto the base
// weights (the live update's own code path) and continues from the last complete record.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { appendRecord, createTrajectory, resumeTrajectory, type CurvatureProbe, type TrajectoryHeader } from '@zotune/artifacts';
import { differentiable, modelDigest, type Model, type Block } from '@zotune/models';
import { loraTargetProblem, peftLabel, type Adapter } from '@zotune/peft';
import { chooseEngine, engineNote, engineReport, isGpuBackend, parseThreads, type EngineChoice } from '@zotune/engine';
import { CURVATURE_SEED_DOMAIN, probeCurvature } from '@zotune/policy';
import { createRunDir, memoryMark, peakRssMiB, Progress, UserError, writeRunReport, type MetricRecord, type RunDir } from '@zotune/report';
import { combineObjective, evaluate, objectivePartial, objectiveValue, type Example, type ObjectivePartial } from '@zotune/tasks';
import { backendNote, deriveSeed, initBackend } from '@zotune/tensor';
import { createAdam, createEstimator, stepSeed, trajectoryHeader, type Adam, type Estimator, type EstimatorConfig, type StepLossValue, type Scale, type StepRecord } from '@zotune/zo';
import { BatchSchedule } from './batches';
import { estimatorConfig, passesPerStep, type FinetuneConfig } from './config';
import { resolvePolicy, type PolicyContext, type ResolvedPolicy } from './policy';
import { buildModel, loadInputs, type RunInputs } from './setup';
import { LaggingWeights } from './lagging';
import { replayForResume } from './resume';
import { bestOf, devLosses, finalTrainLoss, restoreState, secondsPerStep, stepMetric, type Best, type RunState } from './state';
import { loadRunWeights, openAdapter, WEIGHT_FILES, weightsStep, writeRunWeights } from './weights';

/** summary.json of a fine-tune run (the RunSummary fields of @zotune/report and more). */
export interface FinetuneSummary {
  task: string;
  estimator: string;
  model: string;
  seed: number;
  steps: number;
  /** training forward passes (adam: 3 forward-pass equivalents per step) */
  forwardPasses: number;
  bestDevAcc: number;
  /** steps completed at the best dev accuracy (0: the base model was never beaten) */
  bestStep: number;
  /** test accuracy of the best-dev checkpoint */
  testAcc: number;
  /** test accuracy of the base model */
  zeroShotTestAcc: number;
  /** dev accuracy of the base model */
  zeroShotDevAcc: number;
  /** mean of the last 50 step losses */
  finalTrainLoss: number;
  /** dev loss (candidate cross-entropy, nats) of the base model and at the last evaluation (NaN: not measured, e.g. a run from before it was) */
  zeroShotDevLoss: number;
  finalDevLoss: number;
  /** mean wall time of a training step (evaluation excluded) */
  secondsPerStep: number;
  /** peak resident set size of the process (the last session of a resumed run) */
  peakRssMiB: number;
  /** 'none' or the policy reference */
  policy: string;
  /** what was trained: 'full' (every block) or the PEFT setting (lora-r8-a16-q_proj,v_proj, prefix-n5) */
  peft: string;
  /** parameters the estimator perturbed and updated */
  trainableParameters: number;
  policyDigest: string | null;
  lr: number;
  eps: number;
  batch: number;
  devN: number;
  testN: number;
  /** bytes of the trajectory file (the whole fine-tune, replayable onto the base weights) */
  trajectoryBytes: number | null;
  /** steps that were already complete when this session started (a resumed run) */
  resumedAt: number | null;
  backend: string;
  /** the forward engine: name, why, and for ort its threads, version and sessions created */
  engine: Record<string, unknown>;
  runDir: string;
  notes: string[];
}

export interface FinetuneOptions {
  /** the run directory */
  dir: string;
  /** continue the run in dir (its config.json is `config`) */
  resume?: boolean;
  /** stderr lines (the backend and engine notes, …): without it nothing but the progress line (unless quiet) reaches stderr */
  log?: (line: string) => void;
  /** no progress line */
  quiet?: boolean;
  /**
   * Stop the run: the step under way completes (its trajectory record and metrics line are written),
   * then the run directory is closed, resumable, and the promise rejects with a FinetuneAbortError.
   */
  signal?: AbortSignal;
  /** every line of metrics.jsonl as it is written (zeroshot, eval, step, test), with the run's total steps */
  onProgress?: (event: FinetuneEvent) => void;
  /** where a ZO step's losses come from (default: this process's forward passes); a distributed run's coordinator */
  losses?: StepLosses;
}

/**
 * The seam a distributed run plugs into: where each ZO step's losses come from. The run stays the
 * same loop, records and files; only lossValue changes (e.g. DeferredLosses computed by workers that
 * hold bit-identical copies of the weights).
 */
export interface StepLosses {
  /**
   * every loss it gives is a DeferredLoss computed by another process on its own copy of the weights:
   * the run's steps then move no weights (the record only); its weights follow the records where they
   * are read (a dev evaluation, a saved weight file, a policy's block statistics), replayed there
   */
  readonly remote?: boolean;
  /** the run is open: its config (config.json's) and trajectory header (new or resumed); before the first step of this session */
  open(run: { config: FinetuneConfig; header: TrajectoryHeader; dir: string; log: (line: string) => void }): Promise<void>;
  /** step s's lossValue, from this process's forward passes on the step's shards */
  lossValue(step: number, shards: StepShards): StepLossValue;
  /** the run ended (finished, failed or aborted); `finished` when every step is done */
  close(finished: boolean): Promise<void>;
}

/** A progress event: the metrics.jsonl line just written, and `steps`, the run's total. */
export type FinetuneEvent = MetricRecord & { steps: number };

/** What an aborted run rejects with (name 'AbortError', as fetch's); `dir` resumes it. */
export class FinetuneAbortError extends Error {
  override readonly name = 'AbortError';
  constructor(
    /** the run directory (undefined: aborted before it was made) */
    readonly dir: string | undefined,
    /** steps complete */
    readonly step: number,
    readonly steps: number,
  ) {
    super(
      dir === undefined
        ? 'finetune: aborted before the run directory was made; nothing to resume'
        : `finetune: aborted after step ${step} of ${steps}; ${dir} resumes (resumeFinetune(dir), or zotune finetune --resume ${dir})`,
    );
  }
}

interface Trainer {
  readonly kind: 'zo' | 'adam';
  /** one step on the step's minibatch: update the weights, return the figures of its metrics line */
  step(s: number, examples: Example[]): Promise<{ loss: number; projectedGrad?: number; forwardPasses: number }>;
  /** the model's weights are those after the last step taken (a trainer whose steps do not move them replays what it has not applied) */
  sync(): Promise<void>;
  dispose(): void;
}

/** A step's minibatch as the run splits it (config.shards; 1: the whole batch in one forward pass). */
export interface StepShards {
  /** how many shards (contiguous slices of the minibatch, in order) */
  count: number;
  /** this process's forward pass on shard j at the current weights: its loss sum and term count */
  local(j: number): Promise<ObjectivePartial>;
  /** the step's loss from every shard's partial, added in shard order */
  combine(partials: readonly ObjectivePartial[]): number;
}

/** The local evaluation: every shard in turn, combined (the bits a distributed run reproduces). */
const evaluateShards = (shards: StepShards): StepLossValue => async () => {
  const partials: ObjectivePartial[] = [];
  for (let j = 0; j < shards.count; j++) partials.push(await shards.local(j));
  return shards.combine(partials);
};

/** Shard j of n of a minibatch: examples ⌊jB/n⌋ … ⌊(j+1)B/n⌋ − 1. */
export function shardOf<T>(examples: readonly T[], j: number, n: number): T[] {
  return examples.slice(Math.floor((j * examples.length) / n), Math.floor(((j + 1) * examples.length) / n));
}

/**
 * Step s of a ZO run, update included: the one code path of a run and of a distributed run's
 * replicas. `lossValue` turns this process's forward pass into the step's (default: itself). With
 * `lag`, a step moves no weight (every loss must be deferred): its record waits in `lag` to be replayed.
 */
export function zoStepper(est: Estimator, model: Model, blocks: readonly Block[], inputs: RunInputs, config: FinetuneConfig, scale: Scale, last?: StepRecord, lag?: LaggingWeights) {
  let prev = last;
  const goldOnly = inputs.task.kind === 'generation-lm';
  const count = config.shards ?? 1;
  return async (s: number, examples: Example[], lossValue: (shards: StepShards) => StepLossValue = evaluateShards): Promise<StepRecord> => {
    const batch = inputs.collator.batch(examples, { goldOnly });
    const parts = count === 1 ? [batch] : Array.from({ length: count }, (_, j) => inputs.collator.batch(shardOf(examples, j, count), { goldOnly }));
    const record = await est.step({
      blocks,
      step: s,
      seed: stepSeed(config.seed, s),
      lossValue: lossValue({ count, local: (j) => objectivePartial(model, parts[j]), combine: (ps) => combineObjective(batch.kind, ps) }),
      scale: lag ? lag.scale(scale) : scale,
      prev,
      batch: batch.packed,
      moveWeights: !lag,
    });
    if (lag) lag.push(record);
    else await est.update(blocks, record);
    prev = record;
    return record;
  };
}

function zoTrainer(est: Estimator, model: Model, blocks: readonly Block[], inputs: RunInputs, config: FinetuneConfig, scale: Scale, header: TrajectoryHeader, trajectory: string, last: StepRecord | undefined, losses: StepLosses | undefined): Trainer {
  // every loss computed elsewhere (a distributed run's coordinator): the weights move only where read
  const lag = losses?.remote ? new LaggingWeights(blocks, header, last, parseThreads(config.threads, 'threads')) : undefined;
  const step = zoStepper(est, model, blocks, inputs, config, scale, last, lag);
  return {
    kind: 'zo',
    async step(s, examples) {
      const record = await step(s, examples, losses && ((shards) => losses.lossValue(s, shards)));
      // after the update: a kill between the two loses the step, and the resumed run redoes it
      appendRecord(trajectory, record);
      const m = stepMetric(record, 0, undefined, undefined);
      return { loss: m.loss as number, projectedGrad: record.projectedGrad, forwardPasses: record.forwardPasses };
    },
    sync: async () => lag?.catchUp(),
    dispose: () => est.dispose(),
  };
}

function adamTrainer(adam: Adam, model: Model, inputs: RunInputs, config: FinetuneConfig): Trainer {
  const tm = differentiable(model, 'adam');
  const perStep = passesPerStep(config);
  const goldOnly = inputs.task.kind === 'generation-lm';
  return {
    kind: 'adam',
    async step(s, examples) {
      const batch = inputs.collator.batch(examples, { goldOnly });
      const r = await adam.step({ step: s, lossTensor: () => inputs.objective(tm, batch) });
      return { loss: r.loss, forwardPasses: perStep };
    },
    sync: async () => {},
    dispose: () => adam.dispose(),
  };
}

/** What a curvature policy's run records in its trajectory header (run.curvature). */
interface RecordedCurvature {
  probe: CurvatureProbe;
  /** κ_j, the feature */
  kappa: number[];
  /** ĥ_j, per-parameter curvature */
  raw: number[];
  /** L(θ₀) on the probe batch */
  loss: number;
  /** forward passes the probe took (not part of the training budget) */
  forwardPasses: number;
}

/** Probe κ at the current (base) weights on `probe.examples` training examples drawn for the purpose. */
async function measureCurvature(probe: CurvatureProbe, config: FinetuneConfig, inputs: RunInputs, model: Model, blocks: readonly Block[], log: (line: string) => void): Promise<RecordedCurvature> {
  const goldOnly = inputs.task.kind === 'generation-lm';
  const examples = new BatchSchedule(inputs.train, Math.min(probe.examples, inputs.train.length), deriveSeed(config.seed, CURVATURE_SEED_DOMAIN)).batch(0);
  const batch = inputs.collator.batch(examples, { goldOnly });
  const loss = () => objectiveValue(model, batch);
  const m = await probeCurvature(blocks, loss, { ...probe, seed: deriveSeed(config.seed, CURVATURE_SEED_DOMAIN + 1) });
  log(`policy: curvature probe: ${m.forwardPasses} forward passes on ${examples.length} examples (not counted in the budget); κ from ${Math.min(...m.kappa).toFixed(2)} to ${Math.max(...m.kappa).toFixed(2)}`);
  return { probe, kappa: m.kappa, raw: m.raw, loss: m.loss, forwardPasses: m.forwardPasses };
}

/** κ from a trajectory header (a resumed curvature-policy run). */
function recordedCurvature(run: Record<string, unknown> | undefined, blocks: number, file: string): number[] {
  const k = (run?.curvature as { kappa?: unknown } | undefined)?.kappa;
  if (!Array.isArray(k) || k.length !== blocks || !k.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw new UserError(`${file}: the header holds no curvature features (run.curvature.kappa, ${blocks} numbers) for this curvature policy`, 2);
  return k as number[];
}

/** Minibatches per oracle measurement, probes of its curvature estimate (ALGORITHMS-style yardstick constants). */
export const ORACLE_BATCHES = 4;
export const ORACLE_PROBES = 4;
/** Keeps the oracle's minibatch stream apart from the training one. */
const ORACLE_DOMAIN = 0x6f726163; // 'orac'

/** What --policy oracle-* measures on: ORACLE_BATCHES training minibatches per refresh, a pure function of the step. */
function oracleInputs(config: FinetuneConfig, inputs: RunInputs, model: Model, log: (line: string) => void) {
  const schedule = new BatchSchedule(inputs.train, config.batch, deriveSeed(config.seed, ORACLE_DOMAIN));
  const goldOnly = inputs.task.kind === 'generation-lm';
  return {
    every: config.oracleEvery,
    probes: ORACLE_PROBES,
    delta: config.eps,
    seed: deriveSeed(config.seed, ORACLE_DOMAIN + 1),
    losses: (step: number) =>
      Array.from({ length: ORACLE_BATCHES }, (_, i) => {
        const tm = differentiable(model, `--policy ${config.policy}: an oracle`);
        const batch = inputs.collator.batch(schedule.batch(step * ORACLE_BATCHES + i), { goldOnly });
        return () => inputs.objective(tm, batch);
      }),
    onRefresh: (step: number, _h: unknown, sigma: number[]) =>
      log(`oracle: step ${step}: σ·nf from ${Math.min(...sigma).toPrecision(3)} to ${Math.max(...sigma).toPrecision(3)} over ${sigma.length} blocks`),
  };
}

/** What resolvePolicy needs from a run (and from its replicas, which must resolve the same policy). */
export function policyContext(config: FinetuneConfig, inputs: RunInputs, base: Model, trainable: Model['blocks'], baseDigest: () => string): PolicyContext {
  return {
    estimator: config.estimator,
    modelName: inputs.modelName,
    model: { family: base.family, blocks: trainable },
    ...(config.peft ? { peft: peftLabel(config.peft) } : {}),
    baseDigest,
  };
}

/** Run (or resume) a fine-tune; returns the summary it wrote. */
export async function runFinetune(configIn: FinetuneConfig, opts: FinetuneOptions): Promise<FinetuneSummary> {
  const log = opts.log ?? (() => {});
  const config = { ...configIn };
  if (opts.signal?.aborted) throw new FinetuneAbortError(undefined, 0, config.steps);
  if (opts.resume && config.estimator === 'adam')
    throw new UserError(`--resume ${opts.dir}: an adam run cannot be resumed (first-order updates are not recorded in a trajectory and the optimizer state is not saved); start it again`, 2);
  const estCfg = estimatorConfig(config);
  const inputs = loadInputs(config);
  if (config.peft?.method === 'lora') {
    // before any engine starts: a target that names no per-layer matrix of the checkpoint
    const names = [...inputs.resolved.checkpoint.tensors].filter(([n, t]) => t.shape.length === 2 && /\.\d+\./.test(n)).map(([n]) => n);
    const problem = loraTargetProblem(names, config.peft.targets);
    if (problem) throw new UserError(`--peft ${peftLabel(config.peft)}: ${problem}`, 2);
  }
  const backend = await initBackend(config.backend, { quiet: true });
  log(backendNote(backend).trimEnd());
  const engine = await runEngine(config, opts, isGpuBackend(backend));
  log(engineNote(engine).trimEnd());
  // the checkpoint is handed to the model (buildModel): from here on the blocks are the only copy of the weights
  const base = await buildModel(inputs, engine);
  memoryMark('model', { weightsBytes: 4 * base.blocks.reduce((n, b) => n + b.size, 0), weightsInJsArrays: base.blocks[0]?.data ? 1 : 0 });
  // checkpointDigest of the base weights, from the blocks: asked for by a learned policy (resolved
  // before any step) and by PEFT runs (whose base blocks never move), so always the base weights
  let digest: string | undefined;
  const baseDigest = () => (digest ??= modelDigest(base));
  // a PEFT run trains its adapter's blocks and computes through them; otherwise the model's own blocks
  let adapter: Adapter | undefined;
  try {
    adapter = config.peft && openAdapter(base, config.peft);
  } catch (e) {
    await base.dispose();
    throw e;
  }
  const model = adapter ? adapter.model : base;
  const trainable = adapter ? adapter.blocks : base.blocks;
  if (adapter) log(`peft: ${peftLabel(config.peft)}: ${trainable.length} adapter blocks, ${trainable.reduce((n, b) => n + b.size, 0)} trainable parameters (the base model's ${base.blocks.reduce((n, b) => n + b.size, 0)} are frozen)`);
  let runDir: RunDir | undefined;
  let trainer: Trainer | undefined;
  let lossesOpen = false;
  let finished = false;
  try {
    const policy = await resolvePolicy(config.policy, {
      ...policyContext(config, inputs, base, trainable, baseDigest),
      expectDigest: opts.resume ? config.policyDigest : undefined,
      oracle: oracleInputs(config, inputs, model, log),
    });
    log(policy.note);
    // the workers refuse these (openReplica), and a coordinator whose weights lag could not measure them
    if (opts.losses?.remote && (config.policy.startsWith('oracle-') || policy.curvature))
      throw new UserError(`--queue: --policy ${config.policy} measures ${policy.curvature ? 'curvature at the start of the run' : 'gradients'} on the run's weights; it cannot be distributed`, 2);
    config.policy = policy.policy;
    config.policyDigest = policy.digest;
    for (const n of inputs.notes) log(`note: ${n}`);

    runDir = createRunDir(opts.dir, config, { resume: opts.resume });
    const metrics = runDir.metrics;
    // every metrics line is also a progress event
    const record = (r: MetricRecord) => {
      metrics.append(r);
      opts.onProgress?.({ ...r, steps: config.steps });
    };
    if (!opts.resume) log(`finetune: run directory ${runDir.dir}`);
    const trajPath = runDir.path(WEIGHT_FILES.trajectory);
    const bestPath = runDir.path(WEIGHT_FILES.best);

    // ---- restore or start ----
    const run: OpenRun = { config, opts, log, inputs, engine, model, trainable, adapter, baseDigest, runDir, trajPath, bestPath };
    let state: RunState;
    let header: TrajectoryHeader | undefined;
    ({ state, trainer, header } = await restoreOrStart(run, policy, estCfg));
    if (opts.losses) {
      if (!header) throw new UserError(`--queue: an ${config.estimator} run cannot be distributed (only ZO steps are made of forward passes that workers share)`, 2);
      // closed in finally even if open fails part-way (its connections must not keep the process alive)
      lossesOpen = true;
      await opts.losses.open({ config, header, dir: runDir.dir, log });
    }
    const resumedAt = opts.resume ? state.step : null;
    if (opts.resume && state.best && weightsStep(bestPath) !== state.best.step)
      // only a resume that found no trajectory gets here (the replay above rebuilt the file otherwise): base weights
      writeRunWeights(bestPath, model, { model: inputs.modelName, step: state.best.step }, adapter);

    // ---- zero-shot figures (measured once, at the start) ----
    const clock0 = performance.now() - state.seconds * 1000;
    const seconds = () => (performance.now() - clock0) / 1000;
    if (state.zeroShotTestAcc === undefined) {
      const r = await evaluate(model, inputs.collator, inputs.test, { batchSize: config.evalBatch });
      state.zeroShotTestAcc = r.accuracy;
      log(`zero-shot: test accuracy of ${inputs.modelName} on ${inputs.task.name}: ${(100 * r.accuracy).toFixed(1)}% (${r.n} examples)`);
      record({ event: 'zeroshot', step: 0, forwardPasses: 0, testAcc: r.accuracy, n: r.n, seconds: seconds() });
      memoryMark('zero-shot');
    }

    const progress = new Progress({ total: config.steps, label: 'finetune', startStep: state.step, silent: opts.quiet });
    const devEval = async (step: number) => {
      await trainer!.sync();
      const r = await evaluate(model, inputs.collator, inputs.dev, { batchSize: config.evalBatch });
      const isBest = !state.best || r.accuracy > state.best.devAcc;
      // save before the metrics line: a line saying "best" always has its checkpoint on disk
      if (isBest) {
        writeRunWeights(bestPath, model, { model: inputs.modelName, step }, adapter);
        state.best = { devAcc: r.accuracy, step };
      }
      if (step === 0) state.zeroShotDevAcc = r.accuracy;
      record({ event: 'eval', step, forwardPasses: state.forwardPasses, devAcc: r.accuracy, devLoss: r.loss, n: r.n, best: isBest, seconds: seconds() });
      state.evaluated.add(step);
      progress.update({ step, devAcc: r.accuracy });
      memoryMark(`dev eval ${step}`);
    };
    const evalDue = (step: number) => step % config.evalEvery === 0 || step === config.steps;
    if (evalDue(state.step) && !state.evaluated.has(state.step)) await devEval(state.step);

    // ---- the loop ----
    const schedule = new BatchSchedule(inputs.train, config.batch, config.seed);
    const stopIfAborted = async () => {
      // an abort comes from an event (Ctrl-C: a SIGINT handler), which runs only when the event loop
      // does; a tfjs step resolves without ever yielding to it
      if (opts.signal) await new Promise((ok) => setImmediate(ok));
      if (!opts.signal?.aborted) return;
      progress.done(`(aborted after step ${state.step})`);
      throw new FinetuneAbortError(runDir!.dir, state.step, config.steps);
    };
    for (let s = state.step; s < config.steps; s++) {
      await stopIfAborted();
      const t0 = performance.now();
      const r = await trainer.step(s, schedule.batch(s));
      const stepSeconds = (performance.now() - t0) / 1000;
      state.forwardPasses += r.forwardPasses;
      state.step = s + 1;
      record({
        event: 'step',
        step: s + 1,
        forwardPasses: state.forwardPasses,
        loss: r.loss,
        ...(r.projectedGrad !== undefined ? { projectedGrad: r.projectedGrad } : {}),
        seconds: seconds(),
        stepSeconds,
      });
      progress.update({ step: s + 1, loss: r.loss });
      memoryMark(`step ${s + 1}`);
      if (evalDue(s + 1)) await devEval(s + 1);
    }
    await stopIfAborted();
    progress.done(`(${state.step - (resumedAt ?? 0)} steps in this session)`);
    await trainer.sync();
    if (config.saveFinal) writeRunWeights(runDir.path(WEIGHT_FILES.final), model, { model: inputs.modelName, step: state.step }, adapter);
    trainer.dispose();
    trainer = undefined;

    // ---- the best checkpoint on test ----
    // the live model takes the best weights in place (no second model, no second copy of the weights)
    const best = state.best ?? bestOf(runDir.metrics.records());
    if (!best) throw new Error(`${runDir.dir}: no dev evaluation recorded`);
    if (best.step !== state.step) loadRunWeights(bestPath, best.step, model, adapter);
    memoryMark('best loaded');
    log(`test: best checkpoint (step ${best.step}, dev ${(100 * best.devAcc).toFixed(1)}%) on ${inputs.test.length} examples`);
    const testAcc = (await evaluate(model, inputs.collator, inputs.test, { batchSize: config.evalBatch })).accuracy;
    memoryMark('test');
    record({ event: 'test', step: state.step, forwardPasses: state.forwardPasses, testAcc, bestStep: best.step, seconds: seconds() });

    const summary = summaryOf(run, state, best, testAcc, resumedAt, backend.name);
    runDir.writeSummary(summary);
    runDir.close();
    writeRunReport(runDir.dir);
    finished = true;
    return summary;
  } finally {
    if (lossesOpen) await opts.losses!.close(finished);
    trainer?.dispose();
    await model.dispose();
    runDir?.close();
  }
}

/** What an opened run holds: its inputs, engine, model (seen through its adapter) and directory. */
interface OpenRun {
  config: FinetuneConfig;
  opts: FinetuneOptions;
  log: (line: string) => void;
  inputs: RunInputs;
  engine: EngineChoice;
  model: Model;
  /** the blocks the estimator moves: the adapter's in a PEFT run, else the model's */
  trainable: readonly Block[];
  adapter?: Adapter;
  baseDigest: () => string;
  runDir: RunDir;
  trajPath: string;
  bestPath: string;
}

/**
 * A new run's trajectory (and a curvature policy's κ), or a resumed run's weights replayed from its
 * trajectory (rebuilding a best checkpoint the kill lost); the run state and the trainer of the next step.
 */
async function restoreOrStart(run: OpenRun, policy: ResolvedPolicy, estCfg: EstimatorConfig): Promise<{ state: RunState; trainer: Trainer; header?: TrajectoryHeader }> {
  const { config, opts, log, inputs, engine, model, trainable, adapter, baseDigest, runDir, trajPath, bestPath } = run;
  let scale = policy.scale;
  if (config.estimator === 'adam')
    return { state: { step: 0, forwardPasses: 0, evaluated: new Set(), seconds: 0 }, trainer: adamTrainer(createAdam(model.blocks, { lr: config.lr, weightDecay: config.weightDecay }), model, inputs, config) };
  let records: StepRecord[] = [];
  let header: TrajectoryHeader;
  // a resumed run whose best checkpoint is not on disk (the kill fell between a new best's save and
  // its metrics line, or the file is gone): the replay writes it when it passes the best step
  let rebuildBest: number | undefined;
  if (opts.resume && existsSync(trajPath)) {
    const saveBest = (step: number) => writeRunWeights(bestPath, model, { model: inputs.modelName, step }, adapter);
    ({ records, header } = await replayForResume(trajPath, trainable, {
      config: { seed: config.seed, estimator: config.estimator, steps: config.steps, peft: config.peft },
      base: { name: inputs.modelName, digest: baseDigest },
      engine: engine.name,
      loraApplied: adapter?.applied,
      threads: parseThreads(config.threads, 'threads'),
      log,
      onHeader: (header, recs) => {
        if (policy.curvature) scale = policy.curvature.scaleWith(recordedCurvature(header.run, trainable.length, trajPath));
        const best = restoreState(runDir.metrics, [...recs]).best;
        if (best && weightsStep(bestPath) !== best.step) rebuildBest = best.step;
        if (rebuildBest === 0) saveBest(0);
      },
      onStep: (r) => (r.step + 1 === rebuildBest ? saveBest(rebuildBest) : undefined),
    }));
  } else {
    // a curvature policy: κ at the base weights, once, recorded in the header (resume reads it back)
    let curvature: RecordedCurvature | undefined;
    if (policy.curvature) {
      curvature = await measureCurvature(policy.curvature.probe, config, inputs, model, trainable, log);
      scale = policy.curvature.scaleWith(curvature.kappa);
    }
    header = await runHeader({ config, inputs, engine, model, trainable, adapter, baseDigest }, estCfg, curvature);
    createTrajectory(trajPath, header, { overwrite: opts.resume });
  }
  const state = restoreState(runDir.metrics, records);
  // the arithmetic of the trajectory's format version: a resumed older run keeps its own
  const est = createEstimator(estCfg, { threads: parseThreads(config.threads, 'threads'), trajectoryVersion: header.version });
  return { state, header, trainer: zoTrainer(est, model, trainable, inputs, config, scale, header, trajPath, records.at(-1), opts.losses) };
}

/**
 * The trajectory header of a new ZO run on the base weights (a curvature policy's κ in it): what a
 * distributed run's workers compute on their own copy and compare with the coordinator's.
 */
export async function runHeader(
  run: Pick<OpenRun, 'config' | 'inputs' | 'engine' | 'model' | 'trainable' | 'adapter' | 'baseDigest'>,
  estCfg: EstimatorConfig,
  curvature?: RecordedCurvature,
): Promise<TrajectoryHeader> {
  const { config, inputs, engine, model, trainable, adapter, baseDigest } = run;
  return trajectoryHeader(trainable, {
    runSeed: config.seed,
    family: model.family,
    estimator: estCfg,
    // a PEFT run: its setting (with the adapter init seed) and the base weights the adapters apply to;
    // LoRA: how its losses met the adapters (merged weights, or the ORT graph's branch: resume notes a change)
    run: {
      model: inputs.modelName, task: inputs.task.name, batch: config.batch,
      ...(config.peft ? { peft: { ...config.peft, baseDigest: baseDigest() } } : {}),
      ...(adapter && config.peft?.method === 'lora' ? { loraApplied: adapter.applied } : {}),
      ...(curvature ? { curvature } : {}),
    },
    engine: engine.name,
  });
}

/** summary.json of a finished run. */
function summaryOf(run: OpenRun, state: RunState, best: Best, testAcc: number, resumedAt: number | null, backend: string): FinetuneSummary {
  const { config, inputs, trainable, engine, runDir, trajPath } = run;
  const records = runDir.metrics.records();
  return {
    task: inputs.task.name,
    estimator: config.estimator,
    model: inputs.modelName,
    seed: config.seed,
    steps: state.step,
    forwardPasses: state.forwardPasses,
    bestDevAcc: best.devAcc,
    bestStep: best.step,
    testAcc,
    // measured at the start of the session that lacked it
    zeroShotTestAcc: state.zeroShotTestAcc!,
    zeroShotDevAcc: state.zeroShotDevAcc ?? NaN,
    finalTrainLoss: finalTrainLoss(records),
    ...devLosses(records),
    secondsPerStep: secondsPerStep(records),
    peakRssMiB: peakRssMiB(),
    policy: config.policy,
    policyDigest: config.policyDigest,
    peft: peftLabel(config.peft),
    trainableParameters: trainable.reduce((n, b) => n + b.size, 0),
    lr: config.lr,
    eps: config.eps,
    batch: config.batch,
    devN: inputs.dev.length,
    testN: inputs.test.length,
    trajectoryBytes: config.estimator === 'adam' ? null : statSync(trajPath).size,
    resumedAt,
    backend,
    engine: engineReport(engine),
    runDir: runDir.dir,
    notes: inputs.notes,
  };
}

/**
 * The run's engine: adam needs gradients (tfjs); a ZO run takes ORT under auto. A resumed run under
 * auto keeps the engine its trajectory records, so resuming stays bit-identical.
 */
async function runEngine(config: FinetuneConfig, opts: FinetuneOptions, gpu: boolean): Promise<EngineChoice> {
  const pref = config.engine ?? 'auto';
  const trajPath = join(opts.dir, WEIGHT_FILES.trajectory);
  try {
    // adam and the oracle yardsticks differentiate the loss: tfjs
    const needs = config.estimator === 'adam' || config.policy.startsWith('oracle-') ? 'gradients' : 'forward';
    const how = { threads: parseThreads(config.threads, 'threads'), gpu };
    if (opts.resume && pref === 'auto' && config.estimator !== 'adam' && existsSync(trajPath)) {
      // the engine the trajectory was recorded on; the same choice (and reason) as the uninterrupted run when auto still makes it
      const recorded = resumeTrajectory(trajPath).header.engine ?? 'tfjs';
      const auto = await chooseEngine('auto', needs, how);
      return auto.name === recorded ? auto : await chooseEngine(recorded, needs, how);
    }
    return await chooseEngine(pref, needs, how);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}
