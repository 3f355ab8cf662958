// What a run needs before its first step: the task and its splits, the tokenizer and collator, the
// model. Resolved in this order so that a bad --task or --model fails before any directory exists.
import { ensureData, pullProgressPrinter, resolveDataDir, unfetchable } from '@zotune/data';
import { resolveModel, type Model, type ResolvedModel } from '@zotune/models';
import { openModel, type EngineChoice } from '@zotune/engine';
import { UserError, cliText } from '@zotune/report';
import { Collator, objectiveFor, resolveTask, type Example, type Objective, type Task } from '@zotune/tasks';
import type { FinetuneConfig } from './config';
import { DEFAULTS } from './schema';

export interface RunInputs {
  dataDir: string;
  task: Task;
  /** the model name as summaries show it (stories260K, a .bin's stem, a directory's name) */
  modelName: string;
  resolved: ResolvedModel;
  collator: Collator;
  objective: Objective;
  train: Example[];
  /** the first evalN dev examples */
  dev: Example[];
  /** the first testN test examples */
  test: Example[];
  /** how the splits were made where that departs from the plain protocol */
  notes: string[];
}

/** A one-line UserError prefixed with the flag, from whatever the lib threw. */
export function asUserError(flag: string, e: unknown): UserError {
  return e instanceof UserError ? e : new UserError(`${flag}: ${cliText(e)}`, 2);
}

export function loadInputs(config: FinetuneConfig): RunInputs {
  let task: Task;
  try {
    task = resolveTask(config.task);
  } catch (e) {
    throw asUserError('--task', e);
  }
  const dataDir = resolveDataDir();
  let resolved: ResolvedModel;
  try {
    resolved = resolveModel(config.model, dataDir);
  } catch (e) {
    throw asUserError('--model', e);
  }
  const splits = task.splits(dataDir, config.seed);
  const notes = [...splits.notes];
  if (splits.train.length === 0) throw new UserError(`--task ${config.task}: task ${task.name} has no training examples (${notes.join('; ')})`);
  const dev = splits.dev.slice(0, config.evalN);
  const test = splits.test.slice(0, config.testN);
  if (dev.length === 0) throw new UserError(`--task ${config.task}: task ${task.name} has no dev examples to choose the best checkpoint with`);
  if (test.length === 0) throw new UserError(`--task ${config.task}: task ${task.name} has no test examples`);
  // only for sizes the user chose: the splits' own notes already say when a split is small
  if (config.evalN !== DEFAULTS.evalN && config.evalN > splits.dev.length) notes.push(`--eval-n ${config.evalN}: the dev split has ${splits.dev.length} examples; using all of them`);
  if (config.testN !== DEFAULTS.testN && config.testN > splits.test.length) notes.push(`--test-n ${config.testN}: the test split has ${splits.test.length} examples; using all of them`);
  const collator = new Collator(task, resolved.tokenizer, resolved.checkpoint.config.maxSeqLen);
  return {
    dataDir,
    task,
    modelName: resolved.name,
    resolved,
    collator,
    objective: objectiveFor(task.kind),
    train: splits.train,
    dev,
    test,
    notes,
  };
}

/**
 * Build the model from the resolved checkpoint on the chosen engine (its blocks are the trainable
 * weights). The checkpoint is handed over: the blocks adopt its arrays or copy them one tensor at a
 * time, and inputs.resolved.checkpoint keeps its config, format and source but no tensors, so a run
 * holds the weights once (a second build from the same inputs fails).
 */
export function buildModel(inputs: RunInputs, engine: EngineChoice): Promise<Model> {
  if (inputs.resolved.checkpoint.tensors.size === 0) throw new Error(`${inputs.resolved.checkpoint.source}: the checkpoint was already handed to a model`);
  return openModel(inputs.resolved.checkpoint, engine, { handOver: true });
}

/**
 * `--fetch` (and the demo): the pinned files of the model and the task that are missing, fetched by
 * the code of `zotune data pull` before anything else runs. A task or model that does not resolve is
 * left to loadInputs, which says what is wrong with it.
 */
export async function fetchRunData(model: string, taskArg: string, log: (line: string) => void): Promise<void> {
  try {
    await ensureData({ model, files: taskDataFiles(taskArg) }, { log, onProgress: pullProgressPrinter() });
  } catch (e) {
    throw new UserError(`--fetch: ${cliText(e)}`);
  }
}

/** The pinned files a task reads ([] when it does not resolve: loadInputs says what is wrong with it). */
function taskDataFiles(taskArg: string): string[] {
  try {
    return resolveTask(taskArg).dataFiles;
  } catch {
    return [];
  }
}

/** The files of a run's model and task that are missing here and in data-bundled/, and that only a mirror has (no public origin). */
export function mirrorOnlyNeeds(model: string, taskArg: string): Promise<string[]> {
  return unfetchable({ model, files: taskDataFiles(taskArg) });
}
