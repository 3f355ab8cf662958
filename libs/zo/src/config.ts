// Estimator configuration: plain zod-validated data shared by the fine-tune app, the trajectory
// header and replay. Budgets are set in forward passes (compare methods at equal forward passes).
import { z } from 'zod';
import { deriveSeed } from '@zotune/tensor';
import { estimatorNames, parseEstimatorName } from './names';

export const estimatorConfigSchema = z
  .object({
    /** mezo | guided | greedy | elite | adam */
    name: z.enum(estimatorNames),
    /** guided, greedy: candidate directions M evaluated one-sided per step (elite always uses 2) */
    candidates: z.number().int().min(1).max(1024).default(4),
    /** guided: fraction of candidates in TOP (⌊αM⌋ lowest losses); the rest form BOTTOM */
    alpha: z.number().gt(0).lt(1).default(0.5),
    /** guided, elite: scale v by c = 1/sqrt(1/|TOP| + 1/|BOTTOM|) so that E‖v‖² = d as for MeZO */
    normalize: z.boolean().default(true),
    /** mezo: directions averaged per step (n-SPSA), 2 forward passes each */
    queries: z.number().int().min(1).max(1024).default(1),
    /** perturbation scale ε (ZO estimators) */
    eps: z.number().positive().default(1e-3),
    /** learning rate η */
    lr: z.number().positive().default(1e-4),
    /** decoupled weight decay λ, applied to embedding and matrix blocks only (never norm or bias) */
    weightDecay: z.number().min(0).default(0),
    /** keep the step's noise in memory (seeds·d floats) instead of regenerating it on every move;
     *  'auto' does so when that fits in NOISE_CACHE_AUTO_BYTES (same results, bit for bit) */
    cacheNoise: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  })
  .superRefine((c, ctx) => {
    if (c.name === 'guided') {
      const top = Math.floor(c.alpha * c.candidates);
      if (top < 1 || top >= c.candidates)
        ctx.addIssue({ code: 'custom', path: ['alpha'], message: `guided needs 1 <= floor(alpha·candidates) < candidates, got alpha ${c.alpha} with ${c.candidates} candidates` });
    }
  });
export type EstimatorConfig = z.infer<typeof estimatorConfigSchema>;
export type EstimatorConfigInput = z.input<typeof estimatorConfigSchema>;

/** Validate a config (defaults filled in); bad input → one line naming the field, value and expectation. */
export function parseEstimatorConfig(value: unknown, source = 'estimator config'): EstimatorConfig {
  if (value && typeof value === 'object' && 'name' in value && typeof value.name === 'string') parseEstimatorName(value.name, `${source}: name`);
  const r = estimatorConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const i = r.error.issues[0];
  const path = i.path.join('.');
  const got = path ? (value as Record<string, unknown>)?.[String(i.path[0])] : value;
  throw new Error(`${source}: ${path || '(root)'}: ${i.message}${got !== undefined && i.code !== 'custom' ? ` (got ${JSON.stringify(got)})` : ''}`);
}

/** 'auto' caches the step's noise when seeds per step × d × 4 bytes is at most this (64 MiB). */
export const NOISE_CACHE_AUTO_BYTES = 64 * 2 ** 20;

/** Noise directions (seeds) a step draws: mezo q, guided and greedy M, elite 2. */
export function seedsPerStep(config: Pick<EstimatorConfig, 'name' | 'candidates' | 'queries'>): number {
  switch (config.name) {
    case 'mezo': return config.queries;
    case 'guided':
    case 'greedy': return config.candidates;
    case 'elite': return 2;
    case 'adam': return 0;
  }
}

/** Whether a step of this config caches its noise on a model of `parameters` weights. */
export function cachesNoise(config: Pick<EstimatorConfig, 'name' | 'candidates' | 'queries' | 'cacheNoise'>, parameters: number): boolean {
  if (config.cacheNoise !== 'auto') return config.cacheNoise;
  return seedsPerStep(config) * parameters * 4 <= NOISE_CACHE_AUTO_BYTES;
}

/**
 * Forward passes one step costs: mezo 2q, guided and greedy M + 2, elite 4. adam counts 3
 * forward-pass equivalents (one forward and one backward, the backward costing about two forwards).
 */
export function forwardPassesPerStep(config: Pick<EstimatorConfig, 'name' | 'candidates' | 'queries'>): number {
  switch (config.name) {
    case 'mezo': return 2 * config.queries;
    case 'guided':
    case 'greedy': return config.candidates + 2;
    case 'elite': return 4;
    case 'adam': return 3;
  }
}

/** Steps that fit a budget of forward passes (at least 1). */
export function stepsForBudget(config: Pick<EstimatorConfig, 'name' | 'candidates' | 'queries'>, forwardPasses: number): number {
  return Math.max(1, Math.floor(forwardPasses / forwardPassesPerStep(config)));
}

/** The seed schedule: step s of a run uses deriveSeed(runSeed, s). */
export function stepSeed(runSeed: number, step: number): number {
  return deriveSeed(runSeed, step);
}

/** Candidate (or query) i of a step: deriveSeed(stepSeed, i). */
export function candidateSeed(seed: number, i: number): number {
  return deriveSeed(seed, i);
}
