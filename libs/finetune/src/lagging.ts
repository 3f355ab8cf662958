// Weights that follow a run's records only where something reads them: a distributed run's
// coordinator (StepLosses.remote), whose losses all come from workers that move their own copies
// every step. Its steps walk no evaluation point (StepInput.moveWeights false: the record only); the
// records not yet applied wait here, and catchUp() replays them onto the blocks (moves, no forward
// pass: the bits of the live walk) where the weights are read — a dev evaluation, a saved weight file,
// a policy's block statistics at the start of a step.
import type { TrajectoryHeader } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import { replay, type Scale, type StepRecord } from '@zotune/zo';

export class LaggingWeights {
  private unapplied: StepRecord[] = [];

  /**
   * `blocks` hold the weights after record `applied` (undefined: the base weights); `header` is the
   * run's trajectory header (estimator and format version of the replay); `threads` move the blocks.
   */
  constructor(
    private readonly blocks: readonly Block[],
    private readonly header: TrajectoryHeader,
    private applied: StepRecord | undefined,
    private readonly threads: number,
  ) {}

  /** A step taken without moving the weights (its update not applied). */
  push(record: StepRecord): void {
    this.unapplied.push(record);
  }

  /** Replay the records not yet applied: the blocks then hold the weights after the last step taken. */
  async catchUp(): Promise<void> {
    const records = this.unapplied;
    if (records.length === 0) return;
    // the blocks are known to hold the weights after `applied` (the base weights' digest is the header's)
    await replay(this.blocks, this.header, records, { prev: this.applied, threads: this.threads, checkDigest: false });
    this.unapplied = [];
    this.applied = records.at(-1);
  }

  /** `scale`, whose block statistics (those of the weights at the step's start) are read after a catch-up. */
  scale(scale: Scale): Scale {
    return {
      name: scale.name,
      sigma: (ctx) =>
        scale.sigma({
          ...ctx,
          stats: async () => {
            await this.catchUp();
            return ctx.stats();
          },
        }),
    };
  }
}
