// The minibatch of every step, a pure function of (seed, step): epochs are seeded permutations of the
// training set and step t takes positions t·B … t·B + B − 1 of their concatenation. A resumed run
// (and anything else that needs step t's batch) computes it again without replaying the earlier steps.
import { deriveSeed } from '@zotune/tensor';
import { permutation } from '@zotune/tasks';

/** Keeps the batch stream apart from the step seeds deriveSeed(seed, step) of the noise. */
const BATCH_DOMAIN = 0x62617463; // 'batc'

export class BatchSchedule<T> {
  private readonly perms = new Map<number, number[]>();

  constructor(
    private readonly items: readonly T[],
    readonly batchSize: number,
    readonly seed: number,
  ) {
    if (items.length === 0) throw new Error('batch schedule: the training split is empty');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch schedule: batch size must be an integer >= 1, got ${batchSize}`);
  }

  /** The seeded order of epoch e. */
  private epoch(e: number): number[] {
    let p = this.perms.get(e);
    if (!p) {
      p = permutation(this.items.length, deriveSeed((this.seed ^ BATCH_DOMAIN) >>> 0, e));
      // a run moves forward: keep only the current and the next epoch
      for (const k of this.perms.keys()) if (k < e - 1) this.perms.delete(k);
      this.perms.set(e, p);
    }
    return p;
  }

  /** Indices into the training set of step `step`'s minibatch. */
  indices(step: number): number[] {
    if (!Number.isInteger(step) || step < 0) throw new Error(`batch schedule: step must be an integer >= 0, got ${step}`);
    const n = this.items.length;
    const out: number[] = [];
    for (let k = 0; k < this.batchSize; k++) {
      const pos = step * this.batchSize + k;
      out.push(this.epoch(Math.floor(pos / n))[pos % n]);
    }
    return out;
  }

  /** The examples of step `step`'s minibatch. */
  batch(step: number): T[] {
    return this.indices(step).map((i) => this.items[i]);
  }
}
