// The zotune bin: mounts the commands of the apps; nothing else lives here. What is imported here is
// only the commands' declarations (names, options, help): each command loads its code in its action
// (a dynamic import(), its own chunk of the bundle), so `zotune --help` starts without tfjs, ONNX
// Runtime or the ZO engine: commander, and zod for the finetune options generated from the settings
// schema (tests/help-path.test.ts; scripts/bench-start.ts measures it against a bare `node -e 0`).
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerFineTuneCommands } from '@zotune/app-fine-tune/commands';
import { registerMetaTrainerCommands } from '@zotune/app-meta-trainer/commands';
import { registerRegistryCommands } from '@zotune/app-registry';
import { registerSweepCommands } from '@zotune/app-sweep';
import { registerToolboxCommands } from '@zotune/app-toolbox';

// the bin's package (apps/cli/package.json): src/main.ts and the bundle dist/main.js both sit one below it
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('zotune')
  .version(version, '-V, --version', 'print the version of zotune')
  .description('forward-only (zeroth-order) fine-tuning with learned perturbation policies and the prior-guided estimator')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerFineTuneCommands(program);
registerMetaTrainerCommands(program);
registerRegistryCommands(program);
registerSweepCommands(program);
registerToolboxCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // commander already printed its one-line message (unknown option, missing argument, ...)
  if (e instanceof CommanderError) process.exitCode = e.exitCode === 0 ? 0 : 2;
  else throw e;
}
