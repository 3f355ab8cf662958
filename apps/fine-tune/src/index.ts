// @zotune/app-fine-tune: the finetune, replay and eval commands, and the run API behind them.
export { runEval, type EvalCommandOptions, type EvalReport } from './eval-command';
export { DEFAULT_LR, DEFAULTS, finetuneConfigSchema, finetuneInputSchema, loadPreset, parseRunConfig, resolveConfig, type FinetuneConfig, type FinetuneInput } from './config';
export { BatchSchedule } from './batches';
export { runFinetune, type FinetuneOptions, type FinetuneSummary } from './trainer';
export { replayRun, type ReplayResult } from './replay-command';
export { modelFromWeights, WEIGHT_FILES, weightsStep, writeRunWeights } from './weights';
export { registerFineTuneCommands } from './commands';
