// `zotune finetune`: the declaration (options generated from the config schema, help); what it runs,
// flags → config layers → run directory, is finetune-run.ts, loaded by the action, so that `zotune --help`
// loads only the tfjs-free schema (@zotune/finetune/schema). With no arguments it is the demo,
// configs/runs/demo.json (stories260K learning story-name with MeZO).
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { DEFAULTS, DEMO_PRESET, RUN_PRESET_DIR, loadPreset } from '@zotune/finetune/schema';
import { action, emit, interruptOnSigint } from '@zotune/report';
import { FLAG, negated, SETTINGS, type FinetuneFlags } from './finetune-flags';

/** Mount `zotune finetune`. */
export function registerFinetuneCommand(program: Command): void {
  const cmd = program
    .command('finetune')
    .description('fine-tune a model on a task with a ZO estimator (or adam); with no arguments, the demo (configs/runs/demo.json): stories260K on story-name, MeZO, before/after test accuracy');
  // one option per setting of the config schema: its flag, value name, description and default come from there
  for (const [key, meta] of SETTINGS) {
    const d = meta.defaultText ?? (DEFAULTS as Record<string, unknown>)[key];
    const help = `${meta.description}${d !== undefined && !negated(key) && d !== false ? ` (default ${d})` : ''}`;
    cmd.addOption(new Option(meta.arg ? `${FLAG[key]} <${meta.arg}>` : FLAG[key], help));
  }
  cmd
    .option('--out <DIR>', 'run directory (default runs/<task>-<estimator>-s<seed>-<time>, the demo runs/demo-<time>)')
    .option('--resume <DIR>', 'continue a killed or interrupted run from its last complete trajectory record (ZO runs; an adam run cannot be resumed). Ctrl-C stops a run after the step under way and prints this command; twice, at once')
    .option('--config <FILE>', 'a preset JSON (configs/runs/*.json, or its name) that the flags override')
    .option('--fetch', 'first fetch the pinned model and task files the run needs that are missing (as `zotune data pull`; the demo does it by itself)')
    .option('--queue <URL>', 'distribute the run: each step\'s forward passes are done by `zotune worker --queue URL` processes (redis://[:password@]host:port[/db] or rediss://; needs --threads N); the run directory is a local run\'s')
    .option('--queue-name <Q>', 'BullMQ queue name of --queue (default: the sweeps\')')
    .option('--lease-seconds <S>', 'with --queue: an evaluation whose worker is silent this long goes to another worker (default 30)')
    .option('--json', 'print the summary as one JSON object on stdout')
    .action(
      action(async (flags: FinetuneFlags, cmd: Command) => {
        const { finetuneFromFlags, summaryText } = await import('./finetune-run');
        const interrupt = interruptOnSigint('finetune');
        try {
          const summary = await finetuneFromFlags(flags, (k) => cmd.getOptionValueSource(k) === 'cli', (line) => process.stderr.write(`${line}\n`), interrupt.signal);
          emit(summary, !!flags.json, summaryText(summary));
        } finally {
          interrupt.release();
        }
      }),
    );
  // bare `finetune` runs the demo preset, not DEFAULTS: each option's help names the demo's value where it differs
  const demo = loadPreset(join(RUN_PRESET_DIR, `${DEMO_PRESET}.json`)) as Record<string, unknown>;
  const defaults: Record<string, unknown> = DEFAULTS;
  for (const o of cmd.options) {
    const key = o.attributeName();
    if (key in FLAG && demo[key] !== undefined && demo[key] !== defaults[key]) o.description += `; with no arguments, the demo's ${demo[key]}`;
  }
}
