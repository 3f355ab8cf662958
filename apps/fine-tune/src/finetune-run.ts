// `zotune finetune` when it runs: flags → config layers over the preset (--config) over the defaults →
// @zotune/finetune's runFinetune → the summary. Loaded by the command's action (finetune-command.ts),
// so `zotune --help` loads none of it (tfjs, ORT, the ZO engine).
import { join, resolve } from 'node:path';
import { z } from 'zod';
import {
  DEMO_PRESET, FinetuneAbortError, modelLr, PUBLIC_DEMO_PRESET, RUN_PRESET_DIR, defaultRunDir, fetchRunData, loadPreset, mirrorOnlyNeeds,
  finetuneInputSchema, parseInput, passesPerStep, resolveConfig, resumeConfig, runFinetune, runName, withAbsolutePaths, type FinetuneConfig, type FinetuneInput, type FinetuneSummary,
} from '@zotune/finetune';
import { INTERRUPTED_EXIT_CODE, interruptedError, parseNumber, UserError } from '@zotune/report';
import { parseLoraTargets, PEFT_METHODS } from '@zotune/peft';
import { parseEstimatorName } from '@zotune/zo';
import { FLAG, SESSION_FLAGS, SETTINGS, type FinetuneFlags } from './finetune-flags';

/** How a flag's string becomes a setting's value where the schema's type does not say (paths, names with their own messages, lists). */
const PARSE: Partial<Record<keyof FinetuneInput, (v: string) => unknown>> = {
  estimator: (v) => oneLine(() => parseEstimatorName(v.trim(), '--estimator')),
  peft: (v) => {
    if (!(PEFT_METHODS as readonly string[]).includes(v.trim())) throw new UserError(`--peft: expected one of ${PEFT_METHODS.join(', ')}, got "${v}"`, 2);
    return v.trim();
  },
  loraTargets: (v) => oneLine(() => parseLoraTargets(v)),
};

async function oneLineAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

function oneLine<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

/** A flag's value by the schema's type: a number parsed and range-checked against the schema's inclusive bounds (one line), else as given. */
function parseBySchema(key: keyof FinetuneInput, value: string | boolean): unknown {
  const type = (finetuneInputSchema.shape[key] as z.ZodOptional<z.ZodType>).unwrap();
  if (!(type instanceof z.ZodNumber) || typeof value !== 'string') return value;
  const bound = (check: string) => (type._zod.def.checks ?? []).map((c) => c._zod.def as { check: string; value?: number; inclusive?: boolean }).find((c) => c.check === check && c.inclusive)?.value;
  return parseNumber(FLAG[key], value, { int: !!type.isInt, min: bound('greater_than'), max: bound('less_than') });
}

/** The flags the user gave, as a config layer (numbers parsed and range-checked here, one line each). */
export function flagsToInput(f: FinetuneFlags, given: (key: string) => boolean): FinetuneInput {
  if (given('steps') && given('forwardPasses')) throw new UserError('--steps and --forward-passes: give one budget, not both', 2);
  const layer: Record<string, unknown> = {};
  for (const [key] of SETTINGS) {
    const v = f[key];
    if (!given(key) || v === undefined) continue;
    const parse = PARSE[key];
    layer[key] = parse && typeof v === 'string' ? parse(v) : parseBySchema(key, v);
  }
  const flagsSource = 'flags';
  try {
    // files become absolute (resume may run elsewhere); references and digests stay as they are
    return withAbsolutePaths(parseInput(layer, flagsSource));
  } catch (e) {
    // name the flag rather than the field: "flags: lr: Too small …" → "--lr: …"
    const m = /^flags: ([A-Za-z]+): (.*)$/.exec((e as Error).message);
    throw m ? new UserError(`${FLAG[m[1]] ?? m[1]}: ${m[2]}`, 2) : e;
  }
}

/**
 * The config layers of a new run, later wins: the preset (--config; with no settings at all — --out,
 * --backend, --engine and --threads aside — the demo, configs/runs/demo.json), $ZOTUNE_BACKEND and
 * $ZOTUNE_ENGINE where the preset does not name its own (a sweep's run config does), the flags.
 */
export function configLayers(f: FinetuneFlags, given: (key: string) => boolean): { layers: FinetuneInput[]; demo: boolean } {
  const demo = Object.keys(FLAG).filter((k) => given(k) && k !== 'out' && k !== 'backend' && !SESSION_FLAGS.includes(k)).length === 0;
  const layers: FinetuneInput[] = [];
  if (demo) layers.push(loadPreset(join(RUN_PRESET_DIR, `${DEMO_PRESET}.json`))); // the shipped file, whatever ./demo is
  else if (given('config')) layers.push(loadPreset(f.config!));
  const preset: FinetuneInput = layers[0] ?? {};
  if (!given('backend') && preset.backend === undefined && process.env.ZOTUNE_BACKEND) layers.push(parseInput({ backend: process.env.ZOTUNE_BACKEND }, 'ZOTUNE_BACKEND'));
  if (!given('engine') && preset.engine === undefined && process.env.ZOTUNE_ENGINE) layers.push(parseInput({ engine: process.env.ZOTUNE_ENGINE }, 'ZOTUNE_ENGINE'));
  layers.push(flagsToInput(f, given));
  return { layers, demo };
}

/** The summary as the command prints it without --json. */
export function summaryText(s: FinetuneSummary): string {
  const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
  return [
    `${s.model} on ${s.task}, ${s.estimator} (policy ${s.policy}), seed ${s.seed}: ${s.steps} steps, ${s.forwardPasses} forward passes`,
    `  dev ${pct(s.bestDevAcc)} at step ${s.bestStep} (zero-shot ${pct(s.zeroShotDevAcc)}); test ${pct(s.testAcc)} (zero-shot ${pct(s.zeroShotTestAcc)})`,
    `  final train loss ${s.finalTrainLoss.toFixed(4)}, ${s.secondsPerStep.toFixed(3)} s/step, peak RSS ${s.peakRssMiB.toFixed(0)} MiB`,
    `  run directory: ${s.runDir} (report.html)`,
    beforeAfter(s),
  ].join('\n');
}

/** The last line: the base model and the fine-tuned one on the same test sample. */
export function beforeAfter(s: Pick<FinetuneSummary, 'task' | 'testN' | 'zeroShotTestAcc' | 'testAcc' | 'bestStep'>): string {
  const pts = 100 * (s.testAcc - s.zeroShotTestAcc);
  const change = s.bestStep === 0 ? 'no dev gain: the best checkpoint is the base model' : `${pts >= 0 ? '+' : ''}${pts.toFixed(1)} points`;
  return `before → after, ${s.task} test accuracy on the same ${s.testN} examples: zero-shot ${(100 * s.zeroShotTestAcc).toFixed(1)}% → fine-tuned ${(100 * s.testAcc).toFixed(1)}% (${change})`;
}

/**
 * Run `zotune finetune` from its parsed flags (`given(key)`: whether the user gave that flag): a new run
 * from the config layers, or --resume DIR. Resolves to the run's summary; aborted by `signal` (Ctrl-C),
 * it rejects with the one line that says how to resume (exit 130).
 */
export async function finetuneFromFlags(flags: FinetuneFlags, given: (key: string) => boolean, log: (line: string) => void, signal?: AbortSignal): Promise<FinetuneSummary> {
  const configKeys = Object.keys(FLAG).filter(given);
  let config: FinetuneConfig;
  let dir: string;
  if (flags.resume !== undefined) {
    if (configKeys.some((k) => !SESSION_FLAGS.includes(k))) throw new UserError(`--resume: the run's config.json decides the settings; drop ${configKeys.filter((k) => !SESSION_FLAGS.includes(k)).map((k) => FLAG[k]).join(', ')}`, 2);
    dir = resolve(flags.resume);
    config = resumeConfig(flags.resume, flagsToInput(flags, (k) => SESSION_FLAGS.includes(k) && given(k)));
    log(`finetune: resuming ${dir}`);
  } else {
    const { layers, demo } = configLayers(flags, given);
    config = resolveConfig(layers);
    let demoPreset = DEMO_PRESET;
    if (demo) {
      // the in-domain demo task is built from a corpus with no public origin: data-bundled/ or a mirror has
      // it; where neither does (the bundle removed), the demo runs on public data (and says what it would need)
      const mirrorOnly = await mirrorOnlyNeeds(config.model, config.task);
      if (mirrorOnly.length > 0) demoPreset = PUBLIC_DEMO_PRESET;
      if (mirrorOnly.length > 0) {
        log(`finetune: the demo's task ${config.task} needs ${mirrorOnly.join(', ')}, which neither data-bundled/ nor the data directory has (a mirror does: zotune data pull --from DIR); running ${PUBLIC_DEMO_PRESET}.json on public data instead (SST-2: it ends near chance)`);
        layers[0] = loadPreset(join(RUN_PRESET_DIR, `${PUBLIC_DEMO_PRESET}.json`));
        config = resolveConfig(layers);
      }
    }
    if (demo)
      log(`finetune: no arguments, running the demo (configs/runs/${demoPreset}.json): ${config.model} on ${config.task}, ${config.estimator}${config.estimator === 'guided' || config.estimator === 'greedy' ? ` (M = ${config.candidates})` : ''}, lr ${config.lr}, ${config.steps * passesPerStep(config)} forward passes (${config.steps} steps); see --help for the options`);
    // an lr no layer gave but the model's evidence did (MODEL_LR) is said, since it differs from the estimator's default
    const peft = config.peft?.method ?? 'none';
    if (!layers.some((l) => l.lr !== undefined) && modelLr(config.model, config.estimator, peft) === config.lr)
      log(`finetune: lr ${config.lr}, ${config.model}'s own for ${config.estimator}${peft === 'none' ? '' : ` with --peft ${peft}`} (see --help for --lr; --lr sets another)`);
    if (demo || flags.fetch) await fetchRunData(config.model, config.task, log);
    dir = resolve(flags.out ?? defaultRunDir(demo ? 'demo' : runName(config)));
  }
  if (flags.queue === undefined && (flags.queueName !== undefined || flags.leaseSeconds !== undefined)) throw new UserError(`${flags.queueName !== undefined ? '--queue-name' : '--lease-seconds'}: only with --queue`, 2);
  let losses;
  if (flags.queue !== undefined) {
    const leaseSeconds = flags.leaseSeconds === undefined ? undefined : parseNumber('--lease-seconds', flags.leaseSeconds, { min: 0.1, max: 86400 });
    const d = await import('@zotune/distributed');
    // a queue that cannot be used (unreachable, wrong password) is one line before anything is written
    await oneLineAsync(() => d.checkRedis(flags.queue!));
    losses = d.coordinatorLosses({ url: flags.queue, queueName: flags.queueName, leaseSeconds });
  }
  return runFinetune(config, { dir, resume: flags.resume !== undefined, log, signal, losses }).catch((e: unknown) => {
    if (!(e instanceof FinetuneAbortError)) throw e;
    // adam keeps no trajectory: its directory cannot be resumed
    if (config.estimator === 'adam' && e.dir !== undefined) throw new UserError(`finetune: interrupted after step ${e.step} of ${e.steps}; an adam run cannot be resumed (its directory: ${e.dir})`, INTERRUPTED_EXIT_CODE);
    throw interruptedError('finetune', e.step, e.steps, e.dir);
  });
}
