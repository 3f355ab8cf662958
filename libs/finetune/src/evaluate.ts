// What `zotune eval` does: accuracy of a model (or of a fine-tune run's best checkpoint) on a task
// split, argmax of the candidates' mean log-probability.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDataDir } from '@zotune/data';
import { resolveModel } from '@zotune/models';
import { engineNote, engineReport, forwardEngine, openModel } from '@zotune/engine';
import { peftConfigSchema, type PeftConfig } from '@zotune/peft';
import { cliText, memoryMark, readRunConfig, UserError, usageError } from '@zotune/report';
import { Collator, evaluate as evaluateExamples, resolveTask, type ClassCounts } from '@zotune/tasks';
import { backendNote, initBackend, type BackendName } from '@zotune/tensor';
import { modelFromWeights, WEIGHT_FILES } from './weights';

export interface EvaluateOptions {
  /** a name under the data dir's models/, a llama2.c .bin or a Hugging Face directory (default: the run's with `run`, else stories260K) */
  model?: string;
  /** a built-in task, a config in configs/tasks or a task .json (default: the run's with `run`, else sst2) */
  task?: string;
  /** default test */
  split?: 'dev' | 'test';
  /** evaluate the first n examples of the split (default: all) */
  n?: number;
  /** the sampling seed of the splits (default: the run's with `run`, else 0) */
  seed?: number;
  /** a fine-tune run directory: evaluate its best checkpoint (model.safetensors) */
  run?: string;
  /** examples per forward pass, at most (default 64) */
  batch?: number;
  /** tfjs backend (default auto; the CLI passes $ZOTUNE_BACKEND) */
  backend?: BackendName;
  /** forward engine: auto (ONNX Runtime when installed), ort or tfjs (default: $ZOTUNE_ENGINE, else auto) */
  engine?: 'auto' | 'ort' | 'tfjs';
  /** ONNX Runtime intra-op threads (default: the machine's cores) */
  threads?: number;
  /** stderr lines (the backend and engine notes, what is evaluated); nothing is written to stderr without it */
  log?: (line: string) => void;
  /** examples done of the total, after every batch */
  onProgress?: (done: number, total: number) => void;
}

export interface EvalReport {
  task: string;
  model: string;
  split: 'dev' | 'test';
  seed: number;
  accuracy: number;
  n: number;
  perClass: Record<string, ClassCounts>;
  /** confusion[gold][pred], classes in candidate order */
  confusion: number[][];
  seconds: number;
  examplesPerSecond: number;
  backend: string;
  /** the forward engine: name, why, and for ort its threads, version and sessions created */
  engine: Record<string, unknown>;
  /** how the split was sampled where it departs from the plain protocol */
  notes: string[];
  /** the weights evaluated when they are not the base model's (`run`) */
  weights?: string;
}

interface RunDefaults {
  model?: string;
  task?: string;
  seed?: number;
  weights: string;
  /** a PEFT run: its weights file holds the adapter */
  peft?: PeftConfig;
}

/** A run directory's model, task, seed and best checkpoint. */
function runDefaults(dir: string): RunDefaults {
  let config: Record<string, unknown>;
  try {
    config = readRunConfig(dir) as Record<string, unknown>;
  } catch (e) {
    throw new UserError(`--run: ${cliText(e)}`, 2);
  }
  const weights = join(dir, WEIGHT_FILES.best);
  if (!existsSync(weights)) throw new UserError(`--run: ${weights}: missing (the run has no best checkpoint yet)`, 2);
  const str = (k: string) => (typeof config[k] === 'string' ? (config[k] as string) : undefined);
  const peft = config.peft === undefined ? undefined : peftConfigSchema.safeParse(config.peft);
  if (peft && !peft.success) throw new UserError(`--run: ${join(dir, 'config.json')}: peft: ${peft.error.issues[0].message}`, 2);
  return { model: str('model'), task: str('task'), seed: typeof config.seed === 'number' ? config.seed : undefined, weights, peft: peft?.data };
}

/** Evaluate as `zotune eval` does; resolves to its JSON report. */
export async function evaluate(opts: EvaluateOptions = {}): Promise<EvalReport> {
  const log = opts.log ?? (() => {});
  const split = opts.split ?? 'test';
  if (split !== 'dev' && split !== 'test') throw new UserError(`--split: expected dev or test, got "${String(split)}"`, 2);
  const run = opts.run === undefined ? undefined : runDefaults(opts.run);
  const seed = opts.seed ?? run?.seed ?? 0;
  const modelArg = opts.model ?? run?.model ?? 'stories260K';
  const taskArg = opts.task ?? run?.task ?? 'sst2';
  const n = opts.n;
  let task;
  try {
    task = resolveTask(taskArg);
  } catch (e) {
    throw new UserError(`--task: ${cliText(e)}`, 2);
  }
  const dataDir = resolveDataDir();
  const splits = task.splits(dataDir, seed);
  const all = splits[split];
  const notes = [...splits.notes];
  if (n !== undefined && n > all.length) notes.push(`--n ${n}: the ${split} split has ${all.length} examples; using all of them`);
  const examples = n === undefined ? all : all.slice(0, n);
  if (examples.length === 0) throw new UserError(`--split ${split}: task ${task.name} has no ${split} examples (${notes.join('; ')})`);

  const backend = await initBackend(opts.backend ?? 'auto', { quiet: true });
  log(backendNote(backend).trimEnd());
  const engine = await forwardEngine({ engine: opts.engine, threads: opts.threads }, backend).catch(usageError);
  log(engineNote(engine).trimEnd());
  const resolved = resolveModel(modelArg, dataDir);
  let model;
  try {
    model = run ? await modelFromWeights(resolved.checkpoint, run.weights, engine, run.peft) : await openModel(resolved.checkpoint, engine, { handOver: true });
  } catch (e) {
    throw new UserError(`--run: ${cliText(e)}`);
  }
  memoryMark('model', { weightsBytes: 4 * model.blocks.reduce((k, b) => k + b.size, 0), weightsInJsArrays: model.blocks[0]?.data ? 1 : 0 });
  try {
    const collator = new Collator(task, resolved.tokenizer, model.config.maxSeqLen);
    const batchSize = opts.batch ?? 64;
    log(`eval: ${resolved.name} on ${task.name} ${split} (${examples.length} examples, seed ${seed}, batch ${batchSize})`);
    const r = await evaluateExamples(model, collator, examples, { batchSize, onProgress: opts.onProgress });
    memoryMark('evaluated');
    const truncated = examples.filter((e) => collator.encode(e).truncated > 0).length;
    if (truncated > 0) notes.push(`${truncated} prompts were longer than the model's context (${model.config.maxSeqLen}) and lost their start`);
    return {
      task: task.name,
      model: resolved.name,
      split,
      seed,
      accuracy: r.accuracy,
      n: r.n,
      perClass: r.perClass,
      confusion: r.confusion,
      seconds: r.seconds,
      examplesPerSecond: r.examplesPerSecond,
      backend: backend.name,
      engine: engineReport(engine),
      notes,
      ...(run ? { weights: run.weights } : {}),
    };
  } finally {
    await model.dispose();
  }
}
