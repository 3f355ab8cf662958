// The meta-training run as a library (what `zotune meta-train` does, publishing aside): model + tasks
// → MetaTrainer → run directory (config.json, metrics.jsonl, checkpoint.zmeta, summary.json) → policy
// artifact (policy.zpol). A kill loses at most the steps since the last checkpoint, an AbortSignal
// none (it checkpoints first): resumeMetaTrain(dir) reloads the checkpoint and continues with the same
// plan, so the result equals an uninterrupted run's.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodePolicyArtifact, policyDigest, writePolicyArtifactFile } from '@zotune/artifacts';
import { resolveDataDir } from '@zotune/data';
import { checkpointDigest, createTfjsModel, differentiable, resolveModel, type Checkpoint, type Model, type ResolvedModel } from '@zotune/models';
import { createAdapter, peftConfigSchema, peftLabel, type Adapter, type PeftConfig } from '@zotune/peft';
import { CURVATURE_SEED_DOMAIN, DEFAULT_CURVATURE_PROBE, modelFingerprint, policyToArtifact, probeCurvature, type CurvatureMeasurement } from '@zotune/policy';
import { cliText, createRunDir, peakRssMiB, Progress, readMetrics, readRunConfig, UserError, type MetricRecord } from '@zotune/report';
import { objectiveValue, resolveTask } from '@zotune/tasks';
import { deriveSeed, initBackend, type BackendName } from '@zotune/tensor';
import { z } from 'zod';
import { readMetaCheckpoint, runIdentity, writeMetaCheckpoint } from './checkpoint';
import { parseMetaConfig, recordedMetaConfig, resolveMetaGrad, type MetaConfig, type MetaConfigInput, type MetaGrad } from './config';
import { lossAt } from './meta-step';
import { summarizeMetaRun } from './summary';
import { SpsaMetaTrainer } from './spsa-trainer';
import { loadMetaTask, MetaTrainer, type MetaStepLog, type MetaTask, type MetaTraining } from './trainer';

export const CHECKPOINT_FILE = 'checkpoint.zmeta';
export const POLICY_FILE = 'policy.zpol';

/** What fixes a run (config.json of the run directory); a resumed run reads it back. */
export const runConfigSchema = z.object({
  /** always 'zotune-meta-train' */
  kind: z.literal('zotune-meta-train'),
  /** the MODEL argument as given */
  model: z.string().min(1),
  /** the model's short name (the MODEL part of registry references) */
  modelName: z.string().min(1),
  /** checkpointDigest of the base weights (a resumed run must find the same weights) */
  modelDigest: z.string().regex(/^[0-9a-f]{64}$/),
  /** the --tasks list as given */
  tasks: z.array(z.string().min(1)).min(1),
  /** meta-training hyper-parameters */
  meta: z.record(z.string(), z.unknown()),
  /** artifact name (also the NAME of a bare --publish) */
  name: z.string().min(1),
  /** artifact description */
  description: z.string().optional(),
  /** PEFT: the policy is for these adapter blocks (meta-trained over them, the base weights frozen) */
  peft: peftConfigSchema.optional(),
});
export type RunConfig = z.infer<typeof runConfigSchema>;

/** A new meta-training run: what `zotune meta-train`'s flags say. */
export interface MetaTrainSpec {
  /** a name under the data dir's models/, a llama2.c .bin or a Hugging Face directory (default stories260K) */
  model?: string;
  /** the tasks to meta-train on */
  tasks: string[];
  /**
   * the hyper-parameters over ALGORITHMS.md §5's reference settings (parseMetaConfig); a function gets
   * the meta-gradient chosen (metaGrad) and gives them for it (the command checks its SPSA flags there)
   */
  meta?: MetaConfigInput | ((metaGrad: MetaGrad) => MetaConfigInput);
  /** exact, spsa, or auto (default: by the model's parameter count, resolveMetaGrad); overrides meta.metaGrad */
  metaGrad?: string;
  /** the policy's name (default "default") */
  name?: string;
  description?: string;
  /**
   * meta-train over a PEFT adapter's blocks (e.g. @zotune/peft's peftConfigOf({ method: 'lora' }, seed)):
   * the policy is then for those blocks, as `zotune finetune --peft … --policy REF` uses it; spsa only
   */
  peft?: PeftConfig;
}

export interface MetaTrainResult {
  /** path of the policy artifact */
  artifact: string;
  /** sha256:<hex> of the artifact file */
  digest: string;
  runDir: string;
  model: string;
  tasks: string[];
  /** meta steps completed (all processes of the run) */
  steps: number;
  /** steps done by this process (fewer after --resume) */
  stepsThisProcess: number;
  /** training seconds over all processes of the run */
  seconds: number;
  secondsPerStep: number;
  peakRssMiB: number;
  /** the tfjs backend (exact) or the forward engine (spsa) */
  backend: string;
  /** exact (tfjs backward) or spsa (forward passes only, on the model opts.openModel gives) */
  metaGrad: MetaGrad;
  resumedFrom?: number;
  config: MetaConfig;
  metrics: Record<string, number>;
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '-');

function userError<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what}: ${cliText(e)}`, 2);
  }
}

export interface MetaTrainOptions {
  /** the run directory (default runs/meta-train-MODEL-TIME) */
  dir?: string;
  /** tfjs backend (default auto) */
  backend?: BackendName;
  /** one-line messages (the command sends them to stderr) */
  log?: (line: string) => void;
  /** no progress line on stderr (default true; the command shows it) */
  quiet?: boolean;
  /**
   * Stop the run: the step under way completes, a checkpoint is written, and the promise rejects
   * with a MetaTrainAbortError; resumeMetaTrain(dir) continues it to the uninterrupted run's policy.
   */
  signal?: AbortSignal;
  /** every line of metrics.jsonl as it is written, with the run's total steps */
  onProgress?: (event: MetricRecord & { steps: number }) => void;
  /**
   * opens the model the forward-only meta-gradient (metaGrad spsa) runs on, e.g. an ORT model (the
   * command: @zotune/engine's openModel); without it a spsa run is refused
   */
  openModel?: (checkpoint: Checkpoint) => Promise<Model>;
  /** called once the run is checked and before any work, with what it will produce (the command opens its registries here) */
  beforeTraining?: (run: { modelName: string; name: string; dir: string }) => void;
}

/** What an aborted meta-training rejects with (name 'AbortError'); `dir` resumes it. */
export class MetaTrainAbortError extends Error {
  override readonly name = 'AbortError';
  constructor(
    readonly dir: string,
    readonly step: number,
    readonly steps: number,
  ) {
    super(`meta-train: aborted after step ${step} of ${steps} (checkpointed); ${dir} resumes (resumeMetaTrain(dir), or zotune meta-train --resume ${dir})`);
  }
}

/** Meta-train a policy as `zotune meta-train` does (publishing aside); resolves to its summary. */
export async function metaTrain(spec: MetaTrainSpec, opts: MetaTrainOptions = {}): Promise<MetaTrainResult> {
  const dataDir = resolveDataDir();
  if (spec.tasks.length === 0) throw new UserError('--tasks: expected at least one task', 2);
  const modelArg = spec.model ?? 'stories260K';
  const resolved = userError('--model', () => resolveModel(modelArg, dataDir));
  let parameters = 0;
  for (const t of resolved.checkpoint.tensors.values()) parameters += t.data.length;
  let meta: Partial<MetaConfig>;
  try {
    const metaGrad = resolveMetaGrad(spec.metaGrad ?? (typeof spec.meta === 'object' ? spec.meta.metaGrad : undefined), parameters, spec.peft !== undefined);
    const input = typeof spec.meta === 'function' ? spec.meta(metaGrad) : spec.meta;
    meta = recordedMetaConfig(parseMetaConfig({ ...input, metaGrad }, 'meta-train'));
  } catch (e) {
    throw new UserError(cliText(e), 2);
  }
  const runConfig: RunConfig = {
    kind: 'zotune-meta-train', model: modelArg, modelName: resolved.name, modelDigest: checkpointDigest(resolved.checkpoint), tasks: spec.tasks, meta, name: spec.name ?? 'default',
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    ...(spec.peft ? { peft: spec.peft } : {}),
  };
  const dir = resolve(opts.dir ?? join('runs', `meta-train-${resolved.name}-${stamp()}`));
  return runMetaTrain(runConfig, resolved, dir, false, dataDir, opts);
}

/** Continue a killed or aborted meta-training from its last checkpoint. */
export async function resumeMetaTrain(dirArg: string, opts: Omit<MetaTrainOptions, 'dir'> = {}): Promise<MetaTrainResult> {
  const dataDir = resolveDataDir();
  const dir = resolve(dirArg);
  const raw = userError(`--resume ${dirArg}`, () => readRunConfig(dir));
  const parsed = runConfigSchema.safeParse(raw);
  if (!parsed.success) throw new UserError(`--resume ${dirArg}: config.json is not a meta-training run (${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message})`, 2);
  const runConfig = parsed.data;
  const resolved = userError('model', () => resolveModel(runConfig.model, dataDir));
  const digest = checkpointDigest(resolved.checkpoint);
  if (digest !== runConfig.modelDigest)
    throw new UserError(`--resume ${dirArg}: the weights of ${runConfig.model} changed since the run started (sha256 ${digest.slice(0, 12)}…, the run has ${runConfig.modelDigest.slice(0, 12)}…)`, 2);
  return runMetaTrain(runConfig, resolved, dir, dirArg, dataDir, opts);
}

/** The run itself, new (resumeArg false) or resumed (resumeArg: the directory as given). */
async function runMetaTrain(runConfig: RunConfig, resolved: ResolvedModel, dir: string, resumeArg: string | false, dataDir: string, opts: MetaTrainOptions): Promise<MetaTrainResult> {
  const log = opts.log ?? (() => {});
  const resuming = resumeArg !== false;
  const config = userError(`${dir}/config.json: meta`, () => parseMetaConfig(runConfig.meta));
  opts.beforeTraining?.({ modelName: runConfig.modelName, name: runConfig.name, dir });

  // tasks: their MeZO train split (optionally capped), tokenised by the model's tokenizer
  const maxSeqLen = resolved.checkpoint.config.maxSeqLen;
  const notes: string[] = [];
  const metaTasks: MetaTask[] = runConfig.tasks.map((t) => {
    userError('--tasks', () => resolveTask(t));
    const { task, notes: n } = userError(`--tasks ${t}`, () =>
      loadMetaTask(t, { dataDir, dataSeed: config.dataSeed, tokenizer: resolved.tokenizer, maxSeqLen, trainExamples: config.trainExamples }));
    notes.push(...n);
    if (task.train.length === 0) throw new UserError(`--tasks ${t}: task ${task.name} has no training examples`, 2);
    return task;
  });

  const backend = await initBackend(opts.backend ?? 'auto', { quiet: true });
  // the forward-only meta-gradient runs on the model opts.openModel opens (ORT): its weights never enter tfjs
  const spsa = config.metaGrad === 'spsa';
  if (spsa && !opts.openModel) throw new UserError('--meta-grad spsa: needs a forward engine (MetaTrainOptions.openModel)', 2);
  const peft = runConfig.peft;
  if (peft && !spsa) throw new UserError(`--peft ${peft.method}: only with --meta-grad spsa (the exact meta-gradient differentiates the model's own blocks)`, 2);
  const base: Model = spsa ? await opts.openModel!(resolved.checkpoint) : createTfjsModel(resolved.checkpoint);
  let adapter: Adapter | undefined;
  try {
    adapter = peft && createAdapter(base, peft);
  } catch (e) {
    await base.dispose();
    throw new UserError(`--peft ${peftLabel(peft)}: ${cliText(e)}`, 2);
  }
  // with PEFT, what the trainer perturbs, the policy covers and the fingerprint names are the adapter's
  // blocks; the forwards go through the adapter (adapter.model: ORT reads A and B in its graph, tfjs has them merged first)
  const model: Model = adapter ? withBlocks(adapter.model, adapter.blocks) : base;
  const engineName = spsa ? model.engine : backend.name;
  const blockNames = model.blocks.map((b) => b.name);
  // variants at their reference value (lookaheadSteps 1, features base) are left out of the identity,
  // so a run checkpointed before the flag existed still resumes (its config.json has no such field)
  const identity: Partial<MetaConfig> = recordedMetaConfig(config);
  if (identity.lookaheadSteps === 1) delete identity.lookaheadSteps;
  if (identity.features === 'base') delete identity.features;
  // the adapters' settings and init seed are part of the run (block names alone do not give the seed)
  const runId = runIdentity({ modelDigest: runConfig.modelDigest, tasks: metaTasks.map((t) => t.name), config: peft ? { ...identity, peft } : identity, blocks: blockNames });
  const run = userError('--out', () => createRunDir(dir, runConfig, { resume: resuming }));
  // the curvature feature set: each task's κ at the pretrained weights (a resumed run measures the same
  // bits again: the same weights, batch and noise), before the trainer copies them
  const curvature = config.features === 'curvature' ? await taskCurvatures(model, spsa, metaTasks, config.seed, log) : undefined;
  const kappa = curvature ? { curvature: curvature.map((c) => c.kappa) } : {};
  const trainer: MetaTraining = spsa
    ? new SpsaMetaTrainer({ model, tasks: metaTasks, config, ...kappa })
    : new MetaTrainer({ model: differentiable(model, 'meta-train --meta-grad exact'), tasks: metaTasks, config, ...kappa });
  const checkpointPath = run.path(CHECKPOINT_FILE);
  let priorSeconds = 0;
  let resumedFrom: number | undefined;
  try {
    if (resuming && existsSync(checkpointPath)) {
      const saved = readMetaCheckpoint(checkpointPath);
      if (saved.runId !== runId) throw new UserError(`--resume ${resumeArg}: ${CHECKPOINT_FILE} belongs to another run (model, tasks or config differ)`, 2);
      trainer.load(saved.state);
      priorSeconds = saved.seconds;
      resumedFrom = saved.state.step;
    }
    // steps after the checkpoint were lost with the process: their metrics go too
    if (resuming) run.metrics.truncateAfter(trainer.step);
    const plan = trainer.plan;
    // a run killed after its artifact was written (while publishing) keeps that artifact, so a tag
    // already published is not refused for different bytes (a new createdAt)
    const finishedBefore = trainer.finished && existsSync(run.path(POLICY_FILE));
    log(
      `meta-train: ${resolved.name} on ${metaTasks.map((t) => `${t.name} (${t.train.length})`).join(', ')}: ${plan.totalSteps} steps ` +
        `(${plan.stepsPerEpoch}/epoch, reset every ${plan.periodSteps}), batch ${config.batch}, ` +
        (spsa ? `meta-gradient spsa (K ${config.spsaDirections}, ${config.spsaSpace} space, c ${config.spsaScale}; engine ${engineName})` : `meta-gradient exact, backend ${backend.name}`) +
        (resumedFrom !== undefined ? `, resuming at step ${resumedFrom}` : '') + `; run ${run.dir}`,
    );
    for (const n of notes) log(`  note: ${n}`);

    const progress = new Progress({ total: plan.totalSteps, label: 'meta-train', startStep: trainer.step, silent: opts.quiet ?? true });
    const t0 = performance.now();
    const elapsed = () => priorSeconds + (performance.now() - t0) / 1000;
    const startStep = trainer.step;
    const save = async () => writeMetaCheckpoint(checkpointPath, await trainer.state(), blockNames, runId, elapsed());
    while (!trainer.finished) {
      // an abort comes from an event (Ctrl-C: a SIGINT handler), which runs only when the event loop
      // does; a tfjs step resolves without ever yielding to it
      if (opts.signal) await new Promise((ok) => setImmediate(ok));
      if (opts.signal?.aborted) {
        await save();
        progress.done(`(aborted after step ${trainer.step})`);
        throw new MetaTrainAbortError(run.dir, trainer.step, plan.totalSteps);
      }
      const s = await trainer.runStep();
      const line = metricRecord(s, elapsed());
      run.metrics.append(line);
      opts.onProgress?.({ ...line, steps: plan.totalSteps });
      progress.update({ step: s.step, loss: s.metaLoss });
      if (config.checkpointEvery > 0 && s.step % config.checkpointEvery === 0 && !trainer.finished) await save();
    }
    await save();
    const seconds = elapsed();
    progress.done(`${seconds.toFixed(1)} s`);

    // the artifact: final policy + fingerprint + what produced it
    const records = readMetrics(run.metrics.file)
      .filter((r) => r.event === 'step')
      .map((r) => ({
        metaLoss: num(r.metaLoss), loss: num(r.thetaLoss), meanSigma: num(r.meanSigma), minEffSigma: num(r.minEffSigma), maxEffSigma: num(r.maxEffSigma),
        forwardPasses: num(r.stepForwardPasses), backwardPasses: num(r.stepBackwardPasses),
      }));
    const stepsThisProcess = trainer.step - startStep;
    const rss = peakRssMiB();
    const moved = await trainer.omegaMoved();
    const metrics: Record<string, number> = {
      ...summarizeMetaRun(records),
      // ‖ω − ω₀‖/‖ω₀‖ from the starting networks: does meta-training move the policy at all?
      omegaMoved: round(moved.all, 6),
      omegaMovedOutputLayer: round(Math.sqrt((moved.w2 ** 2 + moved.b2 ** 2) / 2), 6),
      seconds: round(seconds, 2),
      secondsPerStep: round(seconds / Math.max(1, trainer.step), 4),
      peakRssMiB: round(rss, 1),
    };
    const artifactPath = run.path(POLICY_FILE);
    let digest: string;
    if (finishedBefore) {
      const bytes = readFileSync(artifactPath);
      decodePolicyArtifact(bytes, artifactPath);
      digest = policyDigest(bytes);
    } else {
      const fingerprint = modelFingerprint(model, runConfig.modelDigest, runConfig.modelName);
      const artifact = policyToArtifact(await trainer.currentPolicy(), {
        fingerprint,
        ...(curvature ? { probe: DEFAULT_CURVATURE_PROBE } : {}),
        training: {
          config: {
            ...recordedMetaConfig(config), model: runConfig.modelName, backend: engineName, ...(peft ? { peft: peftLabel(peft) } : {}), stepsPerEpoch: plan.stepsPerEpoch, trainExamplesPerTask: metaTasks.map((t) => t.train.length),
            ...(curvature ? { curvatureKappa: Object.fromEntries(metaTasks.map((t, i) => [t.name, curvature[i].kappa.map((k) => round(k, 4))])) } : {}),
          },
          tasks: metaTasks.map((t) => t.name),
          metrics,
        },
        name: runConfig.name,
        description: runConfig.description ?? `PertNN meta-trained on ${metaTasks.map((t) => t.name).join(', ')} (${trainer.step} meta steps, zotune meta-train)`,
      });
      digest = writePolicyArtifactFile(artifactPath, artifact).digest;
    }
    const result: MetaTrainResult = {
      artifact: artifactPath,
      digest,
      runDir: run.dir,
      model: runConfig.modelName,
      tasks: metaTasks.map((t) => t.name),
      steps: trainer.step,
      stepsThisProcess,
      seconds: round(seconds, 2),
      secondsPerStep: metrics.secondsPerStep,
      peakRssMiB: round(rss, 1),
      backend: engineName,
      metaGrad: config.metaGrad,
      ...(resumedFrom !== undefined ? { resumedFrom } : {}),
      config,
      metrics,
    };
    run.writeSummary(result as unknown as Record<string, unknown>);
    return result;
  } finally {
    run.close();
    trainer.dispose();
    adapter?.dispose();
    await base.dispose();
  }
}

/**
 * The model (a PEFT adapter's view of the base) with `blocks` replaced: every other member, forwards
 * included, is the model's own, bound to it (so its forwards still read the base blocks).
 */
function withBlocks(model: Model, blocks: Model['blocks']): Model {
  return new Proxy(model, { get: (target, prop) => (prop === 'blocks' ? blocks : Reflect.get(target, prop)) });
}

/** κ of every task at the model's current (pretrained) weights, on the task's first `examples` training examples. */
async function taskCurvatures(model: Model, spsa: boolean, tasks: readonly MetaTask[], seed: number, log: (line: string) => void): Promise<CurvatureMeasurement[]> {
  const probe = DEFAULT_CURVATURE_PROBE;
  const out: CurvatureMeasurement[] = [];
  for (const [i, t] of tasks.entries()) {
    const batch = t.collator.batch(t.train.slice(0, probe.examples), { goldOnly: t.goldOnly });
    // exact: the tfjs loss as before; spsa: the host objective of the forward engine
    const loss = spsa ? () => objectiveValue(model, batch) : () => lossAt(differentiable(model, 'meta-train'), t.objective, batch);
    const m = await probeCurvature(model.blocks, loss, { ...probe, seed: deriveSeed(seed, CURVATURE_SEED_DOMAIN, i) });
    log(`meta-train: ${t.name}: curvature probe (${m.forwardPasses} forward passes): κ from ${Math.min(...m.kappa).toFixed(2)} to ${Math.max(...m.kappa).toFixed(2)} over ${m.kappa.length} blocks`);
    out.push(m);
  }
  return out;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

/** One metrics.jsonl line: the generic fields reports plot (loss = the meta-loss, forward passes so far) and the step's figures. */
function metricRecord(s: MetaStepLog, seconds: number): MetricRecord {
  return {
    event: 'step',
    step: s.step,
    forwardPasses: s.step * s.forwardPasses,
    loss: s.metaLoss,
    seconds: round(seconds, 3),
    epoch: s.epoch,
    task: s.task,
    reset: s.reset,
    metaLoss: s.metaLoss,
    thetaLoss: s.loss,
    lossPlus: s.lossPlus,
    lossMinus: s.lossMinus,
    projectedGrad: s.projectedGrad,
    meanSigma: s.meanSigma,
    minEffSigma: s.minEffSigma,
    maxEffSigma: s.maxEffSigma,
    nf: s.nf,
    policyGradNorm: s.policyGradNorm,
    gradNorm: s.gradNorm,
    lr: s.lr,
    metaLr: s.metaLr,
    stepForwardPasses: s.forwardPasses,
    stepBackwardPasses: s.backwardPasses,
  };
}

