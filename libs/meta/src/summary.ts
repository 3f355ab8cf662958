// The figures a finished meta-training run records in its artifact and summary: plain finite numbers
// (artifact metrics are JSON), computed from the per-step logs.
import type { MetaStepLog } from './trainer';

export interface MetaRunMetrics {
  steps: number;
  /** mean L(θ'; B) over the first and the last quarter of the steps */
  metaLossFirstQuarter: number;
  metaLossLastQuarter: number;
  /** mean look-ahead gain L(θ) − L(θ') (what the policy's ZO step buys) over the first and last quarter */
  gainFirstQuarter: number;
  gainLastQuarter: number;
  /** mean σ_j (before the rescale) at the last step */
  finalMeanSigma: number;
  /** spread of the effective scale σ_j·nf at the last step */
  finalMinEffSigma: number;
  finalMaxEffSigma: number;
  forwardPasses: number;
  backwardPasses: number;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const finite = (x: number) => (Number.isFinite(x) ? x : 0);

export function summarizeMetaRun(logs: readonly Pick<MetaStepLog, 'metaLoss' | 'loss' | 'meanSigma' | 'minEffSigma' | 'maxEffSigma' | 'forwardPasses' | 'backwardPasses'>[]): MetaRunMetrics {
  const q = Math.max(1, Math.floor(logs.length / 4));
  const first = logs.slice(0, q);
  const last = logs.slice(-q);
  const lastLog = logs.at(-1);
  return {
    steps: logs.length,
    metaLossFirstQuarter: finite(mean(first.map((l) => l.metaLoss))),
    metaLossLastQuarter: finite(mean(last.map((l) => l.metaLoss))),
    gainFirstQuarter: finite(mean(first.map((l) => l.loss - l.metaLoss))),
    gainLastQuarter: finite(mean(last.map((l) => l.loss - l.metaLoss))),
    finalMeanSigma: finite(lastLog?.meanSigma ?? 0),
    finalMinEffSigma: finite(lastLog?.minEffSigma ?? 0),
    finalMaxEffSigma: finite(lastLog?.maxEffSigma ?? 0),
    forwardPasses: logs.reduce((s, l) => s + l.forwardPasses, 0),
    backwardPasses: logs.reduce((s, l) => s + l.backwardPasses, 0),
  };
}

/** A meta-training run against its paired untrained control: the same run with lr_mlp 0. */
export interface ControlComparison {
  steps: number;
  /** mean look-ahead gain L(θ) − L(θ') over the first and last quarter, trained policy */
  trained: { gainFirstQuarter: number; gainLastQuarter: number };
  /** the same for the control (ω fixed at the trained run's starting networks) */
  control: { gainFirstQuarter: number; gainLastQuarter: number };
  /** over the last quarter, per step: gain(trained) − gain(control) */
  lastQuarterDiffMean: number;
  lastQuarterDiffMedian: number;
  /** last-quarter steps where the trained policy's gain is the larger, out of lastQuarterSteps */
  lastQuarterWins: number;
  lastQuarterSteps: number;
}

/**
 * Compare a run with its control step by step. θ's trajectory does not depend on ω (its first-order
 * steps use the true gradient, and the meta step restores θ), so a control with the same seed and
 * config sees the same θ, batches, noise and η at every step; this is checked (equal L(θ) at every
 * step), so a mismatched pair is refused rather than compared.
 */
export function compareWithControl(trained: readonly Pick<MetaStepLog, 'loss' | 'metaLoss'>[], control: readonly Pick<MetaStepLog, 'loss' | 'metaLoss'>[]): ControlComparison {
  if (trained.length !== control.length || trained.length === 0)
    throw new Error(`meta-training control: the runs have ${trained.length} and ${control.length} steps; a paired control has the same steps`);
  const bad = trained.findIndex((t, i) => t.loss !== control[i].loss);
  if (bad >= 0) throw new Error(`meta-training control: step ${bad + 1} saw L(θ) = ${trained[bad].loss} and ${control[bad].loss}: not the same θ (same seed and config, only --lr-mlp 0 differs?)`);
  const gain = (l: Pick<MetaStepLog, 'loss' | 'metaLoss'>) => l.loss - l.metaLoss;
  const q = Math.max(1, Math.floor(trained.length / 4));
  const quarters = (logs: readonly Pick<MetaStepLog, 'loss' | 'metaLoss'>[]) => ({
    gainFirstQuarter: mean(logs.slice(0, q).map(gain)),
    gainLastQuarter: mean(logs.slice(-q).map(gain)),
  });
  const diff = trained.slice(-q).map((t, i) => gain(t) - gain(control[control.length - q + i]));
  const sorted = [...diff].sort((a, b) => a - b);
  const median = q % 2 ? sorted[(q - 1) / 2] : (sorted[q / 2 - 1] + sorted[q / 2]) / 2;
  return {
    steps: trained.length,
    trained: quarters(trained),
    control: quarters(control),
    lastQuarterDiffMean: mean(diff),
    lastQuarterDiffMedian: median,
    lastQuarterWins: diff.filter((d) => d > 0).length,
    lastQuarterSteps: q,
  };
}
