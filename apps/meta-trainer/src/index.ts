// @zotune/app-meta-trainer: the meta-train command and the run API behind it.
export { runMetaTrain, CHECKPOINT_FILE, POLICY_FILE, type MetaTrainResult, type PublishedRef, type RunOptions } from './run';
export { runConfigSchema, type MetaTrainFlags, type RunConfig } from './options';
export { registerMetaTrainerCommands } from './commands';
