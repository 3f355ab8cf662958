// Flags of `zotune meta-train` → a validated run description, and the registry flags.
import { parseMetaConfig, type MetaConfig } from '@zotune/meta';
import { parseLoraTargets, peftConfigOf, PEFT_METHODS, type PeftConfig, type PeftMethod } from '@zotune/peft';
import { DEFAULT_POLICY_NAME, DEFAULT_POLICY_TAG, defaultRegistryLocation, openRegistry, parseRef, readBearerToken, type PolicyRef, type PolicyRegistry } from '@zotune/registry';
import { parseNumber, UserError } from '@zotune/report';

/** The raw commander options (strings; undefined when the flag was not given). */
export interface MetaTrainFlags {
  model?: string;
  tasks?: string;
  epochs?: string;
  resetEvery?: string;
  batch?: string;
  eps?: string;
  lrMlp?: string;
  lrLlm?: string;
  metaLr?: string;
  metaLrMax?: string;
  nfGrad?: boolean;
  lookaheadSteps?: string;
  features?: string;
  metaGrad?: string;
  spsaDirections?: string;
  spsaScale?: string;
  spsaSpace?: string;
  threads?: string;
  maxSteps?: string;
  trainExamples?: string;
  hidden?: string;
  seed?: string;
  dataSeed?: string;
  checkpointEvery?: string;
  peft?: string;
  loraRank?: string;
  loraAlpha?: string;
  loraTargets?: string;
  prefixTokens?: string;
  out?: string;
  resume?: string;
  publish?: string[];
  registry?: string;
  tokenFile?: string;
  name?: string;
  tag?: string;
  description?: string;
  backend?: string;
  json?: boolean;
}

/** Flags that only a new run may set (a resumed run takes them from its config.json). */
const TRAINING_FLAGS: [keyof MetaTrainFlags, string][] = [
  ['model', '--model'], ['tasks', '--tasks'], ['epochs', '--epochs'], ['resetEvery', '--reset-every'], ['batch', '--batch'], ['eps', '--eps'],
  ['lrMlp', '--lr-mlp'], ['lrLlm', '--lr-llm'], ['metaLr', '--meta-lr'], ['metaLrMax', '--meta-lr-max'], ['nfGrad', '--nf-grad'], ['lookaheadSteps', '--lookahead-steps'], ['features', '--features'], ['metaGrad', '--meta-grad'], ['spsaDirections', '--spsa-directions'], ['spsaScale', '--spsa-scale'], ['spsaSpace', '--spsa-space'], ['maxSteps', '--max-steps'], ['trainExamples', '--train-examples'],
  ['hidden', '--hidden'], ['seed', '--seed'], ['dataSeed', '--data-seed'], ['checkpointEvery', '--checkpoint-every'], ['out', '--out'],
  ['peft', '--peft'], ['loraRank', '--lora-rank'], ['loraAlpha', '--lora-alpha'], ['loraTargets', '--lora-targets'], ['prefixTokens', '--prefix-tokens'],
  ['name', '--name'], ['description', '--description'],
];

export function checkResumeFlags(flags: MetaTrainFlags): void {
  const given = TRAINING_FLAGS.filter(([k]) => flags[k] !== undefined).map(([, f]) => f);
  if (given.length) throw new UserError(`--resume: the run's config.json fixes ${given.join(', ')}; drop ${given.length > 1 ? 'them' : 'it'}`, 2);
}

/**
 * The meta config from the flags (defaults: ALGORITHMS.md §5's reference settings), for metaGrad (resolveMetaGrad:
 * --meta-grad auto needs the model's parameter count, which @zotune/meta's metaTrain knows).
 */
export function metaConfigFromFlags(f: MetaTrainFlags, metaGrad: 'exact' | 'spsa' = 'exact'): MetaConfig {
  const num = (flag: string, v: string | undefined, o: { int?: boolean; min?: number; max?: number; positive?: boolean } = {}) => {
    if (v === undefined) return undefined;
    const n = parseNumber(flag, v, o);
    if (o.positive && !(n > 0)) throw new UserError(`${flag}: expected a number > 0, got ${v}`, 2);
    return n;
  };
  const value = {
    epochs: num('--epochs', f.epochs, { int: true, min: 1 }),
    resetEvery: num('--reset-every', f.resetEvery, { int: true, min: 1 }),
    batch: num('--batch', f.batch, { int: true, min: 1 }),
    eps: num('--eps', f.eps, { positive: true }),
    lrMlp: num('--lr-mlp', f.lrMlp, { min: 0 }),
    lrLlm: num('--lr-llm', f.lrLlm, { positive: true }),
    metaLr: num('--meta-lr', f.metaLr, { positive: true }),
    metaLrMax: num('--meta-lr-max', f.metaLrMax, { positive: true }),
    nfGrad: f.nfGrad,
    lookaheadSteps: num('--lookahead-steps', f.lookaheadSteps, { int: true, min: 1, max: 64 }),
    features: f.features,
    maxSteps: num('--max-steps', f.maxSteps, { int: true, min: 0 }),
    trainExamples: num('--train-examples', f.trainExamples, { int: true, min: 0 }),
    hidden: num('--hidden', f.hidden, { int: true, min: 1 }),
    seed: num('--seed', f.seed, { int: true, min: 0, max: 0xffffffff }),
    dataSeed: num('--data-seed', f.dataSeed, { int: true, min: 0, max: 0xffffffff }),
    checkpointEvery: num('--checkpoint-every', f.checkpointEvery, { int: true, min: 0 }),
    metaGrad,
    spsaDirections: num('--spsa-directions', f.spsaDirections, { int: true, min: 1, max: 4096 }),
    spsaScale: num('--spsa-scale', f.spsaScale, { positive: true, max: 10 }),
    spsaSpace: f.spsaSpace,
  };
  if (f.spsaSpace !== undefined && f.spsaSpace !== 'sigma' && f.spsaSpace !== 'omega')
    throw new UserError(`--spsa-space: expected sigma or omega, got ${f.spsaSpace}`, 2);
  const spsaFlag = (['spsaDirections', 'spsaScale', 'spsaSpace'] as const).find((k) => f[k] !== undefined);
  if (metaGrad === 'exact' && spsaFlag) throw new UserError(`--${spsaFlag.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: only with --meta-grad spsa (this run's meta-gradient is exact)`, 2);
  if (metaGrad === 'spsa' && value.lookaheadSteps !== undefined && value.lookaheadSteps !== 1)
    throw new UserError(`--lookahead-steps: --meta-grad spsa runs one look-ahead step, got ${f.lookaheadSteps}`, 2);
  if (f.features !== undefined && f.features !== 'base' && f.features !== 'curvature')
    throw new UserError(`--features: expected base or curvature, got ${f.features}`, 2);
  const defined = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
  if (value.metaLrMax !== undefined && value.metaLrMax <= (value.metaLr ?? 1e-4))
    throw new UserError(`--meta-lr-max: expected a value above --meta-lr (${value.metaLr ?? 1e-4}), got ${f.metaLrMax}`, 2);
  try {
    return parseMetaConfig(defined, 'meta-train');
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

/**
 * The PEFT config of the flags (undefined without --peft or with --peft none), its adapters drawn from
 * the run seed (--seed, else the meta config's default) as `zotune finetune` draws them (peftConfigOf).
 */
export function peftFromFlags(f: MetaTrainFlags): PeftConfig | undefined {
  const method = f.peft ?? 'none';
  if (method === 'none' && [f.loraRank, f.loraAlpha, f.loraTargets, f.prefixTokens].every((v) => v === undefined)) return undefined;
  const seed = f.seed === undefined ? parseMetaConfig({}).seed : parseNumber('--seed', f.seed, { int: true, min: 0, max: 0xffffffff });
  if (!(PEFT_METHODS as readonly string[]).includes(method)) throw new UserError(`--peft: expected ${PEFT_METHODS.join(', ')}, got ${method}`, 2);
  try {
    const int = (flag: string, v: string | undefined) => (v === undefined ? undefined : parseNumber(flag, v, { int: true, min: 1, max: 4096 }));
    const alpha = f.loraAlpha === undefined ? undefined : parseNumber('--lora-alpha', f.loraAlpha);
    if (alpha !== undefined && !(alpha > 0)) throw new UserError(`--lora-alpha: expected a number > 0, got ${f.loraAlpha}`, 2);
    return peftConfigOf(
      {
        method: method as PeftMethod,
        loraRank: int('--lora-rank', f.loraRank),
        loraAlpha: alpha,
        loraTargets: f.loraTargets === undefined ? undefined : parseLoraTargets(f.loraTargets),
        prefixTokens: int('--prefix-tokens', f.prefixTokens),
      },
      seed,
    );
  } catch (e) {
    throw e instanceof UserError ? e : new UserError((e as Error).message, 2);
  }
}

export function parseTaskList(text: string | undefined): string[] {
  if (text === undefined) throw new UserError('--tasks: required (a comma-separated list, e.g. sst2,copa)', 2);
  const list = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new UserError(`--tasks: expected a comma-separated list of tasks, got "${text}"`, 2);
  const dup = list.find((t, i) => list.indexOf(t) !== i);
  if (dup) throw new UserError(`--tasks: task "${dup}" is listed twice`, 2);
  return list;
}

/** Read a bearer token (see readBearerToken), as a UserError on bad input. */
export function readToken(file: string | undefined): string | undefined {
  try {
    return readBearerToken(file);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

export function registryOf(location: string | undefined, tokenFile: string | undefined): PolicyRegistry {
  const token = readToken(tokenFile);
  try {
    return openRegistry(location ?? defaultRegistryLocation(), { token });
  } catch (e) {
    throw new UserError(`--registry: ${(e as Error).message}`, 2);
  }
}

/**
 * The references of the --publish flags: a full MODEL/NAME:TAG, or an empty value for
 * MODEL/<--name>:<--tag> (defaults default:latest). MODEL must be the trained model's name.
 */
export function publishRefs(values: readonly string[], modelName: string, name: string | undefined, tag: string | undefined): PolicyRef[] {
  return values.map((v) => {
    let ref: PolicyRef;
    try {
      ref = v === '' ? parseRef(`${modelName}/${name ?? DEFAULT_POLICY_NAME}:${tag ?? DEFAULT_POLICY_TAG}`) : parseRef(v);
    } catch (e) {
      throw new UserError(`--publish: ${(e as Error).message}`, 2);
    }
    if (ref.model !== modelName) throw new UserError(`--publish ${v}: the policy is for model ${modelName}, not ${ref.model}`, 2);
    return ref;
  });
}
