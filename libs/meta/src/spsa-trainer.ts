// The learning-to-learn loop with the forward-only meta-gradient (spsa.ts), for models whose backward
// does not fit tfjs (SmolLM2-135M: tfjs-wasm's 4 GiB heap). Same plan, tasks, feature state, resets and
// checkpoint as MetaTrainer (trainer.ts); two things differ, both because there is no backward pass:
//   - ∇_ω meta is the SPSA estimate (3 + 2K forward passes) instead of the exact one;
//   - θ's own trajectory between meta steps is plain MeZO (σ = 1, ε, the look-ahead η = metaLr, the
//     step's seed), not first-order SGD: the states the policy is trained at are those a ZO fine-tune
//     visits. It does not depend on ω (uniform σ), so a paired untrained control (--lr-mlp 0) sees the
//     same θ at every step, as it does on the exact path. lrLlm, momentum and clipNorm are not used.
// Per meta step: 2K + 6 forward passes (the estimate's 3 + 2K, L(θ), and MeZO's L±), no backward.
// Memory: the model, the step's θ and z (HostStep: every evaluation is one fused pass from them) and the
// pretrained θ (resets): four model-size arrays.
import type { Model } from '@zotune/models';
import { INITIAL_FEATURE_STATE, nextFeatureState, type FeatureState, type PertNN } from '@zotune/policy';
import { objectiveValue } from '@zotune/tasks';
import type { MetaConfig } from './config';
import { MetaPlan } from './plan';
import { applyPolicySgdHost, HostSnapshot, HostStep, spsaMetaGradient } from './spsa';
import { checkState, omegaDistance, startingPolicy, stepInputs, stepLog, type MetaState, type MetaStepLog, type MetaTask, type MetaTraining } from './trainer';

export interface SpsaMetaTrainerOptions {
  /** a host model (engine ort): blocks in JS memory */
  model: Model;
  tasks: MetaTask[];
  config: MetaConfig;
  policy?: PertNN;
  curvature?: readonly (readonly number[])[];
}

export class SpsaMetaTrainer implements MetaTraining {
  readonly plan: MetaPlan;
  readonly config: MetaConfig;
  private readonly model: Model;
  private readonly tasks: MetaTask[];
  private readonly base: HostSnapshot;
  private readonly point: HostStep;
  private policy: PertNN;
  private readonly initial: PertNN;
  private readonly curvature?: readonly (readonly number[])[];
  private features: FeatureState[];
  private done = 0;

  constructor(opts: SpsaMetaTrainerOptions) {
    if (opts.config.metaGrad !== 'spsa') throw new Error(`SpsaMetaTrainer: the config's metaGrad is ${opts.config.metaGrad}, expected spsa`);
    if (opts.config.lookaheadSteps !== 1) throw new Error(`meta-training: --meta-grad spsa runs one look-ahead step, got --lookahead-steps ${opts.config.lookaheadSteps}`);
    this.config = opts.config;
    this.model = opts.model;
    this.tasks = opts.tasks;
    this.plan = new MetaPlan(opts.config, opts.tasks.map((t) => t.train.length));
    this.base = new HostSnapshot(opts.model.blocks);
    this.point = new HostStep(opts.model.blocks);
    const init = startingPolicy(opts, opts.model.blocks.map((b) => b.name), this.plan);
    this.curvature = opts.curvature;
    this.policy = init.clone();
    this.initial = init.clone();
    this.features = opts.tasks.map(() => INITIAL_FEATURE_STATE);
  }

  get step(): number {
    return this.done;
  }

  get finished(): boolean {
    return this.done >= this.plan.totalSteps;
  }

  async runStep(): Promise<MetaStepLog> {
    const { p, task, batch, metaLr } = stepInputs(this.plan, this.config, this.tasks, this.done);
    if (p.reset) this.resetTheta();
    const c = this.config;
    const r = await spsaMetaGradient({
      model: this.model, policy: this.policy, batch, features: this.features[p.task], seed: p.seed, eps: c.eps, metaLr, nfGrad: c.nfGrad,
      curvature: this.curvature?.[p.task], spsa: { directions: c.spsaDirections, scale: c.spsaScale, space: c.spsaSpace },
      point: this.point,
    });
    if (!Number.isFinite(r.metaLoss) || !Number.isFinite(r.gradNorm))
      throw new Error(`meta-training: step ${p.step}: meta-loss ${r.metaLoss}, policy gradient norm ${r.gradNorm}; lower --lr-mlp or --meta-lr`);
    applyPolicySgdHost(this.policy, r.grads, c.lrMlp);
    this.features[p.task] = nextFeatureState(r.lossPlus, r.lossMinus, r.effective);
    // θ's own step: MeZO at uniform σ along the step's z (still in this.point, θ saved there)
    const blocks = this.model.blocks;
    const loss = await objectiveValue(this.model, batch);
    const along = async (coef: number) => {
      this.point.moveTo(blocks.map(() => coef));
      return objectiveValue(this.model, batch);
    };
    const up = await along(c.eps);
    const down = await along(-c.eps);
    const g = (up - down) / (2 * c.eps);
    if (!Number.isFinite(loss) || !Number.isFinite(g)) {
      this.point.restore();
      throw new Error(`meta-training: step ${p.step}: θ's MeZO step saw L = ${loss}, L± = ${up}, ${down}; lower --meta-lr`);
    }
    this.point.moveTo(blocks.map(() => -c.metaLr * g));
    this.done++;
    // θ's ZO step: its gradNorm is |ĝ| of the MeZO estimate (there is no first-order gradient on this path)
    return stepLog(p, task, metaLr, r, { loss, gradNorm: Math.abs(g), lr: c.metaLr, forwardPasses: r.forwardPasses + 3, backwardPasses: 0 });
  }

  async omegaMoved(): Promise<Record<'all' | 'w1' | 'b1' | 'w2' | 'b2', number>> {
    return omegaDistance(this.policy, this.initial);
  }

  async currentPolicy(): Promise<PertNN> {
    return this.policy.clone();
  }

  /** The state, θ as views of the blocks' own arrays (no model-size copy at 135M): encode it before the next step. */
  async state(): Promise<MetaState> {
    return {
      step: this.done,
      theta: this.model.blocks.map((b) => b.data!),
      // no momentum on this path: one empty array per block keeps the checkpoint's shape
      momentum: this.model.blocks.map(() => new Float32Array(0)),
      policy: this.policy.clone(),
      features: this.features.map((f) => ({ ...f, sigma: f.sigma === null ? null : [...f.sigma] })),
    };
  }

  load(state: MetaState): void {
    const blocks = this.model.blocks;
    checkState(state, this.plan, blocks, this.tasks.length);
    if (state.momentum.some((m) => m.length !== 0)) throw new Error('meta-training state: it holds θ momentum, so it was written by the exact (tfjs) meta-trainer');
    if (state.policy.parameters !== this.policy.parameters) throw new Error('meta-training state: its policy has another shape than the run\'s');
    blocks.forEach((b, j) => b.data!.set(state.theta[j]));
    this.policy = state.policy.clone();
    this.features = state.features.map((f) => ({ ...f }));
    this.done = state.step;
  }

  dispose(): void {}

  private resetTheta(): void {
    this.base.restore();
    this.features = this.tasks.map(() => INITIAL_FEATURE_STATE);
  }
}
