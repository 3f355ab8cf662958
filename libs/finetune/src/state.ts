// A run's progress as its files record it: what a resumed run restores. The trajectory decides how
// many steps are complete (its torn tail dropped); metrics.jsonl is cut back to those steps and gives
// the zero-shot accuracy, the best dev accuracy so far and the losses for the final summary.
import type { MetricRecord, MetricsLog } from '@zotune/report';
import { recordedLosses, type StepRecord } from '@zotune/zo';

export interface Best {
  devAcc: number;
  /** steps completed when the best dev accuracy was measured (0: the base model) */
  step: number;
}

export interface RunState {
  /** steps complete */
  step: number;
  /** training forward passes spent */
  forwardPasses: number;
  best?: Best;
  zeroShotTestAcc?: number;
  /** dev accuracy of the base model (the eval at step 0) */
  zeroShotDevAcc?: number;
  /** steps whose dev evaluation is recorded */
  evaluated: Set<number>;
  /** seconds on the run's clock (continues across resumes) */
  seconds: number;
}

/** The loss a step reports: the mean of every loss it evaluated (L⁺ and L⁻, and the candidates'). */
export function stepLoss(record: StepRecord): number {
  const l = recordedLosses(record);
  return l.reduce((a, b) => a + b, 0) / l.length;
}

/** The 'step' line of metrics.jsonl for a ZO record. */
export function stepMetric(record: StepRecord, forwardPasses: number, seconds: number | undefined, stepSeconds: number | undefined): MetricRecord {
  return {
    event: 'step',
    step: record.step + 1,
    forwardPasses,
    loss: stepLoss(record),
    projectedGrad: record.projectedGrad,
    ...(seconds !== undefined ? { seconds } : {}),
    ...(stepSeconds !== undefined ? { stepSeconds } : {}),
  };
}

/** Best dev accuracy of the eval records: the first step reaching the maximum (later ties do not replace it). */
export function bestOf(records: readonly MetricRecord[]): Best | undefined {
  let best: Best | undefined;
  for (const r of records) {
    if (r.event !== 'eval' || typeof r.devAcc !== 'number') continue;
    if (!best || r.devAcc > best.devAcc) best = { devAcc: r.devAcc, step: r.step };
  }
  return best;
}

/**
 * Cut metrics.jsonl back to the steps the trajectory's records complete and read the state from it. ZO records fill in a
 * step line that a kill skipped (the trajectory record was written, its metrics line was not).
 */
export function restoreState(metrics: MetricsLog, records: readonly StepRecord[]): RunState {
  const step = records.length;
  metrics.truncateAfter(step);
  let all = metrics.records();
  const logged = new Set(all.filter((r) => r.event === 'step').map((r) => r.step));
  let forwardPasses = 0;
  for (const rec of records) {
    forwardPasses += rec.forwardPasses;
    if (!logged.has(rec.step + 1)) metrics.append(stepMetric(rec, forwardPasses, undefined, undefined));
  }
  all = metrics.records();
  const zs = all.find((r) => r.event === 'zeroshot');
  const dev0 = all.find((r) => r.event === 'eval' && r.step === 0);
  const seconds = Math.max(0, ...all.map((r) => (typeof r.seconds === 'number' ? r.seconds : 0)));
  return {
    step,
    forwardPasses,
    best: bestOf(all),
    zeroShotTestAcc: typeof zs?.testAcc === 'number' ? zs.testAcc : undefined,
    zeroShotDevAcc: typeof dev0?.devAcc === 'number' ? dev0.devAcc : undefined,
    evaluated: new Set(all.filter((r) => r.event === 'eval').map((r) => r.step)),
    seconds,
  };
}

/** Mean of the last `window` step losses in the metrics (NaN when there are none). */
export function finalTrainLoss(records: readonly MetricRecord[], window = 50): number {
  const losses = records.filter((r) => r.event === 'step' && typeof r.loss === 'number').map((r) => r.loss as number);
  const tail = losses.slice(-window);
  return tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : NaN;
}

/** Dev loss of the base model (the eval at step 0) and at the last evaluation; NaN where a record lacks it. */
export function devLosses(records: readonly MetricRecord[]): { zeroShotDevLoss: number; finalDevLoss: number } {
  const evals = records.filter((r) => r.event === 'eval');
  const loss = (r: MetricRecord | undefined) => (typeof r?.devLoss === 'number' ? r.devLoss : NaN);
  return { zeroShotDevLoss: loss(evals.find((r) => r.step === 0)), finalDevLoss: loss(evals.at(-1)) };
}

/** Mean step time of the step lines that measured one. */
export function secondsPerStep(records: readonly MetricRecord[]): number {
  const t = records.filter((r) => r.event === 'step' && typeof r.stepSeconds === 'number').map((r) => r.stepSeconds as number);
  return t.length ? t.reduce((a, b) => a + b, 0) / t.length : NaN;
}
