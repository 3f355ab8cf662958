// The prior-guided estimator and its variants (ALGORITHMS.md §3): rank M one-sided candidate
// evaluations, build the direction v from the seeds, then a two-point step along v.
//   guided: v = c·(mean_TOP z − mean_BOTTOM z), c = 1/sqrt(1/|TOP| + 1/|BOTTOM|) when normalising
//   greedy: v = z(s*), s* the lowest-loss candidate
//   elite:  one new seed plus the previous step's best seed re-evaluated, v = c·(z_best − z_worst)
// The authors' code resets one global RNG per tensor (same-shaped blocks share noise, so the rebuilt
// v does not match the ranked perturbations); here z(seed, j) is a pure function of (seed, block).
import type { StepRecord } from '@zotune/artifacts';
import { candidateSeed } from './config';
import { rankByLoss, type StepContext } from './step';

/** Direction weights over M ranked candidates: +c/|TOP| for the ⌊αM⌋ lowest losses, −c/|BOTTOM| for the rest. */
export function guidedWeights(losses: readonly number[], alpha: number, normalize: boolean): number[] {
  const M = losses.length;
  const top = Math.floor(alpha * M);
  const bottom = M - top;
  if (top < 1 || bottom < 1) throw new Error(`guided: alpha ${alpha} with ${M} candidates leaves TOP or BOTTOM empty`);
  const c = normalize ? 1 / Math.sqrt(1 / top + 1 / bottom) : 1;
  const w = new Array<number>(M);
  rankByLoss(losses).forEach((i, r) => {
    w[i] = r < top ? c / top : -c / bottom;
  });
  return w;
}

export async function guidedStep(ctx: StepContext, seed: number, M: number, alpha: number, normalize: boolean): Promise<void> {
  for (let i = 0; i < M; i++) await ctx.oneSided(candidateSeed(seed, i));
  await ctx.probe(guidedWeights(await ctx.candidateLosses(), alpha, normalize));
}

export async function greedyStep(ctx: StepContext, seed: number, M: number): Promise<void> {
  for (let i = 0; i < M; i++) await ctx.oneSided(candidateSeed(seed, i));
  const w = new Array<number>(M).fill(0);
  w[rankByLoss(await ctx.candidateLosses())[0]] = 1;
  await ctx.probe(w);
}

/**
 * The elite seed a step carries to the next: its lowest-loss evaluated candidate (ties: the first,
 * so an elite that ties with the new seed stays elite). Undefined when nothing was evaluated.
 */
export function eliteSeed(record: StepRecord): number | undefined {
  const evaluated = record.candidates.filter((c) => c.loss !== null);
  if (evaluated.length === 0) return undefined;
  return evaluated[rankByLoss(evaluated.map((c) => c.loss as number))[0]].seed;
}

export async function eliteStep(ctx: StepContext, seed: number, normalize: boolean, prev: StepRecord | undefined): Promise<void> {
  let elite: number | undefined;
  if (prev) {
    if (prev.estimator !== 'elite') throw new Error(`elite: the previous record (step ${prev.step}) comes from ${prev.estimator}, expected elite`);
    elite = eliteSeed(prev);
  }
  // the first step has no elite yet: two new seeds, so every step costs the same 4 passes
  const seeds = elite === undefined ? [candidateSeed(seed, 0), candidateSeed(seed, 1)] : [elite, candidateSeed(seed, 0)];
  await ctx.oneSided(seeds[0]);
  await ctx.oneSided(seeds[1]);
  const [best, worst] = rankByLoss(await ctx.candidateLosses());
  const c = normalize ? Math.SQRT1_2 : 1;
  const w = [0, 0];
  w[best] = c;
  w[worst] = -c;
  await ctx.probe(w);
}
