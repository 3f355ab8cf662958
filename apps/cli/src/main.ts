// The zotune bin: mounts the commands of the apps; nothing else lives here.
import { Command, CommanderError } from 'commander';
import { registerFineTuneCommands } from '@zotune/app-fine-tune';
import { registerMetaTrainerCommands } from '@zotune/app-meta-trainer';
import { registerRegistryCommands } from '@zotune/app-registry';
import { registerSweepCommands } from '@zotune/app-sweep';
import { registerToolboxCommands } from '@zotune/app-toolbox';

const program = new Command('zotune')
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
