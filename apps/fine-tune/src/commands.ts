// The registration of the finetune, replay and eval commands (the package's "./commands" entry, which
// the zotune bin mounts without the run API that index.ts also exports).
import type { Command } from 'commander';
import { registerEvalCommand } from './eval-command';
import { registerFinetuneCommand } from './finetune-command';
import { registerReplayCommand } from './replay-command';

/** Mount this app's commands on the zotune program: finetune, replay, eval. */
export function registerFineTuneCommands(program: Command): void {
  registerFinetuneCommand(program);
  registerReplayCommand(program);
  registerEvalCommand(program);
}
