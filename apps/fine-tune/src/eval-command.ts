// `zotune eval`: zero-shot (or fine-tuned) accuracy of a model on a task split; the work is
// @zotune/finetune's evaluate().
import type { Command } from 'commander';
import { evaluate, type EvalReport, type EvaluateOptions } from '@zotune/finetune';
import { parseThreads } from '@zotune/engine';
import { action, cliText, emit, parseNumber, UserError, usageError } from '@zotune/report';
import { parseBackend } from '@zotune/tensor';

export type { EvalReport } from '@zotune/finetune';

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

/** --threads as a number (one-line error, exit 2). */
function parseThreadsFlag(value: string): number {
  try {
    return parseThreads(value);
  } catch (e) {
    return usageError(e);
  }
}

/** Run an evaluation as the command does, from its flags (exported for scripts and tests). */
export async function runEval(opts: EvalCommandOptions, log: (line: string) => void = () => {}): Promise<EvalReport> {
  if (opts.split !== 'dev' && opts.split !== 'test') throw new UserError(`--split: expected dev or test, got "${opts.split}"`, 2);
  const seed = opts.seed === undefined ? undefined : parseNumber('--seed', opts.seed, { int: true, min: 0, max: 2 ** 32 - 1 });
  const batch = parseNumber('--batch', opts.batch, { int: true, min: 1 });
  const n = opts.n === undefined ? undefined : parseNumber('--n', opts.n, { int: true, min: 1 });
  let backend;
  try {
    backend = parseBackend(opts.backend ?? process.env.ZOTUNE_BACKEND, opts.backend ? '--backend' : 'ZOTUNE_BACKEND');
  } catch (e) {
    throw new UserError(cliText(e), 2);
  }
  return evaluate({
    ...opts,
    split: opts.split,
    seed,
    batch,
    n,
    backend,
    engine: opts.engine as EvaluateOptions['engine'],
    threads: opts.threads === undefined ? undefined : parseThreadsFlag(opts.threads),
    log,
    onProgress: (done, total) => {
      if (process.stderr.isTTY) process.stderr.write(`\reval: ${done}/${total}${done === total ? '\n' : ''}`);
    },
  });
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
    .option('--batch <batch>', 'examples per forward pass, at most (examples of similar length are batched together)', '64')
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
