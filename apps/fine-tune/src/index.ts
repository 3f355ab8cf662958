// @zotune/app-fine-tune: the finetune, replay and eval commands (parse → @zotune/finetune → print).
import type { Command } from 'commander';
import { registerEvalCommand } from './eval-command';
import { registerFinetuneCommand } from './finetune-command';
import { registerReplayCommand } from './replay-command';

export { runEval, type EvalCommandOptions, type EvalReport } from './eval-command';
// the run API lives in @zotune/finetune; re-exported for the importers of this app's entry
export {
  BatchSchedule, DEFAULT_LR, DEFAULTS, finetuneConfigSchema, finetuneInputSchema, loadPreset, modelFromWeights, parseRunConfig, replayRun, resolveConfig,
  runFinetune, WEIGHT_FILES, weightsStep, writeRunWeights, type FinetuneConfig, type FinetuneInput, type FinetuneOptions, type FinetuneSummary, type ReplayResult,
} from '@zotune/finetune';

/** Mount this app's commands on the zotune program: finetune, replay, eval. */
export function registerFineTuneCommands(program: Command): void {
  registerFinetuneCommand(program);
  registerReplayCommand(program);
  registerEvalCommand(program);
}
