// Replay: rebuild a run's fine-tuned weights from the base weights and its trajectory alone. Each
// record is re-run through the estimator's own step() with the recorded losses fed back instead of
// forward passes, then update(): the same perturbations, restores and updates in the same order as
// the live run, so the result is bit-identical (the restores' float32 round-off included). The
// estimator follows the arithmetic of the header's format version: fused restore and update from
// version 3, restore then update for versions 1–2 (fusesUpdate). The recomputed record must equal the
// stored one, which catches a corrupted or foreign trajectory.
import type { StepRecord, TrajectoryHeader } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import { parseEstimatorConfig } from './config';
import { createEstimator } from './estimator';
import { weightsDigest } from './header';
import { fixedScale } from './scale';

/** The losses of a record in evaluation order: evaluated candidates, then each probe's L⁺, L⁻. */
export function recordedLosses(record: StepRecord): number[] {
  const out: number[] = [];
  for (const c of record.candidates) if (c.loss !== null) out.push(c.loss);
  for (const p of record.probes) out.push(p.lossPlus, p.lossMinus);
  return out;
}

/** Throw one line naming the first block that differs from the trajectory header. */
export function checkBlocksMatch(blocks: readonly Block[], header: TrajectoryHeader): void {
  const want = header.model.blocks;
  if (want.length !== blocks.length) throw new Error(`trajectory: written for ${want.length} blocks, the model has ${blocks.length}`);
  want.forEach((w, i) => {
    const b = blocks[i];
    const a = `${w.name} ${w.kind} [${w.shape.join(',')}]`;
    const m = `${b.name} ${b.kind} [${b.shape.join(',')}]`;
    if (a !== m) throw new Error(`trajectory: block ${i} is ${a} in the trajectory but ${m} in the model`);
  });
}

export interface ReplayOptions {
  /** learning rate (default: the header's estimator lr) */
  lr?: number;
  /** weight decay (default: the header's estimator weightDecay) */
  weightDecay?: number;
  /** check that the blocks hold the base weights of the header (sha256); default true, false when `prev` is given */
  checkDigest?: boolean;
  /**
   * the record before records[0], whose update the blocks already hold: the replay continues a run
   * from step prev.step + 1 (a distributed run's coordinator catching its weights up with its records)
   */
  prev?: StepRecord;
  /** threads that move blocks held in JS memory (Block.data); default 1. The bits do not depend on it */
  threads?: number;
  /** called after each record's update (progress, or checkpoints) */
  onStep?: (record: StepRecord) => void | Promise<void>;
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => same((a as any)[k], (b as any)[k]));
  }
  return a === b;
}

function firstDifference(a: StepRecord, b: StepRecord): string {
  for (const k of Object.keys(a) as (keyof StepRecord)[]) {
    if (!same(a[k], b[k])) return `${k}: stored ${JSON.stringify(a[k])}, replayed ${JSON.stringify(b[k])}`;
  }
  return 'unknown field';
}

/**
 * Apply a trajectory's records, in order, to blocks holding the base weights (or, with opts.prev, the
 * weights after that record). Records must be consecutive from step 0, or from prev.step + 1
 * (openTrajectory guarantees it).
 */
export async function replay(blocks: readonly Block[], header: TrajectoryHeader, records: readonly StepRecord[], opts: ReplayOptions = {}): Promise<void> {
  const cfg = parseEstimatorConfig(header.estimator, 'trajectory header: estimator');
  if (cfg.name === 'adam') throw new Error('trajectory: an adam run cannot be replayed (first-order updates are not recorded)');
  checkBlocksMatch(blocks, header);
  if (opts.checkDigest ?? !opts.prev) {
    const d = await weightsDigest(blocks);
    if (d !== header.model.digest) throw new Error(`trajectory: the model's weights (sha256 ${d.slice(0, 12)}…) are not the run's base weights (${header.model.digest.slice(0, 12)}…)`);
  }
  const est = createEstimator(cfg, { threads: opts.threads, trajectoryVersion: header.version });
  try {
    let prev = opts.prev;
    const first = prev ? prev.step + 1 : 0;
    for (const [i, rec] of records.entries()) {
      if (rec.step !== first + i) throw new Error(`trajectory: record ${i} has step ${rec.step}, expected ${first + i}`);
      const losses = recordedLosses(rec);
      let k = 0;
      const again = await est.step({
        blocks,
        step: rec.step,
        seed: rec.seed,
        eps: rec.eps,
        scale: fixedScale(rec.sigma, 'recorded σ'),
        prev,
        lossValue: () => {
          if (k >= losses.length) throw new Error(`trajectory: step ${rec.step} asks for more losses than it recorded (${losses.length})`);
          return losses[k++];
        },
      });
      if (!same(rec, again)) throw new Error(`trajectory: step ${rec.step} does not replay (${firstDifference(rec, again)}); the file is corrupted or was written by another version`);
      await est.update(blocks, rec, { lr: opts.lr ?? cfg.lr, weightDecay: opts.weightDecay ?? cfg.weightDecay });
      await opts.onStep?.(rec);
      prev = rec;
    }
  } finally {
    await est.restore(); // a step that did not replay leaves nothing displaced
    est.dispose();
  }
}
