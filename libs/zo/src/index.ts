// @zotune/zo: the zeroth-order engine (ALGORITHMS.md §1–3) and the first-order baseline.
//
// A live run, one step at a time (nothing is kept between steps except what you pass back):
//
//   const est = createEstimator({ name: 'guided', candidates: 4, eps: 1e-3, lr: 1e-4 });
//   createTrajectory(path, await trajectoryHeader(model.blocks,      // createTrajectory: @zotune/artifacts
//     { runSeed, family: model.family, estimator: est.config, run: { task, batch } }));
//   let prev: StepRecord | undefined;
//   for (let step = 0; step < stepsForBudget(est.config, budget); step++) {
//     const batch = …;                                             // the step's fixed minibatch
//     const record = await est.step({ blocks: model.blocks, step, seed: stepSeed(runSeed, step),
//       lossValue: lossValueOf(() => objective(model, batch)), scale, prev, batch });
//     await est.update(model.blocks, record);                         // θ −= η(g·σ·v + λθ), from the record only
//                                                                    // (from version 3: fused with the step's last restore)
//     appendRecord(path, record);                                 // @zotune/artifacts
//     prev = record;
//   }
//   est.dispose();
//
// Resume after a kill: `const t = resumeTrajectory(path)` (drops a torn last record), load the base
// weights, `await replay(model.blocks, t.header, t.records)`, then continue at step t.records.length
// with prev = the last record and an estimator of the file's arithmetic,
// createEstimator(config, { trajectoryVersion: t.header.version }) (version 2 files keep restore-then-update). Replay runs the estimator's own step() with the recorded losses and
// the same update(), so the weights are bit-identical to the uninterrupted run's.
//
// Scale: σ per block (ones by default). A policy implements Scale.sigma(ctx) from ctx.stats() (mean,
// unbiased variance per block), ctx.prev (L±, σ of the previous step) and ctx.batch; the σ it
// returns is stored in the record, so the update and replay never call the scale again.
//
// First-order baseline: createAdam(blocks, { lr }).step({ lossTensor, step }) with lossTensor a
// differentiable tf function; lossValueOf(lossTensor) turns the same objective into a ZO lossValue.
export { estimatorNames, parseEstimatorName, zoEstimatorNames, type EstimatorName, type ZoEstimatorName } from './names';
export {
  candidateSeed, estimatorConfigSchema, forwardPassesPerStep, parseEstimatorConfig, stepSeed, stepsForBudget,
  type EstimatorConfig, type EstimatorConfigInput,
} from './config';
export { checkBlockOrder, createEstimator, fusesUpdate, noiseStreamOf, trajectoryArithmetic, type Estimator, type EstimatorOptions } from './estimator';
export { eliteSeed, guidedWeights } from './guided';
export { Perturber, type NoiseTerm, type PerturberOptions } from './perturb';
export { DeferredLoss, StepContext, rankByLoss, type LossValue, type StepInput, type StepLossValue } from './step';
export { applyUpdate, decays, gradientTerms, updatePlan, type UpdateOptions, type UpdatePlan } from './update';
export { checkBlocksMatch, recordedLosses, replay, type ReplayOptions } from './replay';
export { blockInfo, trajectoryHeader, weightsDigest } from './header';
export { blockStats, fixedScale, onesScale, resolveSigma, scaleContext, type BlockStats, type Scale, type ScaleContext } from './scale';
export { createAdam, type Adam, type AdamOptions, type AdamRecord, type LossTensor } from './adam';
export { lossValueOf } from './loss';
export type { StepRecord, TrajectoryHeader } from '@zotune/artifacts';
