// Command-line conventions shared by every zotune command: results as one JSON object on stdout,
// progress on stderr, and bad input reported as one line naming the flag, file or field.
import { cliMessageOf } from '@zotune/io';

/** An error whose message is meant for the user as it is (no stack trace). */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}

/** Print the command's result: one JSON object on stdout with --json, else the human text. */
export function emit(result: unknown, json: boolean, human?: string): void {
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write((human ?? JSON.stringify(result, null, 2)) + '\n');
}

/** An error's message as the command line says it: its command-line wording when it has one (@zotune/io RemedyError), else its message. */
export function cliText(e: unknown): string {
  return cliMessageOf(e) ?? (e instanceof Error ? e.message : String(e));
}

/**
 * What tfjs-backend-wasm's abort() means to a user. Emscripten aborts with "Aborted()" and nothing else;
 * the one cause seen here is its heap's 4 GiB ceiling (e.g. adam on SmolLM2-135M: weights, gradients
 * and two moments are 2.2 GB before activations; tfjs eval of BoolQ at batch 16 on the same model).
 */
export const WASM_ABORT =
  'the tfjs wasm backend aborted, most likely out of memory (its heap holds at most 4 GiB: the weights, the activations, and for adam or meta-train the gradients and moments too); use a smaller --batch, --engine ort for forward-only work, --peft lora, or @tensorflow/tfjs-node';

/** One line for the user: the message of a known error (its command-line wording when it has one: @zotune/io RemedyError), the first line of anything else. */
export function oneLine(e: unknown): string {
  const msg = cliText(e);
  if (/^Aborted\(/.test(msg)) return WASM_ABORT;
  return msg.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
}

/**
 * Wrap a command action: errors become `zotune: <one line>` on stderr and a non-zero exit;
 * ZOTUNE_DEBUG=1 prints the stack as well.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.stderr.write(`zotune: ${oneLine(e)}\n`);
      if (process.env.ZOTUNE_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
      process.exitCode = e instanceof UserError ? e.exitCode : 1;
    }
  };
}

/** The exit code of a run stopped by Ctrl-C (128 + SIGINT, as a shell reports it). */
export const INTERRUPTED_EXIT_CODE = 130;

/**
 * Ctrl-C for a long run (finetune, meta-train): the first SIGINT aborts `signal`, which the run checks
 * at its next safe point (after the step under way: it then leaves a directory --resume continues), and
 * says so on stderr; a second SIGINT exits at once (what a kill leaves, which --resume also takes).
 * `release()` gives SIGINT back to Node's default (exit); call it when the run has ended.
 */
export function interruptOnSigint(command: string): { signal: AbortSignal; release: () => void } {
  const ac = new AbortController();
  const onSigint = () => {
    const nl = process.stderr.isTTY ? '\n' : ''; // below a progress line
    if (ac.signal.aborted) {
      process.stderr.write(`${nl}${command}: interrupted twice: exiting now\n`);
      process.exit(INTERRUPTED_EXIT_CODE);
    }
    process.stderr.write(`${nl}${command}: interrupted: stopping after the step under way (Ctrl-C again to exit now)\n`);
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: ac.signal, release: () => process.off('SIGINT', onSigint) };
}

/** What a run stopped by interruptOnSigint's signal says last: how to continue it (exit 130). */
export function interruptedError(command: string, step: number, steps: number, dir: string | undefined): UserError {
  if (dir === undefined) return new UserError(`${command}: interrupted before the run directory was made; nothing to resume`, INTERRUPTED_EXIT_CODE);
  return new UserError(`${command}: interrupted after step ${step} of ${steps}; resume with: zotune ${command} --resume ${/\s/.test(dir) ? JSON.stringify(dir) : dir}`, INTERRUPTED_EXIT_CODE);
}

/** Rethrow an error about a flag's value as a usage error (one line, exit code 2): `await f().catch(usageError)`. */
export function usageError(e: unknown): never {
  throw e instanceof UserError ? e : new UserError(oneLine(e), 2);
}

/** Parse a numeric flag; throws a UserError naming the flag and what was expected. */
export function parseNumber(flag: string, value: string | undefined, opts: { int?: boolean; min?: number; max?: number } = {}): number {
  const n = Number(value);
  const kind = opts.int ? 'an integer' : 'a number';
  if (value === undefined || value.trim() === '' || !Number.isFinite(n) || (opts.int && !Number.isInteger(n)))
    throw new UserError(`${flag}: expected ${kind}, got "${value}"`, 2);
  if (opts.min !== undefined && n < opts.min) throw new UserError(`${flag}: expected ${kind} >= ${opts.min}, got ${value}`, 2);
  if (opts.max !== undefined && n > opts.max) throw new UserError(`${flag}: expected ${kind} <= ${opts.max}, got ${value}`, 2);
  return n;
}
