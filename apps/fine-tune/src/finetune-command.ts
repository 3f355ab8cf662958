// `zotune finetune`: flags → config layer over the preset (--config) over the defaults → run directory.
// With no arguments it is the demo, configs/runs/demo.json (stories260K learning story-name with MeZO).
import { existsSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { action, emit, parseNumber, readRunConfig, UserError } from '@zotune/report';
import { parseLoraTargets, PEFT_METHODS } from '@zotune/peft';
import { parseEstimatorName } from '@zotune/zo';
import { DEFAULT_FORWARD_PASSES, DEFAULT_LR, DEFAULTS, DEMO_PRESET, PUBLIC_DEMO_PRESET, RUN_PRESET_DIR, loadPreset, passesPerStep, parseInput, parseRunConfig, resolveConfig, type FinetuneConfig, type FinetuneInput } from './config';
import { fetchRunData, mirrorOnlyNeeds } from './setup';
import { runFinetune, type FinetuneSummary } from './trainer';

interface FinetuneFlags {
  model?: string;
  task?: string;
  estimator?: string;
  policy?: string;
  candidates?: string;
  alpha?: string;
  normalize?: boolean;
  queries?: string;
  steps?: string;
  forwardPasses?: string;
  lr?: string;
  eps?: string;
  weightDecay?: string;
  batch?: string;
  seed?: string;
  evalEvery?: string;
  evalN?: string;
  testN?: string;
  evalBatch?: string;
  saveFinal?: boolean;
  out?: string;
  resume?: string;
  config?: string;
  backend?: string;
  engine?: string;
  threads?: string;
  oracleEvery?: string;
  peft?: string;
  loraRank?: string;
  loraAlpha?: string;
  loraTargets?: string;
  prefixTokens?: string;
  fetch?: boolean;
  json?: boolean;
}

/** Option key → flag, for messages. */
const FLAG: Record<string, string> = {
  model: '--model', task: '--task', estimator: '--estimator', policy: '--policy', candidates: '--candidates', alpha: '--alpha',
  normalize: '--no-normalize', queries: '--queries', steps: '--steps', forwardPasses: '--forward-passes', lr: '--lr', eps: '--eps',
  weightDecay: '--weight-decay', batch: '--batch', seed: '--seed', evalEvery: '--eval-every', evalN: '--eval-n', testN: '--test-n',
  evalBatch: '--eval-batch', saveFinal: '--save-final', out: '--out', config: '--config', backend: '--backend', oracleEvery: '--oracle-every',
  engine: '--engine', threads: '--threads', peft: '--peft', loraRank: '--lora-rank', loraAlpha: '--lora-alpha', loraTargets: '--lora-targets',
  prefixTokens: '--prefix-tokens',
};
/** Flags that choose how this session runs, not what the run is: allowed with --resume. */
const SESSION_FLAGS = ['engine', 'threads'];

/** A path argument as an absolute path (the run may be resumed or replayed from another directory). */
function absolutePath(arg: string, looksLikePath: boolean): string {
  return looksLikePath || existsSync(arg) ? resolve(arg) : arg;
}

/** The flags the user gave, as a config layer (numbers parsed and range-checked here, one line each). */
export function flagsToInput(f: FinetuneFlags, given: (key: string) => boolean): FinetuneInput {
  const layer: Record<string, unknown> = {};
  const int = (k: keyof FinetuneFlags, min = 1, max?: number) => {
    if (given(k)) layer[k] = parseNumber(FLAG[k], f[k] as string, { int: true, min, max });
  };
  const num = (k: keyof FinetuneFlags, opts: { min?: number; max?: number } = {}) => {
    if (given(k)) layer[k] = parseNumber(FLAG[k], f[k] as string, opts);
  };
  if (given('model')) layer.model = absolutePath(f.model!, /[\\/]/.test(f.model!) || f.model!.endsWith('.bin'));
  if (given('task')) layer.task = absolutePath(f.task!, /[\\/]/.test(f.task!) || f.task!.endsWith('.json'));
  if (given('estimator')) {
    try {
      layer.estimator = parseEstimatorName(f.estimator!.trim(), '--estimator');
    } catch (e) {
      throw new UserError((e as Error).message, 2);
    }
  }
  // a policy file becomes absolute (resume may run elsewhere); references and digests stay as they are
  if (given('policy')) layer.policy = absolutePath(f.policy!.trim(), false);
  int('candidates', 1, 1024);
  num('alpha');
  if (given('normalize')) layer.normalize = f.normalize;
  int('queries', 1, 1024);
  if (given('steps') && given('forwardPasses')) throw new UserError('--steps and --forward-passes: give one budget, not both', 2);
  int('steps');
  int('forwardPasses');
  num('lr');
  num('eps');
  num('weightDecay', { min: 0 });
  int('batch', 1, 4096);
  int('seed', 0, 0xffffffff);
  int('evalEvery');
  int('evalN');
  int('testN');
  int('evalBatch', 1, 4096);
  int('oracleEvery');
  if (given('saveFinal')) layer.saveFinal = true;
  if (given('backend')) layer.backend = f.backend;
  if (given('engine')) layer.engine = f.engine as FinetuneInput['engine'];
  int('threads', 1, 256);
  if (given('peft')) {
    const p = f.peft!.trim();
    if (!(PEFT_METHODS as readonly string[]).includes(p)) throw new UserError(`--peft: expected one of ${PEFT_METHODS.join(', ')}, got "${f.peft}"`, 2);
    layer.peft = p;
  }
  int('loraRank', 1, 4096);
  num('loraAlpha');
  if (given('loraTargets')) {
    try {
      layer.loraTargets = parseLoraTargets(f.loraTargets!);
    } catch (e) {
      throw new UserError((e as Error).message, 2);
    }
  }
  int('prefixTokens', 1, 4096);
  const flagsSource = 'flags';
  try {
    return parseInput(layer, flagsSource);
  } catch (e) {
    // name the flag rather than the field: "flags: lr: Too small …" → "--lr: …"
    const m = /^flags: ([A-Za-z]+): (.*)$/.exec((e as Error).message);
    throw m ? new UserError(`${FLAG[m[1]] ?? m[1]}: ${m[2]}`, 2) : e;
  }
}

/**
 * The config layers of a new run, later wins: the preset (--config; with no settings at all — --out,
 * --backend, --engine and --threads aside — the demo, configs/runs/demo.json), $ZOTUNE_BACKEND,
 * $ZOTUNE_ENGINE, the flags.
 */
export function configLayers(f: FinetuneFlags, given: (key: string) => boolean): { layers: FinetuneInput[]; demo: boolean } {
  const demo = Object.keys(FLAG).filter((k) => given(k) && k !== 'out' && k !== 'backend' && !SESSION_FLAGS.includes(k)).length === 0;
  const layers: FinetuneInput[] = [];
  if (demo) layers.push(loadPreset(join(RUN_PRESET_DIR, `${DEMO_PRESET}.json`))); // the shipped file, whatever ./demo is
  else if (given('config')) layers.push(loadPreset(f.config!));
  if (!given('backend') && process.env.ZOTUNE_BACKEND) layers.push(parseInput({ backend: process.env.ZOTUNE_BACKEND }, 'ZOTUNE_BACKEND'));
  if (!given('engine') && process.env.ZOTUNE_ENGINE) layers.push(parseInput({ engine: process.env.ZOTUNE_ENGINE }, 'ZOTUNE_ENGINE'));
  layers.push(flagsToInput(f, given));
  return { layers, demo };
}

function stamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-');
}

/** runs/<name>-<timestamp>, with -2, -3, … if taken. */
function defaultOut(name: string): string {
  const base = join('runs', `${name}-${stamp()}`);
  let out = base;
  for (let i = 2; existsSync(out); i++) out = `${base}-${i}`;
  return out;
}

function runName(c: FinetuneConfig): string {
  const task = basename(c.task, extname(c.task)).toLowerCase().replace(/[^a-z0-9]+/g, '');
  return `${task}-${c.estimator}${c.peft ? `-${c.peft.method}` : ''}-s${c.seed}`;
}

function human(s: FinetuneSummary): string {
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

/** Mount `zotune finetune`. */
export function registerFinetuneCommand(program: Command): void {
  const cmd = program
    .command('finetune')
    .description('fine-tune a model on a task with a ZO estimator (or adam); with no arguments, the demo (configs/runs/demo.json): stories260K on story-name, MeZO, before/after test accuracy')
    .option('--model <M>', `a name under the data dir's models/, a llama2.c .bin, or a Hugging Face directory (default ${DEFAULTS.model})`)
    .option('--task <T>', `a built-in task, a config in configs/tasks, or a task .json (default ${DEFAULTS.task})`)
    .option('--estimator <E>', `mezo, guided, greedy, elite or adam (default ${DEFAULTS.estimator})`)
    .option('--policy <REF>', `a policy reference, digest or file; none; auto = the model's shipped default if any (default ${DEFAULTS.policy}); oracle-density, oracle-curvature: yardsticks that need backward passes`)
    .option('--candidates <M>', `guided, greedy: candidate directions per step (default ${DEFAULTS.candidates})`)
    .option('--alpha <A>', `guided: fraction of candidates in TOP (default ${DEFAULTS.alpha})`)
    .option('--no-normalize', 'guided, elite: do not rescale v to E‖v‖² = d')
    .option('--queries <Q>', 'mezo: directions averaged per step (default 1)')
    .option('--steps <N>', 'optimizer steps')
    .option('--forward-passes <N>', `training budget in forward passes, the same for every estimator (default ${DEFAULT_FORWARD_PASSES})`)
    .option('--lr <LR>', `learning rate (default: ${Object.entries(DEFAULT_LR).map(([e, lr]) => `${e} ${lr}`).join(', ')})`)
    .option('--eps <EPS>', `perturbation scale ε (default ${DEFAULTS.eps})`)
    .option('--weight-decay <WD>', 'decoupled weight decay on embedding and matrix blocks (default 0)')
    .option('--batch <B>', `training examples per step (default ${DEFAULTS.batch})`)
    .option('--seed <S>', 'run seed: data splits, minibatches and noise (default 0)')
    .option('--eval-every <N>', 'dev accuracy every N steps (default: 5 evaluations per run)')
    .option('--eval-n <N>', `dev examples per evaluation (default ${DEFAULTS.evalN})`)
    .option('--test-n <N>', `test examples (default ${DEFAULTS.testN})`)
    .option('--eval-batch <B>', 'examples per forward pass when evaluating (default: --batch)')
    .option('--save-final', 'also write the last step\'s weights as final.safetensors')
    .option('--out <DIR>', 'run directory (default runs/<task>-<estimator>-s<seed>-<time>, the demo runs/demo-<time>)')
    .option('--resume <DIR>', 'continue a killed run from its last complete trajectory record (ZO runs; an adam run cannot be resumed)')
    .option('--config <FILE>', 'a preset JSON (configs/runs/*.json, or its name) that the flags override')
    .option('--oracle-every <K>', 'oracle policies: re-measure gradients (and curvature) every K steps (default 100)')
    .option('--peft <P>', 'parameter-efficient ZO: none (every block; default), lora or prefix')
    .option('--lora-rank <R>', '--peft lora: rank r (default 8)')
    .option('--lora-alpha <A>', '--peft lora: scale alpha, the update is (alpha/r)·A·B (default 16)')
    .option('--lora-targets <LIST>', '--peft lora: linears to adapt, e.g. q,v or q_proj,v_proj,o_proj (default q_proj,v_proj)')
    .option('--prefix-tokens <N>', '--peft prefix: trainable key/value positions per layer (default 5)')
    .option('--backend <B>', 'tfjs backend: auto, tensorflow, wasm or cpu (default: $ZOTUNE_BACKEND, else auto)')
    .option('--engine <E>', 'forward engine: auto (ORT for ZO runs, tfjs for adam), ort or tfjs (default: $ZOTUNE_ENGINE, else auto)')
    .option('--threads <N>', "ORT intra-op threads (default: the machine's cores)")
    .option('--fetch', 'first fetch the pinned model and task files the run needs that are missing (as `zotune data pull`; the demo does it by itself)')
    .option('--json', 'print the summary as one JSON object on stdout')
    .action(
      action(async (flags: FinetuneFlags, cmd: Command) => {
        const given = (k: string) => cmd.getOptionValueSource(k) === 'cli';
        const log = (line: string) => process.stderr.write(`${line}\n`);
        const configKeys = Object.keys(FLAG).filter(given);
        let config: FinetuneConfig;
        let dir: string;
        if (flags.resume !== undefined) {
          if (configKeys.some((k) => !SESSION_FLAGS.includes(k))) throw new UserError(`--resume: the run's config.json decides the settings; drop ${configKeys.filter((k) => !SESSION_FLAGS.includes(k)).map((k) => FLAG[k]).join(', ')}`, 2);
          dir = resolve(flags.resume);
          if (!existsSync(dir)) throw new UserError(`--resume ${flags.resume}: no such run directory`, 2);
          let raw: unknown;
          try {
            raw = readRunConfig(dir);
          } catch (e) {
            throw new UserError(`--resume: ${(e as Error).message}`, 2);
          }
          config = parseRunConfig(raw, join(dir, 'config.json'));
          const session = flagsToInput(flags, (k) => SESSION_FLAGS.includes(k) && given(k));
          if (session.engine) config.engine = session.engine;
          if (session.threads) config.threads = session.threads;
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
          if (demo || flags.fetch) await fetchRunData(config.model, config.task, log);
          dir = resolve(flags.out ?? defaultOut(demo ? 'demo' : runName(config)));
        }
        const summary = await runFinetune(config, { dir, resume: flags.resume !== undefined, log });
        emit(summary, !!flags.json, human(summary));
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
