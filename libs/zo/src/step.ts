// The evaluations a ZO step is made of: one-sided candidate losses and two-point probes, at
// displaced weights θ + ε·σ·(direction); the step ends with θ restored, or (trajectory version 3)
// with the update landed from the last evaluation point in one pass (land()). Estimators are written
// only in terms of these, in a fixed order (candidates first, then probes), so that replay can run the
// very same code with the recorded losses fed back in that order.
import type { Block, PackedBatch } from '@zotune/models';
import type { StepRecord, TrajectoryCandidate, TrajectoryProbe } from '@zotune/artifacts';
import type { NoiseTerm, Perturber } from './perturb';
import type { Scale } from './scale';

/**
 * A loss that another process computes at the same evaluation point (a distributed run's worker: its
 * copy of the weights is bit-identical). It does not read these weights, so the step moves on at once;
 * its value is awaited only where the step needs it (a ranking of candidates, the step's record).
 */
export class DeferredLoss {
  constructor(readonly value: Promise<number>) {
    // awaited later (settle()); a rejection before then is not an unhandled one
    value.catch(() => undefined);
  }
}

/** The loss at the current weights on the step's fixed minibatch (one forward pass, inference mode). */
export type LossValue = () => Promise<number> | number;

/** What a step takes: a LossValue, or one that may answer with a DeferredLoss computed elsewhere (the weights move on before it arrives). */
export type StepLossValue = () => Promise<number | DeferredLoss> | number | DeferredLoss;

export interface StepInput {
  /** the model's trainable blocks (perturbed in place; restored before step returns, or from trajectory version 3 by the update) */
  blocks: readonly Block[];
  /** loss at the current weights on this step's minibatch; every call is one forward pass (or a DeferredLoss) */
  lossValue: StepLossValue;
  /** step index (0 for the first step) */
  step: number;
  /** step seed, stepSeed(runSeed, step); candidate seeds derive from it */
  seed: number;
  /** perturbation scale ε (defaults to the estimator config's eps) */
  eps?: number;
  /** σ per block (defaults to ones) */
  scale?: Scale;
  /** the previous step's record: the elite seed and the policy's features come from it */
  prev?: StepRecord;
  /** the step's minibatch, passed to the scale (a policy's embedding rule counts its tokens) */
  batch?: PackedBatch;
  /**
   * false: walk the step's evaluation points without moving the weights, for its record only. Every
   * loss must then be a DeferredLoss, computed by processes whose copies do move (a distributed run's
   * coordinator); the record's update is not applied either: replay() it where the weights are read.
   */
  moveWeights?: boolean;
}

/** What moves the weights from one evaluation point to the next: the estimator's Perturber, or null for a step that only records (StepInput.moveWeights false). */
export type Mover = Pick<Perturber, 'move'> | null;

/**
 * What one step's evaluations need; built by the estimator, used by mezo/guided/greedy/elite.
 * It tracks the displacement currently applied to θ and moves straight from one evaluation point
 * to the next (θ + εz₁ → θ + εz₂ is one pass over the weights, not a restore and a perturb): the
 * noise regenerated is the same, the passes over the weights are fewer. restore() returns to θ.
 */
export class StepContext {
  forwardPasses = 0;
  readonly candidates: TrajectoryCandidate[] = [];
  readonly probes: TrajectoryProbe[] = [];
  /** displacement now applied: θ_now = θ + σ·Σ coef·z(seed), seeds in first-use order */
  private readonly at = new Map<number, number>();
  /** deferred losses not yet filled into candidates/probes (settle() awaits them) */
  private deferred: Promise<void>[] = [];

  constructor(
    readonly blocks: readonly Block[],
    readonly sigma: number[] | null,
    readonly eps: number,
    private readonly perturber: Mover,
    private readonly lossValue: StepLossValue,
  ) {}

  /** Whether this step moves the weights (false: it only tracks where they would be, for the record). */
  get moves(): boolean {
    return this.perturber !== null;
  }

  /** Move θ to θ + σ·Σ target (from wherever it is now) in one pass. */
  async goTo(target: readonly NoiseTerm[]): Promise<void> {
    const want = new Map<number, number>();
    for (const t of target) want.set(t.seed, (want.get(t.seed) ?? 0) + t.coef);
    const diff: NoiseTerm[] = [];
    for (const seed of new Set([...this.at.keys(), ...want.keys()])) {
      const coef = (want.get(seed) ?? 0) - (this.at.get(seed) ?? 0);
      if (coef !== 0) diff.push({ seed, coef });
    }
    if (diff.length > 0 && this.perturber) await this.perturber.move(this.blocks, this.sigma, diff);
    this.at.clear();
    for (const [seed, coef] of want) if (coef !== 0) this.at.set(seed, coef);
  }

  /** Back to θ (to float32 round-off). */
  async restore(): Promise<void> {
    await this.goTo([]);
  }

  /** Whether θ is displaced now (an evaluation point, not θ). */
  get displaced(): boolean {
    return this.at.size > 0;
  }

  /**
   * The fused restore and update (trajectory version 3): from θ_now = θ + σ·Σ a_s·z(s), where the last
   * evaluation left the weights, straight to keep_j·θ + σ·Σ t·z in one pass: per block the terms
   * (−keep_j·a_s, then + t for a seed of the update) in first-use order, the displacement's seeds first.
   * Equal to restore() then the update in real arithmetic; in float32 it rounds once instead of twice.
   */
  async land(update: readonly NoiseTerm[], keep: (block: Block) => number): Promise<void> {
    const byKeep = new Map<number, NoiseTerm[]>();
    const termsFor = (k: number): NoiseTerm[] => {
      let t = byKeep.get(k);
      if (!t) {
        const coef = new Map<number, number>();
        for (const [seed, a] of this.at) coef.set(seed, -k * a);
        for (const u of update) coef.set(u.seed, (coef.get(u.seed) ?? 0) + u.coef);
        byKeep.set(k, (t = [...coef].map(([seed, c]) => ({ seed, coef: c }))));
      }
      return t;
    };
    if (!this.perturber) throw new Error('StepContext.land: this step does not move the weights (moveWeights false); replay its record instead');
    await this.perturber.move(this.blocks, this.sigma, (b) => termsFor(keep(b)), keep);
    this.at.clear();
  }

  /**
   * The loss here: a number, or (a DeferredLoss) NaN now and `fill` called with the value when it
   * arrives, before settle() resolves.
   */
  private async lossInto(fill: (v: number) => void): Promise<number | undefined> {
    const v = await this.lossValue();
    this.forwardPasses++;
    if (v instanceof DeferredLoss) {
      const filled = v.value.then((x) => {
        if (typeof x !== 'number') throw new Error(`a deferred loss resolved to ${typeof x}, expected a number`);
        fill(x);
      });
      // settle() rethrows its rejection; one that comes while the walk is still computing other
      // evaluations (a worker's lapsed claim) must not be an unhandled rejection, which ends the process
      filled.catch(() => undefined);
      this.deferred.push(filled);
      return undefined;
    }
    if (typeof v !== 'number') throw new Error(`lossValue returned ${typeof v}, expected a number`);
    // a number computed here would be the loss at unmoved weights, not at this evaluation point
    if (!this.perturber) throw new Error('lossValue returned a number in a step that does not move the weights (moveWeights false): expected a DeferredLoss');
    fill(v);
    return v;
  }

  async loss(): Promise<number> {
    const v = await this.lossValue();
    if (typeof v !== 'number') throw new Error(`lossValue returned ${v instanceof DeferredLoss ? 'a deferred loss where the value is needed now' : typeof v}, expected a number`);
    if (!this.perturber) throw new Error('StepContext.loss: a step that does not move the weights (moveWeights false) takes deferred losses only');
    this.forwardPasses++;
    return v;
  }

  /** Wait for the deferred losses (in any order) and complete the probes they belong to. */
  async settle(): Promise<void> {
    while (this.deferred.length > 0) {
      const d = this.deferred;
      this.deferred = [];
      await Promise.all(d);
    }
    for (const p of this.probes) p.projectedGrad = (p.lossPlus - p.lossMinus) / (2 * this.eps);
  }

  /** The candidates' losses in order, deferred ones awaited (what a ranking reads). */
  async candidateLosses(): Promise<number[]> {
    await this.settle();
    return this.candidates.map((c) => c.loss ?? NaN);
  }

  /**
   * l = L(θ + ε·σ·z(seed)), recorded as a candidate; θ stays displaced until the next move. Undefined
   * when the loss is deferred (candidateLosses() awaits it).
   */
  async oneSided(seed: number): Promise<number | undefined> {
    await this.goTo([{ seed, coef: this.eps }]);
    const c: TrajectoryCandidate = { seed, loss: NaN };
    this.candidates.push(c);
    return this.lossInto((v) => (c.loss = v));
  }

  /** Add a candidate seed that is only used inside probe directions (mezo queries). */
  addCandidate(seed: number): void {
    this.candidates.push({ seed, loss: null });
  }

  /**
   * Two-point probe along v = Σ_i weights[i]·z(candidates[i].seed): L± = L(θ ± ε·σ·v),
   * g = (L⁺ − L⁻)/(2ε). θ is left at θ − εv: the next move or restore() starts from there.
   */
  async probe(weights: readonly number[]): Promise<TrajectoryProbe> {
    if (weights.length !== this.candidates.length) throw new Error(`probe: ${weights.length} weights for ${this.candidates.length} candidates`);
    const dir = (a: number): NoiseTerm[] => this.candidates.map((c, i) => ({ seed: c.seed, coef: a * weights[i] }));
    // a deferred L± is NaN until settle(), which also recomputes g
    const p: TrajectoryProbe = { weights: [...weights], lossPlus: NaN, lossMinus: NaN, projectedGrad: NaN };
    this.probes.push(p);
    await this.goTo(dir(this.eps));
    await this.lossInto((v) => (p.lossPlus = v));
    await this.goTo(dir(-this.eps));
    await this.lossInto((v) => (p.lossMinus = v));
    p.projectedGrad = (p.lossPlus - p.lossMinus) / (2 * this.eps);
    return p;
  }

  /**
   * The record of the step (means over probes at the top level). θ must be restored first, unless
   * `displaced` says the caller lands the update from the last evaluation point (land()).
   */
  record(step: number, seed: number, estimator: string, opts: { displaced?: boolean } = {}): StepRecord {
    if (this.at.size > 0 && !opts.displaced) throw new Error('StepContext.record: the weights are still displaced; call restore() first');
    if (this.deferred.length > 0) throw new Error('StepContext.record: deferred losses are still out; await settle() first');
    const mean = (f: (p: TrajectoryProbe) => number) => this.probes.reduce((s, p) => s + f(p), 0) / this.probes.length;
    return {
      step,
      seed,
      estimator,
      eps: this.eps,
      sigma: this.sigma,
      candidates: this.candidates,
      probes: this.probes,
      lossPlus: mean((p) => p.lossPlus),
      lossMinus: mean((p) => p.lossMinus),
      projectedGrad: mean((p) => p.projectedGrad),
      forwardPasses: this.forwardPasses,
    };
  }
}

/**
 * Candidate indices sorted by loss, lowest first; NaN ranks last, ties keep the candidate order
 * (the ranking must be deterministic for replay).
 */
export function rankByLoss(losses: readonly number[]): number[] {
  const key = (x: number) => (Number.isNaN(x) ? Infinity : x);
  return losses.map((_, i) => i).sort((a, b) => {
    const d = key(losses[a]) - key(losses[b]);
    return d < 0 ? -1 : d > 0 ? 1 : Number.isNaN(losses[a]) === Number.isNaN(losses[b]) ? a - b : Number.isNaN(losses[a]) ? 1 : -1;
  });
}
