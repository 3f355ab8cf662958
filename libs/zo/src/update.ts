// The update of a ZO step, from its record alone: θ_j ← (1 − ηλ_j)·θ_j − η·σ_j·Σ_i u_i·z(s_i, j), with
// u_i = mean over probes p of g_p·w_{p,i} (one probe: g·v; mezo with q queries: the n-SPSA mean).
// λ_j = λ on embedding, position and matrix blocks, 0 on norm weights and biases (by kind, never by name).
import type { StepRecord } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import { Perturber, type NoiseTerm } from './perturb';

export interface UpdateOptions {
  /** learning rate η */
  lr: number;
  /** decoupled weight decay λ (embedding and matrix blocks only) */
  weightDecay?: number;
}

/** Whether weight decay applies to a block: never to norm weights or biases. */
export function decays(block: Pick<Block, 'kind'>): boolean {
  return block.kind === 'embedding' || block.kind === 'position' || block.kind === 'matrix';
}

/** The gradient estimate as noise terms: Σ_i u_i·z(s_i) (before −η and σ_j). */
export function gradientTerms(record: StepRecord): NoiseTerm[] {
  const P = record.probes.length;
  return record.candidates.map((c, i) => {
    let u = 0;
    for (const p of record.probes) u += p.projectedGrad * p.weights[i];
    return { seed: c.seed, coef: u / P };
  });
}

/** A validated update: the noise terms −η·u_i (before σ_j) and the weight multiplier of each block. */
export interface UpdatePlan {
  terms: NoiseTerm[];
  keep: (block: Block) => number;
}

/**
 * Check a step's update and return it as terms and keep: refuses a bad lr or weight decay, a σ for
 * another number of blocks and a non-finite projected gradient (a diverged loss), in one line.
 */
export function updatePlan(blocks: readonly Block[], record: StepRecord, opts: UpdateOptions): UpdatePlan {
  const { lr, weightDecay = 0 } = opts;
  if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`update: lr must be a finite number > 0, got ${lr}`);
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) throw new Error(`update: weightDecay must be a finite number >= 0, got ${weightDecay}`);
  const terms = gradientTerms(record);
  const bad = record.probes.find((p) => !Number.isFinite(p.projectedGrad));
  if (bad) throw new Error(`step ${record.step}: projected gradient is ${bad.projectedGrad} (L+ ${bad.lossPlus}, L- ${bad.lossMinus}); the run diverged, lower lr or eps`);
  if (record.sigma !== null && record.sigma.length !== blocks.length)
    throw new Error(`step ${record.step}: record has σ for ${record.sigma.length} blocks, the model has ${blocks.length}`);
  const k = 1 - lr * weightDecay;
  return { terms: terms.map((t) => ({ seed: t.seed, coef: -lr * t.coef })), keep: (b) => (weightDecay > 0 && decays(b) ? k : 1) };
}

/**
 * Apply a step's update in place, on restored weights (trajectory versions 1–2, or a record applied on
 * its own). Refuses a non-finite projected gradient (a diverged loss) before touching any weight. Pass
 * the estimator's perturber to reuse its scratch and noise cache.
 */
export async function applyUpdate(blocks: readonly Block[], record: StepRecord, opts: UpdateOptions, perturber = new Perturber()): Promise<void> {
  const plan = updatePlan(blocks, record, opts);
  await perturber.move(blocks, record.sigma, plan.terms, plan.keep);
}
