// The fine-tune run's resolved configuration: flat, zod-validated plain data. Layers, later wins: the
// defaults, a preset file (--config, configs/runs/*.json; with no arguments at all the demo preset), the flags;
// their schema, the settings' metadata and the defaults are schema.ts (tfjs-free: the CLI's help reads it).
// The resolved form (every default filled in, the budget turned into steps) is the run's config.json,
// which --resume reads back.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { peftConfigOf, peftConfigSchema, type PeftConfig } from '@zotune/peft';
import { UserError } from '@zotune/report';
import { estimatorNames, forwardPassesPerStep, parseEstimatorConfig, stepsForBudget, type EstimatorConfig } from '@zotune/zo';
import {
  DEFAULT_EVALS_PER_RUN, DEFAULT_FORWARD_PASSES, DEFAULT_ORACLE_EVERY, DEFAULTS, defaultLr, posInt, zodProblem, type FinetuneInput,
} from './schema';

/** The resolved configuration: config.json of a run. */
export const finetuneConfigSchema = z.strictObject({
  /** format of this file */
  version: z.literal(1),
  /** MODEL as given */
  model: z.string().min(1),
  /** TASK as given */
  task: z.string().min(1),
  /** estimator name */
  estimator: z.enum(estimatorNames),
  /** 'none', or the policy as given ('auto' is resolved before the run starts) */
  policy: z.string().min(1),
  /** sha256:… of the policy artifact, null without a policy */
  policyDigest: z.string().nullable(),
  /** candidate directions M (guided, greedy) */
  candidates: posInt,
  /** TOP fraction (guided) */
  alpha: z.number().gt(0).lt(1),
  /** normalise v (guided, elite) */
  normalize: z.boolean(),
  /** n-SPSA directions (mezo) */
  queries: posInt,
  /** optimizer steps of the run */
  steps: posInt,
  /** the budget in forward passes when it was given that way, else null */
  forwardPasses: posInt.nullable(),
  /** learning rate η */
  lr: z.number().positive(),
  /** perturbation scale ε */
  eps: z.number().positive(),
  /** weight decay λ */
  weightDecay: z.number().min(0),
  /** training examples per step */
  batch: posInt,
  /** run seed */
  seed: z.number().int().min(0).max(0xffffffff),
  /** dev evaluation period in steps */
  evalEvery: posInt,
  /** dev examples evaluated */
  evalN: posInt,
  /** test examples evaluated */
  testN: posInt,
  /** examples per forward pass when evaluating */
  evalBatch: posInt,
  /** write final.safetensors at the end */
  saveFinal: z.boolean(),
  /** tfjs backend preference */
  backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']),
  /** forward engine preference (absent in runs made before engines existed: auto) */
  engine: z.enum(['auto', 'ort', 'tfjs']).optional(),
  /** threads (absent: the machine's cores) */
  threads: posInt.max(256).optional(),
  /** data-parallel shards of each evaluation's minibatch (absent: 1, the whole batch in one forward pass) */
  shards: posInt.max(4096).optional(),
  /** --policy oracle-*: refresh period of the measured σ (absent in runs made before the oracles) */
  oracleEvery: posInt.default(DEFAULT_ORACLE_EVERY),
  /** parameter-efficient ZO: what is trained instead of the model's blocks, with its init seed (absent: every block) */
  peft: peftConfigSchema.optional(),
});
export type FinetuneConfig = z.infer<typeof finetuneConfigSchema>;

/** A path argument as an absolute path (the run may be resumed or replayed from another directory). */
function absolutePath(arg: string, looksLikePath: boolean): string {
  return looksLikePath || existsSync(arg) ? resolve(arg) : arg;
}

/**
 * A layer with its model, task and policy files as absolute paths (a model .bin or directory, a task
 * .json, a policy file that exists); names, references and digests stay as they are.
 */
export function withAbsolutePaths(layer: FinetuneInput): FinetuneInput {
  const out = { ...layer };
  if (out.model !== undefined) out.model = absolutePath(out.model, /[\\/]/.test(out.model) || out.model.endsWith('.bin'));
  if (out.task !== undefined) out.task = absolutePath(out.task, /[\\/]/.test(out.task) || out.task.endsWith('.json'));
  if (out.policy !== undefined) out.policy = absolutePath(out.policy.trim(), false);
  return out;
}

/** Validate a run's config.json. */
export function parseRunConfig(value: unknown, source: string): FinetuneConfig {
  const r = finetuneConfigSchema.safeParse(value);
  if (!r.success) throw new UserError(zodProblem(r.error, value, source), 2);
  return r.data;
}

/** Layer the inputs over the defaults and resolve the budget, lr and eval period. */
export function resolveConfig(layers: readonly FinetuneInput[]): FinetuneConfig {
  const merged: FinetuneInput = {};
  for (const layer of layers) {
    // a layer that sets one kind of budget replaces the other kind set by an earlier layer
    if (layer.steps !== undefined) delete merged.forwardPasses;
    if (layer.forwardPasses !== undefined) delete merged.steps;
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  }
  const m = { ...DEFAULTS, ...merged };
  const budget = { name: m.estimator, candidates: m.candidates, queries: m.queries };
  const forwardPasses = merged.steps === undefined ? (merged.forwardPasses ?? DEFAULT_FORWARD_PASSES) : null;
  const steps = forwardPasses === null ? merged.steps! : stepsForBudget(budget, forwardPasses);
  const peft = resolvePeft(m);
  const config: FinetuneConfig = {
    version: 1,
    model: m.model,
    task: m.task,
    estimator: m.estimator,
    policy: m.policy,
    policyDigest: null,
    candidates: m.candidates,
    alpha: m.alpha,
    normalize: m.normalize,
    queries: m.queries,
    steps,
    forwardPasses,
    lr: m.lr ?? defaultLr(m.model, m.estimator, peft?.method ?? 'none'),
    eps: m.eps,
    weightDecay: m.weightDecay,
    batch: m.batch,
    seed: m.seed,
    evalEvery: m.evalEvery ?? Math.max(1, Math.ceil(steps / DEFAULT_EVALS_PER_RUN)),
    evalN: m.evalN,
    testN: m.testN,
    evalBatch: m.evalBatch ?? m.batch,
    saveFinal: m.saveFinal,
    backend: m.backend,
    engine: m.engine ?? 'auto',
    ...(m.threads !== undefined ? { threads: m.threads } : {}),
    ...(m.shards !== undefined && m.shards > 1 ? { shards: m.shards } : {}),
    oracleEvery: m.oracleEvery ?? DEFAULT_ORACLE_EVERY,
    ...(peft ? { peft } : {}),
  };
  estimatorConfig(config); // cross-field checks (guided: 1 <= floor(alpha·M) < M)
  if ((config.shards ?? 1) > config.batch) throw new UserError(`--shards ${config.shards}: more shards than the ${config.batch} examples of a step's batch (--batch)`, 2);
  return finetuneConfigSchema.parse(config);
}

/** The PEFT setting of the merged layers (undefined: full-parameter ZO); refuses options of another method. */
export function resolvePeft(m: FinetuneInput & { seed: number }): PeftConfig | undefined {
  const method = m.peft ?? 'none';
  let peft: PeftConfig | undefined;
  try {
    peft = peftConfigOf({ method, loraRank: m.loraRank, loraAlpha: m.loraAlpha, loraTargets: m.loraTargets, prefixTokens: m.prefixTokens }, m.seed);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  if (m.estimator === 'adam' && method !== 'none') throw new UserError(`--peft ${method}: ZO estimators only (adam trains every block)`, 2);
  return peft;
}

/** The estimator configuration of a run (what the trajectory header records). */
export function estimatorConfig(c: FinetuneConfig): EstimatorConfig {
  try {
    return parseEstimatorConfig({
      name: c.estimator,
      candidates: c.candidates,
      alpha: c.alpha,
      normalize: c.normalize,
      queries: c.queries,
      eps: c.eps,
      lr: c.lr,
      weightDecay: c.weightDecay,
    });
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
}

/** Forward passes one step of this run costs. */
export function passesPerStep(c: FinetuneConfig): number {
  return forwardPassesPerStep({ name: c.estimator, candidates: c.candidates, queries: c.queries });
}
