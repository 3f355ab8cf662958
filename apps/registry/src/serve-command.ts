// `zotune registry serve`: the HTTP registry over a local store. With --json the one JSON object
// ({url, root, ...}) is printed as soon as the server listens, so a script can read the port;
// request lines go to stderr; SIGINT/SIGTERM close it cleanly. Declaration only: the action loads
// its code (actions.ts).
import { action } from '@zotune/report';
import type { Command } from 'commander';

/** = the registry lib's DEFAULT_MAX_UPLOAD_BYTES (16 MiB), repeated for the help, which must not load the lib (commands.spec.ts checks they agree). */
export const DEFAULT_MAX_BYTES_HELP = 16 * 1024 * 1024;

export function registerServeCommand(program: Command): void {
  const registry = program.command('registry').description('serve a policy registry over HTTP');
  registry
    .command('serve')
    .description('serve a store directory: list, show and pull are open; publish and rm need the bearer token')
    .requiredOption('--root <dir>', 'store directory (created on first publish)')
    .requiredOption('--port <n>', 'TCP port (0: any free port)')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--token-file <file>', 'file holding the bearer token for writes (without it, writes are refused)')
    .option('--max-bytes <n>', 'largest accepted upload in bytes', String(DEFAULT_MAX_BYTES_HELP))
    .option('--quiet', 'do not log requests on stderr')
    .option('--json', 'print one JSON object once listening')
    .action(action(async (opts: { root: string; port: string; host: string; tokenFile?: string; maxBytes: string; quiet?: boolean; json?: boolean }) => (await import('./actions')).registryServe(opts)));
}
