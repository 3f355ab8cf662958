// The ZO estimators behind one interface: step() perturbs and evaluates, returning a StepRecord;
// update() applies a record. Trajectory format version 3 fuses the step's last restore into the
// update (step() leaves the weights at its last evaluation point, update() lands from there: 3 passes
// per MeZO step instead of 4); versions 1–2 restore in step(). Version 4 is version 3 with noise stream
// 2 (noiseStreamOf). No state survives between steps except what the caller passes back (prev), so a
// run is fully described by its records and its version.
import { TRAJECTORY_VERSION, TRAJECTORY_VERSIONS_READ, type StepRecord } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import type { NoiseStream } from '@zotune/tensor';
import { cachesNoise, forwardPassesPerStep, parseEstimatorConfig, type EstimatorConfig, type EstimatorConfigInput } from './config';
import type { ZoEstimatorName } from './names';
import { eliteStep, greedyStep, guidedStep } from './guided';
import { mezoStep } from './mezo';
import { Perturber } from './perturb';
import { onesScale, resolveSigma, scaleContext } from './scale';
import { StepContext, type StepInput } from './step';
import { applyUpdate, updatePlan, type UpdateOptions } from './update';

export interface Estimator {
  /** the validated configuration (name is a ZO estimator) */
  readonly config: EstimatorConfig & { name: ZoEstimatorName };
  /** forward passes every step costs */
  readonly forwardPassesPerStep: number;
  /** the trajectory format version whose arithmetic the steps follow (fusesUpdate tells which) */
  readonly trajectoryVersion: number;
  /**
   * Evaluate the step; nothing is updated. Version 3 (fused): the weights are left at the step's last
   * evaluation point and update(record) lands the update from there in one pass (restore() undoes the
   * step instead; the next step() does it too). Versions 1–2: the weights are restored (to float32
   * round-off) before step resolves. Either way a forward pass that throws leaves them restored.
   * input.moveWeights false: the weights are not touched at all (the record only; replay() applies it).
   */
  step(input: StepInput): Promise<StepRecord>;
  /**
   * Apply a record's update (the same code replay runs); resolves when every weight is updated. Right
   * after step() of a fused estimator, with that step's record: the fused restore and update; otherwise
   * on restored weights. A non-finite projected gradient is refused with the weights restored.
   */
  update(blocks: readonly Block[], record: StepRecord, opts?: Partial<UpdateOptions>): Promise<void>;
  /** Undo a step whose update has not been applied (fused estimators); nothing otherwise. */
  restore(): Promise<void>;
  /** free the scratch buffer and the noise cache (update() or restore() a pending step first) */
  dispose(): void;
}

/**
 * Whether a trajectory format version fuses a step's last restore into its update: version 3 does
 * (a MeZO step makes 3 passes over the weights), versions 1–2 restore and then update (4 passes).
 */
export function fusesUpdate(trajectoryVersion: number): boolean {
  if (!TRAJECTORY_VERSIONS_READ.includes(trajectoryVersion))
    throw new Error(`trajectory format version ${trajectoryVersion} is not supported (expected one of ${TRAJECTORY_VERSIONS_READ.join(', ')})`);
  return trajectoryVersion >= 3;
}

/**
 * The noise stream of a trajectory format version (NoiseStream of @zotune/tensor): versions 1–3 draw z
 * from stream 1 (two-dimensional Box–Muller), version 4 from stream 2 (four-dimensional, faster).
 */
export function noiseStreamOf(trajectoryVersion: number): NoiseStream {
  fusesUpdate(trajectoryVersion); // refuses an unknown version
  return trajectoryVersion >= 4 ? 2 : 1;
}

/** What a trajectory format version's steps do, in words (resume notes, docs): its passes and its noise stream. */
export function trajectoryArithmetic(trajectoryVersion: number): string {
  const passes = fusesUpdate(trajectoryVersion) ? 'fused restore and update' : 'restore, then update';
  return `${passes}, noise stream ${noiseStreamOf(trajectoryVersion)}`;
}

/** Check that blocks[i].index === i: the index is the noise block id and the position of σ. */
export function checkBlockOrder(blocks: readonly Block[]): void {
  blocks.forEach((b, i) => {
    if (b.index !== i) throw new Error(`block ${b.name} has index ${b.index} at position ${i}; pass Model.blocks in model order`);
  });
}

export interface EstimatorOptions {
  /**
   * threads that perturb and update blocks held in JS memory (Block.data); default 1. Not part of the
   * config (nor of the trajectory): the bits are the same for any count.
   */
  threads?: number;
  /**
   * the trajectory format version of the run (its header's version; default TRAJECTORY_VERSION, what a
   * new run writes): it fixes the arithmetic of the update, fused from version 3 (fusesUpdate), and the
   * noise stream, 2 from version 4 (noiseStreamOf).
   */
  trajectoryVersion?: number;
}

/** A step of a fused estimator whose update has not been applied: the weights are at its last evaluation point. */
interface Pending {
  ctx: StepContext;
  blocks: readonly Block[];
  record: StepRecord;
}

const sameSigma = (a: readonly number[] | null, b: readonly number[] | null): boolean =>
  a === b || (a !== null && b !== null && a.length === b.length && a.every((x, i) => Object.is(x, b[i])));

export function createEstimator(config: EstimatorConfigInput | EstimatorConfig, opts: EstimatorOptions = {}): Estimator {
  const cfg = parseEstimatorConfig(config);
  if (cfg.name === 'adam') throw new Error('estimator adam is first-order: use createAdam (it takes lossTensor, not lossValue)');
  const name = cfg.name;
  const trajectoryVersion = opts.trajectoryVersion ?? TRAJECTORY_VERSION;
  const fused = fusesUpdate(trajectoryVersion);
  const perturber = new Perturber({ threads: opts.threads, stream: noiseStreamOf(trajectoryVersion) });
  let pending: Pending | undefined;
  // the last record of a step that moved nothing (moveWeights false): update() refuses it, because
  // θ − ηĝz from unmoved weights is not the bits a moving step lands (its walk rounds); replay() is
  let recordOnly: StepRecord | undefined;
  const settle = async () => {
    const p = pending;
    pending = undefined;
    if (p) await p.ctx.restore();
  };
  return {
    config: { ...cfg, name },
    forwardPassesPerStep: forwardPassesPerStep(cfg),
    trajectoryVersion,
    async step(input: StepInput): Promise<StepRecord> {
      if (pending) await settle(); // a step whose update never came is undone
      const { blocks, step, seed } = input;
      const eps = input.eps ?? cfg.eps;
      if (!(Number.isFinite(eps) && eps > 0)) throw new Error(`${name}: eps must be a finite number > 0, got ${eps}`);
      if (!Number.isInteger(step) || step < 0) throw new Error(`${name}: step must be an integer >= 0, got ${step}`);
      if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`${name}: seed must be a uint32, got ${seed}`);
      checkBlockOrder(blocks);
      // 'auto' regenerates the noise on the pool's threads rather than caching it when blocks live in JS
      // memory and several threads share the passes (the cached path runs on this thread); same bits
      const threaded = cfg.cacheNoise === 'auto' && perturber.threads > 1 && blocks.every((b) => b.data);
      perturber.setCaching(!threaded && cachesNoise(cfg, blocks.reduce((n, b) => n + b.size, 0)));
      const sigma = await resolveSigma(input.scale ?? onesScale, scaleContext(step, blocks, input.prev, input.batch));
      const ctx = new StepContext(blocks, sigma, eps, input.moveWeights === false ? null : perturber, input.lossValue);
      try {
        switch (name) {
          case 'mezo': await mezoStep(ctx, seed, cfg.queries); break;
          case 'guided': await guidedStep(ctx, seed, cfg.candidates, cfg.alpha, cfg.normalize); break;
          case 'greedy': await greedyStep(ctx, seed, cfg.candidates); break;
          case 'elite': await eliteStep(ctx, seed, cfg.normalize, input.prev); break;
        }
        // losses computed elsewhere (DeferredLoss): the weights walked on; the record waits for them
        await ctx.settle();
      } catch (e) {
        await ctx.restore(); // a forward pass (or a deferred loss) threw
        throw e;
      }
      if (!fused) await ctx.restore();
      const record = ctx.record(step, seed, name, { displaced: fused });
      // a step that moved nothing leaves nothing to land (its record is replayed instead)
      if (ctx.displaced && ctx.moves) pending = { ctx, blocks, record };
      recordOnly = ctx.moves ? undefined : record;
      return record;
    },
    async update(blocks, record, opts = {}) {
      checkBlockOrder(blocks);
      if (recordOnly && record === recordOnly) {
        throw new Error(`${name}.update: step ${record.step} did not move the weights (moveWeights false); replay its record instead (replay() lands what a moving step lands)`);
      }
      const o = { lr: opts.lr ?? cfg.lr, weightDecay: opts.weightDecay ?? cfg.weightDecay };
      const p = pending;
      if (p && p.record.step === record.step && p.record.seed === record.seed && sameSigma(p.record.sigma, record.sigma)
        && p.blocks.length === blocks.length && p.blocks.every((b, i) => b === blocks[i])) {
        // the fused restore and update: no await before the move, so tfjs variables are updated
        // before this returns its promise, as applyUpdate's are
        pending = undefined;
        let plan;
        try {
          plan = updatePlan(blocks, record, o);
        } catch (e) {
          await p.ctx.restore();
          throw e;
        }
        await p.ctx.land(plan.terms, plan.keep);
        return;
      }
      if (pending) await settle();
      await applyUpdate(blocks, record, o, perturber);
    },
    restore: settle,
    dispose() {
      perturber.dispose();
    },
  };
}
