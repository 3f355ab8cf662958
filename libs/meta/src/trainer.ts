// The learning-to-learn loop (ALGORITHMS.md §5): per step, a meta step on the policy ω (meta-step.ts)
// then one first-order step on θ, tasks in round robin with their own feature state, θ reset to the
// pretrained weights every R epochs. Everything a step needs comes from the plan (plan.ts) and the
// state below, so a run restored from its state continues exactly as it would have.
import * as tf from '@tensorflow/tfjs-core';
import type { TensorModel } from '@zotune/models';
import { tfVar } from './tf-var';
import type { Collator, Example, Objective } from '@zotune/tasks';
import { CURVATURE_INPUTS, INITIAL_FEATURE_STATE, POLICY_INPUTS, PertNN, TfPertNN, initPertNN, nextFeatureState, type FeatureState } from '@zotune/policy';
import { deriveSeed } from '@zotune/tensor';
import { lookaheadLr, type MetaConfig } from './config';
import { applyPolicySgd, metaGradient } from './meta-step';
import { MetaPlan } from './plan';
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

export class MetaTrainer {
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
    const names = opts.model.blocks.map((b) => b.name);
    const withCurvature = opts.config.features === 'curvature';
    if (withCurvature !== (opts.curvature !== undefined))
      throw new Error(withCurvature ? 'meta-training: the curvature feature set needs each task\'s κ (probeCurvature)' : 'meta-training: κ given, but the feature set is base');
    if (opts.curvature && (opts.curvature.length !== opts.tasks.length || opts.curvature.some((k) => k.length !== names.length)))
      throw new Error(`meta-training: κ must hold ${names.length} values for each of the ${opts.tasks.length} tasks`);
    this.curvature = opts.curvature;
    const inputs = withCurvature ? CURVATURE_INPUTS : POLICY_INPUTS;
    const init = opts.policy ?? initPertNN(names, { seed: this.plan.policySeed, hidden: opts.config.hidden, inputs });
    if (init.numBlocks !== names.length || init.blockNames.some((n, j) => n !== names[j]))
      throw new Error('meta-training: the starting policy was made for other blocks than the model has');
    if (init.inputs !== inputs) throw new Error(`meta-training: the starting policy reads ${init.inputs} features, the ${opts.config.features} set has ${inputs}`);
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
    if (this.finished) throw new Error(`meta-training: all ${this.plan.totalSteps} steps are done`);
    const p = this.plan.at(this.done);
    if (p.reset) this.resetTheta();
    const task = this.tasks[p.task];
    const batch = task.collator.batch(p.examples.map((i) => task.train[i]), { goldOnly: task.goldOnly });
    const metaLr = lookaheadLr(this.config, deriveSeed(p.seed, LOOKAHEAD_LR_STREAM) / 2 ** 32);
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
    let sum = 0;
    for (const s of r.sigma) sum += s;
    return {
      step: this.done,
      epoch: p.epoch,
      task: task.name,
      reset: p.reset,
      metaLoss: r.metaLoss,
      loss: fo.loss,
      lossPlus: r.lossPlus,
      lossMinus: r.lossMinus,
      projectedGrad: r.projectedGrad,
      meanSigma: sum / r.sigma.length,
      minEffSigma: Math.min(...r.effective),
      maxEffSigma: Math.max(...r.effective),
      nf: r.nf,
      policyGradNorm: r.gradNorm,
      gradNorm: fo.gradNorm,
      lr: p.lr,
      metaLr,
      forwardPasses: 2 * r.steps.length + 2,
      backwardPasses: 2,
    };
  }

  /** How far ω moved from the starting policy: ‖ω − ω₀‖ / ‖ω₀‖, overall and per weight array. */
  async omegaMoved(): Promise<Record<'all' | 'w1' | 'b1' | 'w2' | 'b2', number>> {
    const now = (await this.policy.toPolicy()).weights;
    const out = { all: 0, w1: 0, b1: 0, w2: 0, b2: 0 };
    let dAll = 0;
    let nAll = 0;
    for (const k of ['w1', 'b1', 'w2', 'b2'] as const) {
      let d = 0;
      let n = 0;
      const a = now[k];
      const b = this.initial.weights[k];
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
    if (state.step > this.plan.totalSteps) throw new Error(`meta-training state: step ${state.step} is past the run's ${this.plan.totalSteps} steps`);
    if (state.theta.length !== blocks.length) throw new Error(`meta-training state: θ has ${state.theta.length} blocks, the model ${blocks.length}`);
    if (state.features.length !== this.tasks.length) throw new Error(`meta-training state: feature state for ${state.features.length} tasks, the run has ${this.tasks.length}`);
    tf.tidy(() => {
      blocks.forEach((b, j) => {
        if (state.theta[j].length !== b.size) throw new Error(`meta-training state: block ${b.name} holds ${state.theta[j].length} values, expected ${b.size}`);
        tfVar(b).assign(tf.tensor(state.theta[j], b.shape, 'float32'));
      });
    });
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
