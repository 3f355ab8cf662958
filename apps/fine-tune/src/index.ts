// @zotune/app-fine-tune: the finetune, replay and eval commands (parse → @zotune/finetune → print).
export { runEval, type EvalCommandOptions } from './eval-run';
export type { EvalReport } from '@zotune/finetune';
// the run API lives in @zotune/finetune; re-exported for the importers of this app's entry
export {
  BatchSchedule, DEFAULT_LR, DEFAULTS, finetuneConfigSchema, finetuneInputSchema, loadPreset, modelFromWeights, parseRunConfig, replayRun, resolveConfig,
  runFinetune, WEIGHT_FILES, weightsStep, writeRunWeights, type FinetuneConfig, type FinetuneInput, type FinetuneOptions, type FinetuneSummary, type ReplayResult,
} from '@zotune/finetune';

export { registerFineTuneCommands } from './commands';
