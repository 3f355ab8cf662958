// `zotune eval`: zero-shot (or fine-tuned) accuracy of a model on a task split.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { resolveDataDir } from '@zotune/data';
import { resolveModel } from '@zotune/models';
import { engineNote, engineReport, openModel, forwardEngine } from '@zotune/engine';
import { action, cliText, emit, memoryMark, parseNumber, readRunConfig, UserError, usageError } from '@zotune/report';
import { Collator, evaluate, resolveTask, type ClassCounts } from '@zotune/tasks';
import { initBackend, parseBackend } from '@zotune/tensor';
import { modelFromWeights, WEIGHT_FILES } from './weights';
import { peftConfigSchema, type PeftConfig } from '@zotune/peft';

export interface EvalCommandOptions {
  /** default: the run's model with --run, else stories260K */
  model?: string;
  /** default: the run's task with --run, else sst2 */
  task?: string;
  split: string;
  n?: string;
  /** default: the run's seed with --run, else 0 */
  seed?: string;
  /** a fine-tune run directory: evaluate its best checkpoint (model.safetensors) */
  run?: string;
  batch: string;
  backend?: string;
  /** forward engine: auto|ort|tfjs (default ZOTUNE_ENGINE, else auto) */
  engine?: string;
  /** ORT intra-op threads (default: the machine's cores) */
  threads?: string;
  json?: boolean;
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
  /** the weights evaluated when they are not the base model's (--run) */
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

/** --run DIR: the run's model, task, seed and best checkpoint. */
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

/** Run an evaluation as the command does (exported for scripts and tests). */
export async function runEval(opts: EvalCommandOptions, log: (line: string) => void = () => {}): Promise<EvalReport> {
  if (opts.split !== 'dev' && opts.split !== 'test') throw new UserError(`--split: expected dev or test, got "${opts.split}"`, 2);
  const split = opts.split;
  const run = opts.run === undefined ? undefined : runDefaults(opts.run);
  const seed = opts.seed === undefined ? run?.seed ?? 0 : parseNumber('--seed', opts.seed, { int: true, min: 0, max: 2 ** 32 - 1 });
  const modelArg = opts.model ?? run?.model ?? 'stories260K';
  const taskArg = opts.task ?? run?.task ?? 'sst2';
  const batchSize = parseNumber('--batch', opts.batch, { int: true, min: 1 });
  const n = opts.n === undefined ? undefined : parseNumber('--n', opts.n, { int: true, min: 1 });
  let backendName;
  try {
    backendName = parseBackend(opts.backend ?? process.env.ZOTUNE_BACKEND, opts.backend ? '--backend' : 'ZOTUNE_BACKEND');
  } catch (e) {
    throw new UserError(cliText(e), 2);
  }
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

  const backend = await initBackend(backendName);
  const engine = await forwardEngine({ engine: opts.engine, threads: opts.threads }, backend).catch(usageError);
  log(engineNote(engine).trimEnd());
  const resolved = resolveModel(modelArg, dataDir);
  let model;
  try {
    model = run ? await modelFromWeights(resolved.checkpoint, run.weights, engine, run.peft) : await openModel(resolved.checkpoint, engine, { handOver: true });
  } catch (e) {
    throw new UserError(`--run: ${cliText(e)}`);
  }
  memoryMark('model', { weightsBytes: 4 * model.blocks.reduce((n, b) => n + b.size, 0), weightsInJsArrays: model.blocks[0]?.data ? 1 : 0 });
  try {
    const collator = new Collator(task, resolved.tokenizer, model.config.maxSeqLen);
    log(`eval: ${resolved.name} on ${task.name} ${split} (${examples.length} examples, seed ${seed}, batch ${batchSize})`);
    const r = await evaluate(model, collator, examples, {
      batchSize,
      onProgress: (done, total) => {
        if (process.stderr.isTTY) process.stderr.write(`\reval: ${done}/${total}${done === total ? '\n' : ''}`);
      },
    });
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

function human(r: EvalReport): string {
  const lines = [
    `${r.task} ${r.split} (seed ${r.seed}), ${r.model}: accuracy ${(100 * r.accuracy).toFixed(1)}% on ${r.n} examples`,
    `  ${r.seconds.toFixed(2)} s, ${r.examplesPerSecond.toFixed(0)} examples/s (${r.backend}, engine ${r.engine.name})`,
    ...Object.entries(r.perClass).map(([k, c]) => `  ${k}: gold ${c.gold}, predicted ${c.pred}, correct ${c.correct}`),
    ...r.notes.map((s) => `  note: ${s}`),
  ];
  return lines.join('\n');
}

/** Mount `zotune eval`. */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('accuracy of a model on a task split (argmax of the candidates\' mean log-probability)')
    .option('--model <model>', 'a name under the data dir\'s models/, a llama2.c .bin, or a Hugging Face directory (default: stories260K, or the run\'s)')
    .option('--task <task>', 'a built-in task (sst2, rte, cb, boolq, wsc, wic, multirc, copa), a config in configs/tasks, or a task .json (default: sst2, or the run\'s)')
    .option('--split <split>', 'dev or test', 'test')
    .option('--n <n>', 'evaluate the first N examples of the split')
    .option('--seed <seed>', 'the sampling seed of the splits (default: 0, or the run\'s)')
    .option('--run <dir>', 'a fine-tune run directory: evaluate its best checkpoint (model.safetensors) on its task')
    .option('--batch <batch>', 'examples per forward pass', '64')
    .option('--backend <backend>', 'auto, tensorflow, wasm or cpu (default: ZOTUNE_BACKEND, else auto)')
    .option('--engine <engine>', 'forward engine: auto, ort or tfjs (default: ZOTUNE_ENGINE, else auto = ONNX Runtime when installed)')
    .option('--threads <n>', "ONNX Runtime intra-op threads (default: the machine's cores)")
    .option('--json', 'print one JSON object on stdout')
    .action(
      action(async (opts: EvalCommandOptions) => {
        const r = await runEval(opts, (line) => process.stderr.write(line + '\n'));
        emit(r, !!opts.json, human(r));
      }),
    );
}
