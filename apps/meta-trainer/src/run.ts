// `zotune meta-train`: model + tasks → MetaTrainer → run directory (config.json, metrics.jsonl,
// checkpoint.zmeta, summary.json) → policy artifact (policy.zpol) → optional publish into registries.
// A kill loses at most the steps since the last checkpoint: --resume DIR reloads it and continues
// with the same plan, so the result equals an uninterrupted run's.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodePolicyArtifact, policyDigest, writePolicyArtifactFile } from '@zotune/artifacts';
import { resolveDataDir } from '@zotune/data';
import { lossAt, MetaTrainer, parseMetaConfig, readMetaCheckpoint, runIdentity, summarizeMetaRun, writeMetaCheckpoint, type MetaConfig, type MetaStepLog, type MetaTask } from '@zotune/meta';
import { checkpointDigest, createTfjsModel, resolveModel, type TensorModel, type ResolvedModel } from '@zotune/models';
import { CURVATURE_SEED_DOMAIN, DEFAULT_CURVATURE_PROBE, modelFingerprint, policyToArtifact, probeCurvature, type CurvatureMeasurement } from '@zotune/policy';
import { formatRef } from '@zotune/registry';
import { cliText, createRunDir, peakRssMiB, Progress, readMetrics, readRunConfig, RUN_FILES, UserError, type MetricRecord } from '@zotune/report';
import { Collator, objectiveFor, resolveTask } from '@zotune/tasks';
import { deriveSeed, initBackend, parseBackend } from '@zotune/tensor';
import {
  checkResumeFlags, metaConfigFromFlags, parseTaskList, publishRefs, registryOf, runConfigSchema, type MetaTrainFlags, type RunConfig,
} from './options';

export const CHECKPOINT_FILE = 'checkpoint.zmeta';
export const POLICY_FILE = 'policy.zpol';

export interface PublishedRef {
  ref: string;
  digest: string;
  status: string;
  registry: string;
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
  backend: string;
  resumedFrom?: number;
  published: PublishedRef[];
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

export interface RunOptions {
  /** one-line messages (the command sends them to stderr) */
  log?: (line: string) => void;
  /** no progress line on stderr */
  quiet?: boolean;
}

/** Run (or resume) a meta-training as the command does. */
export async function runMetaTrain(flags: MetaTrainFlags, opts: RunOptions = {}): Promise<MetaTrainResult> {
  const log = opts.log ?? (() => {});
  const backendName = userError(flags.backend ? '--backend' : 'ZOTUNE_BACKEND', () => parseBackend(flags.backend ?? process.env.ZOTUNE_BACKEND, flags.backend ? '--backend' : 'ZOTUNE_BACKEND'));
  const dataDir = resolveDataDir();
  let runConfig: RunConfig;
  let resolved: ResolvedModel;
  let dir: string;
  const resuming = flags.resume !== undefined;
  if (resuming) {
    checkResumeFlags(flags);
    dir = resolve(flags.resume!);
    const raw = userError(`--resume ${flags.resume}`, () => readRunConfig(dir));
    const parsed = runConfigSchema.safeParse(raw);
    if (!parsed.success) throw new UserError(`--resume ${flags.resume}: config.json is not a meta-training run (${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message})`, 2);
    runConfig = parsed.data;
    resolved = userError('model', () => resolveModel(runConfig.model, dataDir));
    const digest = checkpointDigest(resolved.checkpoint);
    if (digest !== runConfig.modelDigest)
      throw new UserError(`--resume ${flags.resume}: the weights of ${runConfig.model} changed since the run started (sha256 ${digest.slice(0, 12)}…, the run has ${runConfig.modelDigest.slice(0, 12)}…)`, 2);
  } else {
    const meta = metaConfigFromFlags(flags);
    const tasks = parseTaskList(flags.tasks);
    const modelArg = flags.model ?? 'stories260K';
    resolved = userError('--model', () => resolveModel(modelArg, dataDir));
    const name = flags.name ?? 'default';
    runConfig = {
      kind: 'zotune-meta-train', model: modelArg, modelName: resolved.name, modelDigest: checkpointDigest(resolved.checkpoint), tasks, meta, name,
      ...(flags.description !== undefined ? { description: flags.description } : {}),
    };
    dir = resolve(flags.out ?? join('runs', `meta-train-${resolved.name}-${stamp()}`));
  }
  const config = userError(`${dir}/config.json: meta`, () => parseMetaConfig(runConfig.meta));
  const refs = publishRefs(flags.publish ?? [], runConfig.modelName, runConfig.name, flags.tag);
  // open the registries before hours of training, so a bad URL or token file fails now
  const registry = refs.length ? registryOf(flags.registry, flags.tokenFile) : undefined;

  // tasks: their MeZO train split (optionally capped), tokenised by the model's tokenizer
  const maxSeqLen = resolved.checkpoint.config.maxSeqLen;
  const notes: string[] = [];
  const metaTasks: MetaTask[] = runConfig.tasks.map((t) => {
    const task = userError('--tasks', () => resolveTask(t));
    const splits = userError(`--tasks ${t}`, () => task.splits(dataDir, config.dataSeed));
    notes.push(...splits.notes.map((n) => `${task.name}: ${n}`));
    const train = config.trainExamples > 0 ? splits.train.slice(0, config.trainExamples) : splits.train;
    if (train.length === 0) throw new UserError(`--tasks ${t}: task ${task.name} has no training examples`, 2);
    return { name: task.name, train, collator: new Collator(task, resolved.tokenizer, maxSeqLen), objective: objectiveFor(task.kind), goldOnly: task.kind === 'generation-lm' };
  });

  const backend = await initBackend(backendName, { quiet: true });
  const model = createTfjsModel(resolved.checkpoint);
  const blockNames = model.blocks.map((b) => b.name);
  // variants at their reference value (lookaheadSteps 1, features base) are left out of the identity,
  // so a run checkpointed before the flag existed still resumes (its config.json has no such field)
  const identity: Partial<MetaConfig> = { ...config };
  if (identity.lookaheadSteps === 1) delete identity.lookaheadSteps;
  if (identity.features === 'base') delete identity.features;
  const runId = runIdentity({ modelDigest: runConfig.modelDigest, tasks: metaTasks.map((t) => t.name), config: identity, blocks: blockNames });
  const run = userError('--out', () => createRunDir(dir, runConfig, { resume: resuming }));
  // the curvature feature set: each task's κ at the pretrained weights (a resumed run measures the same
  // bits again: the same weights, batch and noise), before the trainer copies them
  const curvature = config.features === 'curvature' ? await taskCurvatures(model, metaTasks, config.seed, log) : undefined;
  const trainer = new MetaTrainer({ model, tasks: metaTasks, config, ...(curvature ? { curvature: curvature.map((c) => c.kappa) } : {}) });
  const checkpointPath = run.path(CHECKPOINT_FILE);
  let priorSeconds = 0;
  let resumedFrom: number | undefined;
  try {
    if (resuming && existsSync(checkpointPath)) {
      const saved = readMetaCheckpoint(checkpointPath);
      if (saved.runId !== runId) throw new UserError(`--resume ${flags.resume}: ${CHECKPOINT_FILE} belongs to another run (model, tasks or config differ)`, 2);
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
        `(${plan.stepsPerEpoch}/epoch, reset every ${plan.periodSteps}), batch ${config.batch}, backend ${backend.name}` +
        (resumedFrom !== undefined ? `, resuming at step ${resumedFrom}` : '') + `; run ${run.dir}`,
    );
    for (const n of notes) log(`  note: ${n}`);

    const progress = new Progress({ total: plan.totalSteps, label: 'meta-train', startStep: trainer.step, silent: opts.quiet });
    const t0 = performance.now();
    const elapsed = () => priorSeconds + (performance.now() - t0) / 1000;
    const startStep = trainer.step;
    const save = async () => writeMetaCheckpoint(checkpointPath, await trainer.state(), blockNames, runId, elapsed());
    while (!trainer.finished) {
      const s = await trainer.runStep();
      run.metrics.append(metricRecord(s, elapsed()));
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
            ...config, model: runConfig.modelName, backend: backend.name, stepsPerEpoch: plan.stepsPerEpoch, trainExamplesPerTask: metaTasks.map((t) => t.train.length),
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
    const published: PublishedRef[] = [];
    if (registry) {
      const bytes = readFileSync(artifactPath);
      for (const ref of refs) {
        const r = await registry.publish(ref, bytes).catch((e: Error) => {
          throw new UserError(`--publish ${formatRef(ref)}: ${e.message}`);
        });
        published.push({ ref: r.ref, digest: r.digest, status: r.status, registry: registry.location });
        log(`meta-train: published ${r.ref} (${r.status}) in ${registry.location}`);
      }
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
      backend: backend.name,
      ...(resumedFrom !== undefined ? { resumedFrom } : {}),
      published,
      config,
      metrics,
    };
    run.writeSummary(result as unknown as Record<string, unknown>);
    return result;
  } finally {
    run.close();
    trainer.dispose();
    model.dispose();
  }
}

/** κ of every task at the model's current (pretrained) weights, on the task's first `examples` training examples. */
async function taskCurvatures(model: TensorModel, tasks: readonly MetaTask[], seed: number, log: (line: string) => void): Promise<CurvatureMeasurement[]> {
  const probe = DEFAULT_CURVATURE_PROBE;
  const out: CurvatureMeasurement[] = [];
  for (const [i, t] of tasks.entries()) {
    const batch = t.collator.batch(t.train.slice(0, probe.examples), { goldOnly: t.goldOnly });
    const m = await probeCurvature(model.blocks, () => lossAt(model, t.objective, batch), { ...probe, seed: deriveSeed(seed, CURVATURE_SEED_DOMAIN, i) });
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

export { RUN_FILES };
