// @zotune/finetune: the fine-tune run as a library. finetune(config) and resumeFinetune(dir) run it
// in-process and write the run directory `zotune finetune` writes; evaluate() is `zotune eval`,
// replayRun() is `zotune replay`. The config is the zod schema the CLI's flags are generated from.
export {
  DEFAULT_EVALS_PER_RUN, DEFAULT_FORWARD_PASSES, DEFAULT_LR, DEFAULT_ORACLE_EVERY, DEFAULTS, defaultLr, DEMO_PRESET, MODEL_LR, modelLr, PUBLIC_DEMO_PRESET, REPLAY_FORMATS, RUN_PRESET_DIR,
  finetuneInputSchema, loadPreset, parseInput, settings, type FinetuneInput, type ReplayFormat, type SettingMeta,
} from './schema';
export { estimatorConfig, finetuneConfigSchema, parseRunConfig, passesPerStep, resolveConfig, withAbsolutePaths, type FinetuneConfig } from './config';
export { BatchSchedule } from './batches';
export { defaultRunDir, finetune, resumeConfig, resumeFinetune, runConfigOf, runName, type FinetuneRunOptions, type ResumeRunOptions } from './run';
export { FinetuneAbortError, runFinetune, type FinetuneEvent, type FinetuneOptions, type FinetuneSummary, type StepLosses, type StepShards } from './trainer';
export { openReplica, type Replica } from './replica';
export type { ObjectivePartial } from '@zotune/tasks';
export { evaluate, type EvalReport, type EvaluateOptions } from './evaluate';
export { replayRun, type ReplayOptions, type ReplayResult } from './replay';
export { fetchRunData, mirrorOnlyNeeds } from './setup';
export { modelFromWeights, WEIGHT_FILES, weightsStep, writeRunWeights } from './weights';
