// `zotune eval` when it runs: the flags parsed, then @zotune/finetune's evaluate(). Loaded by the
// command's action (eval-command.ts), so `zotune --help` loads none of it; scripts and tests call runEval.
import { evaluate, type EvalReport, type EvaluateOptions } from '@zotune/finetune';
import { parseThreads } from '@zotune/engine';
import { cliText, parseNumber, UserError, usageError } from '@zotune/report';
import { parseBackend } from '@zotune/tensor';

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
