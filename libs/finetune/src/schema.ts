// The fine-tune run's settings: the zod schema of a preset or flag layer, each setting's metadata
// (description, value name, default in words), the defaults, and reading a preset. This module is the
// package's "./schema" entry and stays free of tfjs, ONNX Runtime and the ZO engine (it imports zod,
// and from the libs below only names: @zotune/zo/names, @zotune/peft/config), because the CLI's
// finetune options are generated from it when `zotune --help` is printed (tests/help-path.test.ts).
// The resolved form of a run (config.json) and resolving the layers into it are config.ts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WORKSPACE_ROOT } from '@zotune/data';
import { DEFAULT_LORA, DEFAULT_LORA_TARGETS, DEFAULT_PREFIX_TOKENS, parseLoraTargets, PEFT_METHODS, type PeftMethod } from '@zotune/peft/config';
import { UserError } from '@zotune/report';
import { estimatorNames, type EstimatorName } from '@zotune/zo/names';

/**
 * Where the shipped run presets live (`--config demo` names configs/runs/demo.json): in the workspace
 * (these sources, or an app's bundle), its configs/runs; installed from the tarball, the copy inside
 * this package (tools/prepack.mjs puts it there; src/schema.ts and dist/*.js both sit one below the
 * package), never a guessed repository root (installed, that would be node_modules/).
 */
export const RUN_PRESET_DIR =
  WORKSPACE_ROOT !== null ? join(WORKSPACE_ROOT, 'configs', 'runs') : join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'configs', 'runs');

/**
 * Learning rate per estimator when none is given. MeZO: 1e-4, its lr tuned on dev (story-name; 3.16e-4
 * diverges). The estimators that rank candidates tuned to 1.78e-4 on story-name at 1,000 forward
 * passes, but guided M = 8 at 1.78e-4 diverged on held-out story-cloze at 4,000, so they keep 1e-4,
 * where guided M = 4 ties MeZO there (docs/results/estimators-tuned.md, estimators.md). Adam 1e-3.
 */
export const DEFAULT_LR: Record<EstimatorName, number> = { mezo: 1e-4, guided: 1e-4, greedy: 1e-4, elite: 1e-4, adam: 1e-3 };

/**
 * A model's own lr where its evidence gives one (the model named as `--model` names it), by estimator and
 * what is trained (`--peft`; none = every block); everything else takes DEFAULT_LR. smollm2-135m
 * (docs/results/smollm2-evidence.md): full-parameter MeZO 3e-5, because at 1e-4 (stage 0's pick from 60
 * steps) it diverges past ~130 steps (stage 1, the demo); LoRA-ZO (r 8 on q,v) MeZO 1e-3, stage 0L's lr.
 */
export const MODEL_LR: Readonly<Record<string, Partial<Record<`${EstimatorName}/${PeftMethod}`, number>>>> = {
  'smollm2-135m': { 'mezo/none': 3e-5, 'mezo/lora': 1e-3 },
};

/** The model's own lr for this estimator and PEFT method (MODEL_LR), undefined where its evidence gives none. */
export function modelLr(model: string, estimator: EstimatorName, peft: PeftMethod): number | undefined {
  return MODEL_LR[model]?.[`${estimator}/${peft}`];
}

/** The lr a run takes when none is given: the model's own (MODEL_LR), else the estimator's (DEFAULT_LR). */
export function defaultLr(model: string, estimator: EstimatorName, peft: PeftMethod): number {
  return modelLr(model, estimator, peft) ?? DEFAULT_LR[estimator];
}

/** "mezo 0.0001, …, adam 0.001; smollm2-135m: mezo 3e-5, mezo with --peft lora 0.001" (the help's default) */
function lrDefaultText(): string {
  const models = Object.entries(MODEL_LR).map(([model, lrs]) => {
    const each = Object.entries(lrs).map(([key, lr]) => {
      const [estimator, peft] = key.split('/');
      return `${estimator}${peft === 'none' ? '' : ` with --peft ${peft}`} ${lr}`;
    });
    return `; ${model}: ${each.join(', ')}`;
  });
  return Object.entries(DEFAULT_LR).map(([e, lr]) => `${e} ${lr}`).join(', ') + models.join('');
}

/** The default budget (1,200 forward passes: 600 MeZO steps, 200 guided steps with M = 4). */
export const DEFAULT_FORWARD_PASSES = 1200;
/** What `zotune finetune` runs with no arguments (configs/runs/demo.json). */
export const DEMO_PRESET = 'demo';
/** The demo where demo.json's files cannot be had (no data-bundled/, no mirror): configs/runs/demo-public.json. */
export const PUBLIC_DEMO_PRESET = 'demo-public';
/** --policy oracle-*: steps between two gradient measurements. */
export const DEFAULT_ORACLE_EVERY = 100;

/** Dev evaluations per run when --eval-every is not given. */
export const DEFAULT_EVALS_PER_RUN = 5;

export const posInt = z.number().int().min(1);

/**
 * What a setting tells its users: the description (`zotune finetune --help`, the library's docs), the
 * value's name in the help (`--lr <LR>`), and its default in words where DEFAULTS holds no value for it
 * (computed, per estimator, or from the environment). The flag is the field's name in kebab case
 * (forwardPasses → --forward-passes; a boolean that defaults to true is --no-<name>).
 */
export interface SettingMeta {
  description: string;
  arg?: string;
  defaultText?: string;
  /** not a flag (a preset's own description) */
  cli?: false;
}

/** LoRA's module names: a list, or one comma-separated string as the flag takes it (q,v = q_proj,v_proj). */
const loraTargetList = z.preprocess((v, ctx) => {
  if (typeof v !== 'string') return v;
  try {
    return parseLoraTargets(v, 'loraTargets');
  } catch (e) {
    // the message without its own prefix and value: the one line names the source, field and value
    ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^loraTargets: /, '').replace(/, got ".*"$/, '') });
    return z.NEVER;
  }
}, z.array(z.string().min(1)).min(1));

/** An optional field of the input schema with its SettingMeta. */
function setting<T extends z.ZodType>(type: T, meta: SettingMeta) {
  return type.optional().meta({ ...meta });
}

/** Everything a preset or the flags may set; all optional (the defaults fill the rest). Each setting is declared here once. */
export const finetuneInputSchema = z.strictObject({
  description: setting(z.string(), { description: 'what a preset is for; ignored by the run', cli: false }),
  model: setting(z.string().min(1), { arg: 'M', description: "a name under the data dir's models/, a llama2.c .bin, or a Hugging Face directory" }),
  task: setting(z.string().min(1), { arg: 'T', description: 'a built-in task, a config in configs/tasks, or a task .json' }),
  estimator: setting(z.enum(estimatorNames), { arg: 'E', description: 'mezo, guided, greedy, elite or adam' }),
  policy: setting(z.string().min(1), {
    arg: 'REF',
    description: "a policy reference, digest or file; none; auto = the model's shipped default if one was made for the run's blocks (every block, or the same --peft adapter); oracle-density, oracle-curvature: yardsticks that need backward passes",
  }),
  candidates: setting(posInt.max(1024), { arg: 'M', description: 'guided, greedy: candidate directions per step' }),
  alpha: setting(z.number().gt(0).lt(1), { arg: 'A', description: 'guided: fraction of candidates in TOP' }),
  normalize: setting(z.boolean(), { description: "guided, elite: rescale v to E‖v‖² = d, as MeZO's z (--no-normalize keeps v as drawn)" }),
  queries: setting(posInt.max(1024), { arg: 'Q', description: 'mezo: directions averaged per step (n-SPSA)' }),
  steps: setting(posInt, { arg: 'N', description: 'optimizer steps' }),
  forwardPasses: setting(posInt, { arg: 'N', description: 'training budget in forward passes, the same for every estimator', defaultText: String(DEFAULT_FORWARD_PASSES) }),
  lr: setting(z.number().positive(), { arg: 'LR', description: 'learning rate η', defaultText: lrDefaultText() }),
  eps: setting(z.number().positive(), { arg: 'EPS', description: 'perturbation scale ε' }),
  weightDecay: setting(z.number().min(0), { arg: 'WD', description: 'decoupled weight decay λ on embedding and matrix blocks' }),
  batch: setting(posInt.max(4096), { arg: 'B', description: 'training examples per step' }),
  shards: setting(posInt.max(4096), {
    arg: 'N',
    description: "data-parallel: each evaluation's minibatch in N shards (a forward pass each, their loss sums added in order); `--queue` workers share them, a local run does them one after another, with the same bits",
    defaultText: '1',
  }),
  seed: setting(z.number().int().min(0).max(0xffffffff), { arg: 'S', description: 'run seed: data splits, minibatches and noise' }),
  evalEvery: setting(posInt, { arg: 'N', description: 'dev accuracy every N steps', defaultText: `${DEFAULT_EVALS_PER_RUN} evaluations per run` }),
  evalN: setting(posInt, { arg: 'N', description: 'dev examples per evaluation (the first N of the dev split)' }),
  testN: setting(posInt, { arg: 'N', description: 'test examples (zero-shot at the start, the best checkpoint at the end)' }),
  evalBatch: setting(posInt.max(4096), { arg: 'B', description: 'examples per forward pass when evaluating', defaultText: 'batch, so evaluation needs no more memory than a step' }),
  saveFinal: setting(z.boolean(), { description: "also write the last step's weights as final.safetensors" }),
  backend: setting(z.enum(['auto', 'tensorflow', 'wasm', 'cpu']), { arg: 'B', description: 'tfjs backend: auto, tensorflow, wasm or cpu', defaultText: '$ZOTUNE_BACKEND, else auto' }),
  engine: setting(z.enum(['auto', 'ort', 'tfjs']), { arg: 'E', description: 'forward engine: auto (ORT for ZO runs, tfjs for adam), ort or tfjs', defaultText: '$ZOTUNE_ENGINE, else auto' }),
  threads: setting(posInt.max(256), { arg: 'N', description: "ORT intra-op threads (and the noise workers')", defaultText: "the machine's cores" }),
  oracleEvery: setting(posInt, { arg: 'K', description: 'oracle policies: re-measure gradients (and curvature) every K steps', defaultText: String(DEFAULT_ORACLE_EVERY) }),
  peft: setting(z.enum(PEFT_METHODS), { arg: 'P', description: 'parameter-efficient ZO: none (every block), lora or prefix', defaultText: 'none' }),
  loraRank: setting(posInt.max(4096), { arg: 'R', description: '--peft lora: rank r', defaultText: String(DEFAULT_LORA.rank) }),
  loraAlpha: setting(z.number().positive(), { arg: 'A', description: '--peft lora: scale alpha, the update is (alpha/r)·A·B', defaultText: String(DEFAULT_LORA.alpha) }),
  loraTargets: setting(loraTargetList, { arg: 'LIST', description: '--peft lora: linears to adapt, e.g. q,v or q_proj,v_proj,o_proj', defaultText: DEFAULT_LORA_TARGETS.join(',') }),
  prefixTokens: setting(posInt.max(4096), { arg: 'N', description: '--peft prefix: trainable key/value positions per layer', defaultText: String(DEFAULT_PREFIX_TOKENS) }),
});
export type FinetuneInput = z.infer<typeof finetuneInputSchema>;

/**
 * The defaults under every preset and flag (the no-argument demo is a preset: DEMO_PRESET). MeZO with
 * no policy: of six estimators, each at its own dev-tuned lr, the stage-A winner (guided M = 8) lost
 * every seed pair to MeZO on a held-out task (docs/results/estimators-tuned.md), and no learned policy
 * has been shown to help on held-out tasks (docs/results/policy-decisive.md: even at its own tuned lr
 * the candidate lost all 18 seed pairs); `--policy auto` applies
 * the model's shipped one.
 */
export const DEFAULTS = {
  model: 'stories260K',
  task: 'sst2',
  estimator: 'mezo',
  policy: 'none',
  candidates: 4,
  alpha: 0.5,
  normalize: true,
  queries: 1,
  eps: 1e-3,
  weightDecay: 0,
  batch: 16,
  seed: 0,
  evalN: 500,
  testN: 1000,
  saveFinal: false,
  backend: 'auto',
} as const satisfies FinetuneInput;

/** One line naming the source, the field, the value and what was expected. */
export function zodProblem(err: z.ZodError, value: unknown, source: string): string {
  const i = err.issues[0];
  const field = i.path.join('.');
  const got = i.path.length && value && typeof value === 'object' ? (value as Record<string, unknown>)[String(i.path[0])] : undefined;
  if (i.code === 'unrecognized_keys') return `${source}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${source}: ${field || '(root)'}: ${i.message}${got !== undefined ? ` (got ${JSON.stringify(got)})` : ''}`;
}

/** The SettingMeta of every field of the input schema, in its order. */
export function settings(): [keyof FinetuneInput, SettingMeta][] {
  return Object.entries(finetuneInputSchema.shape).map(([k, t]) => [k as keyof FinetuneInput, t.meta() as unknown as SettingMeta]);
}

/** Validate a preset or flag layer. */
export function parseInput(value: unknown, source: string): FinetuneInput {
  const r = finetuneInputSchema.safeParse(value);
  if (!r.success) throw new UserError(zodProblem(r.error, value, source), 2);
  return r.data;
}

/** `--config FILE`: a JSON preset; a bare name means configs/runs/<name>.json. */
export function loadPreset(arg: string): FinetuneInput {
  const named = /^[A-Za-z0-9._-]+$/.test(arg) && !arg.endsWith('.json') ? join(RUN_PRESET_DIR, `${arg}.json`) : undefined;
  const file = named && !existsSync(arg) ? named : resolve(arg);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`--config ${arg}: cannot read ${file} (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`, 2);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not JSON (${(e as Error).message.split('\n')[0]})`, 2);
  }
  return parseInput(json, file);
}

/** Output formats of `zotune replay` (here, not in replay.ts, because its --help names them). */
export const REPLAY_FORMATS = ['safetensors', 'gguf'] as const;
export type ReplayFormat = (typeof REPLAY_FORMATS)[number];
