// Robustness to the learning rate, for sweeps whose grid scans lr: per task (and the other setting
// axes) and method, the tuned lr, the stable range, the loss a few grid steps above the tuned lr, and
// how often each method is the best at an lr. The score is the final dev loss (the candidate
// cross-entropy on dev at the end of the run) when the runs report it, else the final train loss.
//   tuned lr      the lr with the lowest score, mean over seeds (a tie goes to the smaller lr);
//   diverged      a run whose score is not finite, or above DIVERGED_RATIO × its reference: the base
//                 model's dev loss (for the dev score) or the run's first step losses (train score);
//   stable range  the largest lr L such that no seed diverged at any lr ≤ L (0 when the smallest did).
import { canonicalJson } from './spec';
import { meanSd } from './stats';
import type { ReportRun } from './store';

/** A run diverged when its score exceeds this multiple of where it started. */
export const DIVERGED_RATIO = 1.1;
/** The multiples of the tuned lr whose score the table reports (two and four 10^(1/4) grid steps). */
export const ABOVE_TUNED = [Math.sqrt(10), 10];

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);

/** Score and divergence reference of a run: dev loss vs the base model's, else train loss vs its first steps. */
export function runScore(r: ReportRun, useDev: boolean): { score: number; reference: number } {
  const s = r.result.summary;
  if (useDev) return { score: num(s.finalDevLoss), reference: num(s.zeroShotDevLoss) };
  const first = r.metrics.filter((m) => m.event === 'step' && typeof m.loss === 'number').slice(0, 10).map((m) => m.loss as number);
  return { score: num(s.finalTrainLoss), reference: first.length ? first.reduce((a, b) => a + b, 0) / first.length : NaN };
}

export function diverged(r: ReportRun, useDev: boolean): boolean {
  const { score, reference } = runScore(r, useDev);
  return !Number.isFinite(score) || (Number.isFinite(reference) && score > DIVERGED_RATIO * reference);
}

export interface MethodScan {
  method: string;
  /** grid lrs ascending, each with the mean score over seeds (NaN when a seed has no finite score) and the diverged seeds */
  cells: { lr: number; mean: number; seeds: number; diverged: number }[];
  tunedLr: number;
  tunedScore: number;
  stableLr: number;
  /** score at each ABOVE_TUNED multiple of the tuned lr (undefined: not on the grid) */
  above: (number | undefined)[];
}

export interface LrScan {
  /** the task and the fixed setting axes */
  label: string;
  /** which score: 'dev loss' or 'train loss' */
  score: string;
  methods: MethodScan[];
  /** per method: lrs (scanned by every method) where its mean score is the lowest */
  lowest: Record<string, number>;
  /** lrs scanned by every method */
  commonLrs: number;
}

const near = (a: number, b: number) => Math.abs(a / b - 1) < 0.05;

/** One scan per (task, setting without lr) whose runs cover ≥ 3 lrs for some method. */
export function lrScans(runs: readonly ReportRun[], methods: readonly string[]): LrScan[] {
  const groups = new Map<string, ReportRun[]>();
  for (const r of runs) {
    const c = r.result.config;
    const id = canonicalJson({ task: c.task, model: c.model, eps: c.eps, forwardPasses: c.forwardPasses, engine: c.engine ?? '', options: c.options });
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id)!.push(r);
  }
  const scans: LrScan[] = [];
  for (const group of groups.values()) {
    const lrOf = (r: ReportRun) => r.result.config.lr ?? num(r.result.summary.lr);
    if (!methods.some((m) => new Set(group.filter((r) => r.result.config.method === m).map(lrOf)).size >= 3)) continue;
    const useDev = group.every((r) => Number.isFinite(num(r.result.summary.finalDevLoss)) || !Number.isFinite(num(r.result.summary.finalTrainLoss)));
    const c0 = group[0].result.config;
    const scanMethods: MethodScan[] = [];
    for (const method of methods) {
      const mine = group.filter((r) => r.result.config.method === method);
      if (!mine.length) continue;
      const lrs = [...new Set(mine.map(lrOf))].sort((a, b) => a - b);
      const cells = lrs.map((lr) => {
        const at = mine.filter((r) => lrOf(r) === lr);
        const scores = at.map((r) => runScore(r, useDev).score);
        return { lr, mean: scores.every(Number.isFinite) ? meanSd(scores)[0] : NaN, seeds: at.length, diverged: at.filter((r) => diverged(r, useDev)).length };
      });
      let tuned = cells.find((c) => Number.isFinite(c.mean));
      for (const c of cells) if (Number.isFinite(c.mean) && tuned && c.mean < tuned.mean) tuned = c;
      let stableLr = 0;
      for (const c of cells) {
        if (c.diverged) break;
        stableLr = c.lr;
      }
      const above = ABOVE_TUNED.map((f) => (tuned ? cells.find((c) => near(c.lr, tuned.lr * f))?.mean : undefined));
      scanMethods.push({ method, cells, tunedLr: tuned?.lr ?? NaN, tunedScore: tuned?.mean ?? NaN, stableLr, above });
    }
    const common = scanMethods.length ? scanMethods[0].cells.map((c) => c.lr).filter((lr) => scanMethods.every((m) => m.cells.some((c) => c.lr === lr))) : [];
    const lowest: Record<string, number> = Object.fromEntries(scanMethods.map((m) => [m.method, 0]));
    for (const lr of common) {
      // a diverged or unfinished cell (NaN mean) is never the lowest
      const means = scanMethods.map((m) => m.cells.find((c) => c.lr === lr)!.mean);
      const best = Math.min(...means.filter(Number.isFinite));
      scanMethods.forEach((m, i) => {
        if (means[i] === best) lowest[m.method]++;
      });
    }
    const label = [c0.task, `${c0.forwardPasses} fp`, `ε ${c0.eps}`].join(', ');
    scans.push({ label, score: useDev ? 'dev loss' : 'train loss', methods: scanMethods, lowest, commonLrs: common.length });
  }
  return scans;
}
