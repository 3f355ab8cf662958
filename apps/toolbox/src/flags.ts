// Flag helpers shared by the bench commands' code (loaded when a bench runs; commands.ts declares them).
import { UserError } from '@zotune/report';
import { parseBackend } from '@zotune/tensor';
import { enginePreference, parseThreads, type EngineName } from '@zotune/engine';

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

/** What a bench command's module gives the shared tail (commands.ts's benchOutput): the bench, and its result as text. */
export interface BenchCommand<F, R> {
  run(flags: F): Promise<R>;
  text(r: R): string;
}
