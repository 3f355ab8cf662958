// The learning-to-learn loop (ALGORITHMS.md §5): per step, a meta step on the policy ω (meta-step.ts)
// then one first-order step on θ, tasks in round robin with their own feature state, θ reset to the
// pretrained weights every R epochs. Everything a step needs comes from the plan (plan.ts) and the
// state below, so a run restored from its state continues exactly as it would have.
import * as tf from '@tensorflow/tfjs-core';
import type { TensorModel } from '@zotune/models';
import { tfVar } from './tf-var';
import { Collator, objectiveFor, resolveTask, type Example, type Objective, type TaskBatch } from '@zotune/tasks';
import { CURVATURE_INPUTS, INITIAL_FEATURE_STATE, POLICY_INPUTS, PertNN, TfPertNN, initPertNN, nextFeatureState, type FeatureState } from '@zotune/policy';
import { deriveSeed } from '@zotune/tensor';
import { lookaheadLr, type MetaConfig } from './config';
import { applyPolicySgd, metaGradient } from './meta-step';
import { MetaPlan, type PlannedStep } from './plan';
import { MomentumSgd } from './sgd';

/** A task as the trainer sees it: its training examples, how to batch them and the objective. */
export interface MetaTask {
  name: string;
  train: readonly Example[];
  /** batches examples (a @zotune/tasks Collator) */
  collator: Pick<Collator, 'batch'>;
  objective: Objective;
  /** pack only the gold candidate (teacher-forced CE tasks such as COPA) */
  goldOnly: boolean;
}

/** What one step did: a line of metrics.jsonl. */
export interface MetaStepLog {
  /** steps completed, this one included */
  step: number;
  epoch: number;
  task: string;
  /** θ went back to the pretrained weights before this step */
  reset: boolean;
  /** L(θ'; B) (L(θ_K; B) with K look-ahead steps), the look-ahead loss the policy is trained on */
  metaLoss: number;
  /** L(θ; B) before the first-order update */
  loss: number;
  lossPlus: number;
  lossMinus: number;
  projectedGrad: number;
  /** mean of σ_j = |MLP_j| over blocks (before the rescale) */
  meanSigma: number;
  /** smallest and largest σ_j·nf */
  minEffSigma: number;
  maxEffSigma: number;
  nf: number;
  /** ‖∇_ω meta‖ */
  policyGradNorm: number;
  /** θ's gradient norm before clipping */
  gradNorm: number;
  /** θ learning rate used */
  lr: number;
  /** η of this step's look-ahead */
  metaLr: number;
  /** forward passes of the step: L± at each of the K look-ahead steps, L(θ_K) and L(θ) (the last two with a backward each) */
  forwardPasses: number;
  /** backward passes of the step */
  backwardPasses: number;
}

/** The whole mutable state of a run (what a checkpoint holds). */
export interface MetaState {
  /** steps completed */
  step: number;
  /** current θ per block, model layout */
  theta: Float32Array[];
  /** θ optimiser momentum per block */
  momentum: Float32Array[];
  /** current policy weights */
  policy: PertNN;
  /** per task, in task order */
  features: FeatureState[];
}

export interface MetaTrainerOptions {
  model: TensorModel;
  tasks: MetaTask[];
  config: MetaConfig;
  /** starting policy (default: a fresh one from the plan's policy seed) */
  policy?: PertNN;
  /** config.features 'curvature': κ per block for each task, in task order (probeCurvature at the pretrained weights) */
  curvature?: readonly (readonly number[])[];
}

/** Keeps the look-ahead η draw apart from the step's noise seed. */
const LOOKAHEAD_LR_STREAM = 0x6d6c72; // 'mlr'

/** What the meta-train command drives: the exact (tfjs) trainer below, or SpsaMetaTrainer (spsa-trainer.ts). */
export interface MetaTraining {
  readonly plan: MetaPlan;
  readonly config: MetaConfig;
  readonly step: number;
  readonly finished: boolean;
  runStep(): Promise<MetaStepLog>;
  omegaMoved(): Promise<Record<'all' | 'w1' | 'b1' | 'w2' | 'b2', number>>;
  currentPolicy(): Promise<PertNN>;
  state(): Promise<MetaState>;
  load(state: MetaState): void;
  dispose(): void;
}

/** The starting policy of a run (given, or fresh from the plan's seed), checked against the model's blocks, the feature set and κ. */
export function startingPolicy(opts: Pick<MetaTrainerOptions, 'tasks' | 'config' | 'policy' | 'curvature'>, names: readonly string[], plan: MetaPlan): PertNN {
  const withCurvature = opts.config.features === 'curvature';
  if (withCurvature !== (opts.curvature !== undefined))
    throw new Error(withCurvature ? 'meta-training: the curvature feature set needs each task\'s κ (probeCurvature)' : 'meta-training: κ given, but the feature set is base');
  if (opts.curvature && (opts.curvature.length !== opts.tasks.length || opts.curvature.some((k) => k.length !== names.length)))
    throw new Error(`meta-training: κ must hold ${names.length} values for each of the ${opts.tasks.length} tasks`);
  const inputs = withCurvature ? CURVATURE_INPUTS : POLICY_INPUTS;
  const init = opts.policy ?? initPertNN(names, { seed: plan.policySeed, hidden: opts.config.hidden, inputs });
  if (init.numBlocks !== names.length || init.blockNames.some((n, j) => n !== names[j]))
    throw new Error('meta-training: the starting policy was made for other blocks than the model has');
  if (init.inputs !== inputs) throw new Error(`meta-training: the starting policy reads ${init.inputs} features, the ${opts.config.features} set has ${inputs}`);
  return init;
}

/** ‖ω − ω₀‖ / ‖ω₀‖, overall and per weight array. */
export function omegaDistance(now: PertNN, initial: PertNN): Record<'all' | 'w1' | 'b1' | 'w2' | 'b2', number> {
  const out = { all: 0, w1: 0, b1: 0, w2: 0, b2: 0 };
  let dAll = 0;
  let nAll = 0;
  for (const k of ['w1', 'b1', 'w2', 'b2'] as const) {
    let d = 0;
    let n = 0;
    const a = now.weights[k];
    const b = initial.weights[k];
    for (let i = 0; i < a.length; i++) {
      d += (a[i] - b[i]) ** 2;
      n += b[i] ** 2;
    }
    out[k] = Math.sqrt(d / n);
    dAll += d;
    nAll += n;
  }
  out.all = Math.sqrt(dAll / nAll);
  return out;
}

/** The look-ahead η of plan step `seed`: metaLr, or drawn from [metaLr, metaLrMax] (the variant). */
export function stepLookaheadLr(config: MetaConfig, seed: number): number {
  return lookaheadLr(config, deriveSeed(seed, LOOKAHEAD_LR_STREAM) / 2 ** 32);
}

/** A planned step made concrete (both trainers): its task, batch and look-ahead η. */
export function stepInputs(plan: MetaPlan, config: MetaConfig, tasks: readonly MetaTask[], step: number): { p: PlannedStep; task: MetaTask; batch: TaskBatch; metaLr: number } {
  if (step >= plan.totalSteps) throw new Error(`meta-training: all ${plan.totalSteps} steps are done`);
  const p = plan.at(step);
  const task = tasks[p.task];
  const batch = task.collator.batch(p.examples.map((i) => task.train[i]), { goldOnly: task.goldOnly });
  return { p, task, batch, metaLr: stepLookaheadLr(config, p.seed) };
}

/** The metrics line of a finished step (both trainers): the meta step's figures r, and θ's own step. */
export function stepLog(
  p: PlannedStep, task: MetaTask, metaLr: number,
  r: { metaLoss: number; lossPlus: number; lossMinus: number; projectedGrad: number; sigma: ArrayLike<number>; effective: number[]; nf: number; gradNorm: number },
  theta: { loss: number; gradNorm: number; lr: number; forwardPasses: number; backwardPasses: number },
): MetaStepLog {
  let sum = 0;
  for (let j = 0; j < r.sigma.length; j++) sum += r.sigma[j];
  return {
    step: p.step + 1, epoch: p.epoch, task: task.name, reset: p.reset, metaLoss: r.metaLoss, loss: theta.loss, lossPlus: r.lossPlus, lossMinus: r.lossMinus,
    projectedGrad: r.projectedGrad, meanSigma: sum / r.sigma.length, minEffSigma: Math.min(...r.effective), maxEffSigma: Math.max(...r.effective), nf: r.nf,
    policyGradNorm: r.gradNorm, gradNorm: theta.gradNorm, lr: theta.lr, metaLr, forwardPasses: theta.forwardPasses, backwardPasses: theta.backwardPasses,
  };
}

/** Checks a saved state against the run's shape (both trainers). */
export function checkState(state: MetaState, plan: MetaPlan, blocks: readonly { name: string; size: number }[], tasks: number): void {
  if (state.step > plan.totalSteps) throw new Error(`meta-training state: step ${state.step} is past the run's ${plan.totalSteps} steps`);
  if (state.theta.length !== blocks.length) throw new Error(`meta-training state: θ has ${state.theta.length} blocks, the model ${blocks.length}`);
  if (state.features.length !== tasks) throw new Error(`meta-training state: feature state for ${state.features.length} tasks, the run has ${tasks}`);
  blocks.forEach((b, j) => {
    if (state.theta[j].length !== b.size) throw new Error(`meta-training state: block ${b.name} holds ${state.theta[j].length} values, expected ${b.size}`);
  });
}

export class MetaTrainer implements MetaTraining {
  readonly plan: MetaPlan;
  readonly config: MetaConfig;
  private readonly model: TensorModel;
  private readonly tasks: MetaTask[];
  private readonly base: Float32Array[];
  private readonly policy: TfPertNN;
  private readonly sgd: MomentumSgd;
  private features: FeatureState[];
  private done = 0;
  /** the starting policy (how far ω moved is measured from it) */
  private readonly initial: PertNN;
  /** per task κ (curvature feature set), else undefined */
  private readonly curvature?: readonly (readonly number[])[];

  constructor(opts: MetaTrainerOptions) {
    this.config = opts.config;
    this.model = opts.model;
    this.tasks = opts.tasks;
    const untrainable = opts.model.blocks.find((b) => !tfVar(b).trainable);
    if (untrainable) throw new Error(`meta-training: block ${untrainable.name} is not trainable`);
    this.plan = new MetaPlan(opts.config, opts.tasks.map((t) => t.train.length));
    // the pretrained weights, kept to reset θ every R epochs
    this.base = opts.model.blocks.map((b) => (tfVar(b).dataSync() as Float32Array).slice());
    const init = startingPolicy(opts, opts.model.blocks.map((b) => b.name), this.plan);
    this.curvature = opts.curvature;
    this.policy = TfPertNN.fromPolicy(init);
    this.initial = init.clone();
    this.sgd = new MomentumSgd(opts.model.blocks, { momentum: opts.config.momentum, clipNorm: opts.config.clipNorm });
    this.features = opts.tasks.map(() => INITIAL_FEATURE_STATE);
  }

  /** Steps completed. */
  get step(): number {
    return this.done;
  }

  get finished(): boolean {
    return this.done >= this.plan.totalSteps;
  }

  /** Run the next planned step. */
  async runStep(): Promise<MetaStepLog> {
    const { p, task, batch, metaLr } = stepInputs(this.plan, this.config, this.tasks, this.done);
    if (p.reset) this.resetTheta();
    const r = await metaGradient({
      model: this.model,
      policy: this.policy,
      objective: task.objective,
      batch,
      features: this.features[p.task],
      seed: p.seed,
      eps: this.config.eps,
      metaLr,
      nfGrad: this.config.nfGrad,
      lookaheadSteps: this.config.lookaheadSteps,
      curvature: this.curvature?.[p.task],
    });
    if (!Number.isFinite(r.metaLoss) || !Number.isFinite(r.gradNorm))
      throw new Error(`meta-training: step ${p.step}: meta-loss ${r.metaLoss}, policy gradient norm ${r.gradNorm}; lower --lr-mlp or --meta-lr`);
    applyPolicySgd(this.policy, r.grads, this.config.lrMlp);
    this.features[p.task] = nextFeatureState(r.lossPlus, r.lossMinus, r.effective);
    const fo = await this.sgd.step(() => task.objective(this.model, batch), p.lr);
    this.done++;
    return stepLog(p, task, metaLr, r, { loss: fo.loss, gradNorm: fo.gradNorm, lr: p.lr, forwardPasses: 2 * r.steps.length + 2, backwardPasses: 2 });
  }

  /** How far ω moved from the starting policy: ‖ω − ω₀‖ / ‖ω₀‖, overall and per weight array. */
  async omegaMoved(): Promise<Record<'all' | 'w1' | 'b1' | 'w2' | 'b2', number>> {
    return omegaDistance(await this.policy.toPolicy(), this.initial);
  }

  /** The policy as it is now (frozen copy). */
  currentPolicy(): Promise<PertNN> {
    return this.policy.toPolicy();
  }

  async state(): Promise<MetaState> {
    const theta = await Promise.all(this.model.blocks.map(async (b) => ((await tfVar(b).data()) as Float32Array).slice()));
    return {
      step: this.done,
      theta,
      momentum: (await this.sgd.state()).map((a) => a.slice()),
      policy: await this.policy.toPolicy(),
      features: this.features.map((f) => ({ ...f, sigma: f.sigma === null ? null : [...f.sigma] })),
    };
  }

  /** Continue from a saved state (same model, tasks and config). */
  load(state: MetaState): void {
    const blocks = this.model.blocks;
    checkState(state, this.plan, blocks, this.tasks.length);
    tf.tidy(() => blocks.forEach((b, j) => tfVar(b).assign(tf.tensor(state.theta[j], b.shape, 'float32'))));
    this.sgd.load(state.momentum);
    this.policy.assignFrom(state.policy);
    this.features = state.features.map((f) => ({ ...f }));
    this.done = state.step;
  }

  dispose(): void {
    this.policy.dispose();
    this.sgd.dispose();
  }

  /** θ ← pretrained weights; momentum and every task's feature state start over. */
  private resetTheta(): void {
    tf.tidy(() => this.model.blocks.forEach((b, j) => tfVar(b).assign(tf.tensor(this.base[j], b.shape, 'float32'))));
    this.sgd.reset();
    // each period is a fresh trajectory from the pretrained model, as fine-tuning starts: L± = 0, σ = 1
    this.features = this.tasks.map(() => INITIAL_FEATURE_STATE);
  }
}

/**
 * A task as meta-training uses it: its MeZO train split (sampled with dataSeed; the first trainExamples
 * when > 0), batched by the model's tokenizer, its objective, and the split's notes (e.g. fewer
 * examples than the protocol asks for).
 */
export function loadMetaTask(
  name: string,
  o: { dataDir: string; dataSeed: number; tokenizer: ConstructorParameters<typeof Collator>[1]; maxSeqLen: number; trainExamples?: number },
): { task: MetaTask; notes: string[] } {
  const task = resolveTask(name);
  const splits = task.splits(o.dataDir, o.dataSeed);
  const train = o.trainExamples ? splits.train.slice(0, o.trainExamples) : splits.train;
  return {
    task: { name: task.name, train, collator: new Collator(task, o.tokenizer, o.maxSeqLen), objective: objectiveFor(task.kind), goldOnly: task.kind === 'generation-lm' },
    notes: splits.notes.map((n) => `${task.name}: ${n}`),
  };
}
