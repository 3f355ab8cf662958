// Flag helpers shared by the bench commands.
import type { Command } from 'commander';
import { writeJsonAtomic } from '@zotune/io';
import { UserError, action, emit } from '@zotune/report';
import { parseBackend } from '@zotune/tensor';
import { enginePreference, parseThreads, type EngineName } from '@zotune/ort';

/** --backend, else $ZOTUNE_BACKEND, as a backend preference; a bad value is a one-line UserError naming its source. */
export function backendFlag(flag: string | undefined): ReturnType<typeof parseBackend> {
  try {
    return parseBackend(flag ?? process.env.ZOTUNE_BACKEND, flag !== undefined ? '--backend' : 'ZOTUNE_BACKEND');
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

/** --engine (else $ZOTUNE_ENGINE, else auto) and --threads (default: cores); a bad value is a one-line UserError naming its source. */
export function engineFlags(flags: { engine?: string; threads?: string }): { engine: EngineName; threads: number } {
  try {
    return { engine: enginePreference(flags.engine), threads: parseThreads(flags.threads) };
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

/**
 * The tail every bench command shares: --out, --backend, --json, and an action that runs the bench,
 * writes the JSON result to --out (atomically) and prints it (--json) or its text.
 */
export function benchOutput<F extends { out?: string; json?: boolean }, R>(cmd: Command, run: (flags: F) => Promise<R>, text: (r: R) => string): Command {
  return cmd
    .option('--out <FILE>', 'also write the result as JSON to FILE (atomically)')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm or cpu (default: $ZOTUNE_BACKEND, else auto)')
    .option('--json', 'print one JSON object on stdout at the end')
    .action(
      action(async (flags: F) => {
        const result = await run(flags);
        if (flags.out) writeJsonAtomic(flags.out, result);
        emit(result, !!flags.json, text(result));
      }),
    );
}
