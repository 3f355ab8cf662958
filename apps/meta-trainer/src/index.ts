// @zotune/app-meta-trainer: the meta-train command (flags → @zotune/meta's metaTrain → publish).
import type { Command } from 'commander';
import { registerMetaTrainCommand } from './command';

export { runMetaTrain, CHECKPOINT_FILE, POLICY_FILE, type MetaTrainResult, type PublishedRef, type RunOptions } from './run';
export { type MetaTrainFlags } from './options';
export { runConfigSchema, type RunConfig } from '@zotune/meta';

/** Mount this app's commands on the zotune program: meta-train. */
export function registerMetaTrainerCommands(program: Command): void {
  registerMetaTrainCommand(program);
}
