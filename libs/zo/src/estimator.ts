// The ZO estimators behind one interface: step() perturbs, evaluates and restores, returning a
// StepRecord; update() applies a record. No state survives between steps except what the caller
// passes back (prev), so a run is fully described by its records.
import type { StepRecord } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import { cachesNoise, forwardPassesPerStep, parseEstimatorConfig, type EstimatorConfig, type EstimatorConfigInput, type ZoEstimatorName } from './config';
import { eliteStep, greedyStep, guidedStep } from './guided';
import { mezoStep } from './mezo';
import { Perturber } from './perturb';
import { onesScale, resolveSigma, scaleContext } from './scale';
import { StepContext, type StepInput } from './step';
import { applyUpdate, type UpdateOptions } from './update';

export interface Estimator {
  /** the validated configuration (name is a ZO estimator) */
  readonly config: EstimatorConfig & { name: ZoEstimatorName };
  /** forward passes every step costs */
  readonly forwardPassesPerStep: number;
  /** evaluate the step: weights are perturbed and restored (to float32 round-off); nothing is updated */
  step(input: StepInput): Promise<StepRecord>;
  /** apply a record's update (the same code replay runs); resolves when every weight is updated */
  update(blocks: readonly Block[], record: StepRecord, opts?: Partial<UpdateOptions>): Promise<void>;
  /** free the scratch buffer and the noise cache */
  dispose(): void;
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
}

export function createEstimator(config: EstimatorConfigInput | EstimatorConfig, opts: EstimatorOptions = {}): Estimator {
  const cfg = parseEstimatorConfig(config);
  if (cfg.name === 'adam') throw new Error('estimator adam is first-order: use createAdam (it takes lossTensor, not lossValue)');
  const name = cfg.name;
  const perturber = new Perturber({ threads: opts.threads });
  return {
    config: { ...cfg, name },
    forwardPassesPerStep: forwardPassesPerStep(cfg),
    async step(input: StepInput): Promise<StepRecord> {
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
      const ctx = new StepContext(blocks, sigma, eps, perturber, input.lossValue);
      try {
        switch (name) {
          case 'mezo': await mezoStep(ctx, seed, cfg.queries); break;
          case 'guided': await guidedStep(ctx, seed, cfg.candidates, cfg.alpha, cfg.normalize); break;
          case 'greedy': await greedyStep(ctx, seed, cfg.candidates); break;
          case 'elite': await eliteStep(ctx, seed, cfg.normalize, input.prev); break;
        }
      } finally {
        await ctx.restore(); // also when a forward pass throws
      }
      return ctx.record(step, seed, name);
    },
    async update(blocks, record, opts = {}) {
      checkBlockOrder(blocks);
      await applyUpdate(blocks, record, { lr: opts.lr ?? cfg.lr, weightDecay: opts.weightDecay ?? cfg.weightDecay }, perturber);
    },
    dispose() {
      perturber.dispose();
    },
  };
}
