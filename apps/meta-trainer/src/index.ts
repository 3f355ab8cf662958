// @zotune/app-meta-trainer: the meta-train command (flags → @zotune/meta's metaTrain → publish).
export { runMetaTrain, CHECKPOINT_FILE, POLICY_FILE, type MetaTrainResult, type PublishedRef, type RunOptions } from './run';
export { type MetaTrainFlags } from './options';
export { runConfigSchema, type RunConfig } from '@zotune/meta';

export { registerMetaTrainerCommands } from './commands';
