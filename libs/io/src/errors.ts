// Errors whose remedy reads differently for a library user and on the command line.

/**
 * `message` names what a library user calls or sets (an API, an environment variable); `cliMessage`
 * says the same for the command line (the `zotune` command to run). The CLI's error printer
 * (@zotune/report `oneLine`) prints `cliMessage`; everything else sees `message`.
 */
export class RemedyError extends Error {
  constructor(
    message: string,
    readonly cliMessage: string,
  ) {
    super(message);
    this.name = 'RemedyError';
  }
}

/** The command-line wording of an error when it has one (duck-typed: the class may come from another copy of this package). */
export function cliMessageOf(e: unknown): string | undefined {
  const m = (e as { cliMessage?: unknown } | null)?.cliMessage;
  return typeof m === 'string' ? m : undefined;
}
