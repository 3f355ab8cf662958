// @zotune/meta: meta-training of the perturbation policy (ALGORITHMS.md §5), once per base model.
//
//   const trainer = new MetaTrainer({ model, tasks, config: parseMetaConfig({ epochs: 15 }) });
//   while (!trainer.finished) log(await trainer.runStep());       // meta step on ω, then SGD on θ
//   const policy = await trainer.currentPolicy();                  // → policyToArtifact (@zotune/policy)
//
// The whole run, as `zotune meta-train` makes it: metaTrain({ tasks: ['sst2', 'copa'], meta: { epochs: 2 } },
// { dir, signal, onProgress }) → the run directory and policy.zpol; resumeMetaTrain(dir) continues it.
// Resume by hand: writeMetaCheckpoint(path, await trainer.state(), names, runId, seconds), later
// trainer.load(readMetaCheckpoint(path).state) on a trainer built with the same model, tasks and config.
// The meta-gradient itself (metaGradient) is exposed for tests and diagnostics: it computes L±, the
// look-ahead loss and ∇_ω without changing θ or ω.
export { lookaheadLr, metaConfigSchema, parseMetaConfig, type MetaConfig, type MetaConfigInput } from './config';
export { MetaPlan, type PlannedStep } from './plan';
export { MomentumSgd, type MomentumSgdOptions, type SgdStepResult } from './sgd';
export {
  ThetaSnapshot, applyPolicySgd, lookaheadCoefs, lookaheadSeed, lossAlongNoise, lossAt, metaGradient, metaLossAt, moveAlongNoise, policyGradient, policySigma,
  type LookaheadStep, type MetaStepInput, type MetaStepResult, type PolicyGrads,
} from './meta-step';
export { MetaTrainer, type MetaState, type MetaStepLog, type MetaTask, type MetaTrainerOptions } from './trainer';
export {
  META_CHECKPOINT_MAGIC, META_CHECKPOINT_VERSION, decodeMetaCheckpoint, encodeMetaCheckpoint, readMetaCheckpoint, runIdentity, writeMetaCheckpoint,
  type SavedCheckpoint,
} from './checkpoint';
export { compareWithControl, summarizeMetaRun, type ControlComparison, type MetaRunMetrics } from './summary';
export {
  CHECKPOINT_FILE, MetaTrainAbortError, metaTrain, POLICY_FILE, resumeMetaTrain, runConfigSchema,
  type MetaTrainOptions, type MetaTrainResult, type MetaTrainSpec, type RunConfig,
} from './run';
