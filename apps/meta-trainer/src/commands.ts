// The declaration of the meta-train command (the package's "./commands" entry, which the zotune bin
// mounts): its code, tfjs and the meta lib, loads when it runs (command.ts), so `zotune --help` does not.
import type { Command } from 'commander';
import { registerMetaTrainCommand } from './command';

/** Mount this app's commands on the zotune program: meta-train. */
export function registerMetaTrainerCommands(program: Command): void {
  registerMetaTrainCommand(program);
}
