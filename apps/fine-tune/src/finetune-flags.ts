// The finetune command's flags, from the config schema: each setting of @zotune/finetune/schema is a
// flag named after its field in kebab case (forwardPasses → --forward-passes; a boolean that defaults
// to true is --no-<name>). Shared by the declaration (finetune-command.ts, which `zotune --help` loads)
// and the run (finetune-run.ts, loaded when the command runs), so it imports only the tfjs-free schema.
import { DEFAULTS, settings, type FinetuneInput } from '@zotune/finetune/schema';

/** The flags as commander parses them: every setting of the config schema (strings, booleans) and the session's own. */
export type FinetuneFlags = { [K in keyof FinetuneInput]?: string | boolean } & { out?: string; resume?: string; config?: string; fetch?: boolean; json?: boolean; queue?: string; queueName?: string; leaseSeconds?: string };

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/** The settings that are flags, from the config schema: key → its meta, in the schema's order. */
export const SETTINGS = settings().filter(([, m]) => m.cli !== false);
/** a boolean setting that defaults to true is turned off by --no-<name> */
export const negated = (key: string) => (DEFAULTS as Record<string, unknown>)[key] === true;
/** Option key → flag, for messages: the settings, and the two that name no setting but decide the run. */
export const FLAG: Record<string, string> = {
  ...Object.fromEntries(SETTINGS.map(([k]) => [k, negated(k) ? `--no-${kebab(k)}` : `--${kebab(k)}`])),
  out: '--out',
  config: '--config',
};
/** Flags that choose how this session runs, not what the run is: allowed with --resume. */
export const SESSION_FLAGS = ['engine', 'threads'];
