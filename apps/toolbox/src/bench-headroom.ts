// `zotune bench headroom`: can a per-block perturbation policy pay off on this base model at all?
// Before paying for meta-training, measure with backward passes (a yardstick, not a ZO method):
//  1. per block j at the base weights: gradient energy G_j over a few training minibatches, its density
//     G_j/n_j, and the per-parameter curvature h_j (Hutchinson, gradient differences along random
//     directions) — libs/policy/src/oracle.ts;
//  2. the predicted gain of each oracle rule over uniform σ (one step of a quadratic model at each
//     allocation's own best lr) and the lr ratio that model predicts;
//  3. the measured gain: short paired MeZO runs from the base weights with σ fixed to each rule's
//     allocation (measured once, at θ0), same minibatches and noise seeds as uniform, at the same lr
//     and at the lr the model predicts; gain = loss reduction on a fixed set of training examples,
//     over uniform's. Equal forward passes by construction (every run is `steps` MeZO steps).
import { backendFlag, type BenchCommand } from './flags';
import * as tf from '@tensorflow/tfjs-core';
import { resolveDataDir } from '@zotune/data';
import { blockVariable, createLlama, resolveModel } from '@zotune/models';
import { flooredCurvature, measureHeadroom, normFactor, ORACLE_RULES, oracleRawSigma, predictedGain, sizeFactors, type BlockHeadroom } from '@zotune/policy';
import { UserError, parseNumber } from '@zotune/report';
import { Collator, objectiveFor, resolveTask, sample, type TaskBatch } from '@zotune/tasks';
import { deriveSeed, initBackend, parseBackend } from '@zotune/tensor';
import { createEstimator, fixedScale, lossValueOf, onesScale, stepSeed, type Scale, type StepRecord } from '@zotune/zo';

export interface BenchHeadroomOptions {
  model: string;
  task: string;
  batch: number;
  /** minibatches the gradients are measured on */
  batches: number;
  /** random directions of the curvature estimate */
  probes: number;
  /** MeZO steps of each measured run */
  steps: number;
  lr: number;
  eps: number;
  seeds: number[];
  /** training examples the loss reduction is measured on */
  lossN: number;
  backend?: ReturnType<typeof parseBackend>;
}

interface Variant {
  name: string;
  /** the allocation's σ², null = uniform */
  rule: (typeof ORACLE_RULES)[number] | null;
  /** 'same' lr as uniform, or the 'predicted' one (lr × the model's lr ratio) */
  lr: 'same' | 'predicted';
}

export interface HeadroomRun {
  variant: string;
  seed: number;
  lr: number;
  lossBefore: number;
  lossAfter: number;
  /** lossBefore − lossAfter */
  reduction: number;
  diverged: boolean;
}

export interface BenchHeadroomResult {
  model: string;
  task: string;
  backend: string;
  blocks: (BlockHeadroom & { curvatureUsed: number })[];
  /** max/min of G_j/n_j over blocks with a nonzero gradient */
  densitySpan: number;
  /** Pearson correlation of log density and log curvature over blocks with ĥ > 0 */
  logCorrelation: number;
  rules: { rule: string; predictedGain: number; predictedLrRatio: number; sigmaMin: number; sigmaMax: number }[];
  runs: HeadroomRun[];
  /** per variant: mean over seeds of reduction / uniform's reduction (paired by seed) */
  measuredGain: Record<string, number>;
  settings: Omit<BenchHeadroomOptions, 'backend'> & { note: string };
}

function pearson(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

const VARIANTS: Variant[] = [
  { name: 'uniform', rule: null, lr: 'same' },
  { name: 'density', rule: 'density', lr: 'same' },
  { name: 'density@predicted-lr', rule: 'density', lr: 'predicted' },
  { name: 'curvature', rule: 'curvature', lr: 'same' },
  { name: 'curvature@predicted-lr', rule: 'curvature', lr: 'predicted' },
];

export async function benchHeadroom(opts: BenchHeadroomOptions, log: (s: string) => void = () => {}): Promise<BenchHeadroomResult> {
  let task;
  try {
    task = resolveTask(opts.task);
  } catch (e) {
    throw new UserError(`--task: ${(e as Error).message}`, 2);
  }
  const dataDir = resolveDataDir();
  const seed0 = opts.seeds[0];
  const train = task.splits(dataDir, seed0).train;
  if (train.length < opts.batch) throw new UserError(`--batch ${opts.batch}: task ${task.name} has only ${train.length} training examples`, 2);
  const backend = await initBackend(opts.backend ?? 'auto');
  const resolved = resolveModel(opts.model, dataDir);
  const model = createLlama(resolved.checkpoint);
  const objective = objectiveFor(task.kind);
  const goldOnly = task.kind === 'generation-lm';
  const collator = new Collator(task, resolved.tokenizer, model.config.maxSeqLen);
  const blocks = model.blocks;
  const theta0 = blocks.map((b) => tf.clone(blockVariable(b, 'bench headroom')));
  const reset = () => blocks.forEach((b, j) => blockVariable(b, 'bench headroom').assign(theta0[j]));
  try {
    const batchOf = (seed: number, i: number): TaskBatch => collator.batch(sample(train, opts.batch, deriveSeed(seed, i)), { goldOnly });
    // ---- 1. per-block gradient density and curvature at θ0 ----
    const measureBatches = Array.from({ length: opts.batches }, (_, i) => batchOf(deriveSeed(seed0, 0x68656164), i));
    log(`${resolved.name}, ${task.name}: measuring G_j on ${opts.batches} minibatches of ${opts.batch} and h_j with ${opts.probes} probes (backward passes)`);
    const h = await measureHeadroom(blocks, measureBatches.map((b) => () => objective(model, b)), { probes: opts.probes, delta: opts.eps, seed: seed0 });
    const curv = flooredCurvature(h);
    const dens = h.map((b) => b.density).filter((d) => d > 0);
    const pos = h.filter((b) => b.density > 0 && (b.curvature ?? 0) > 0);
    const f = sizeFactors(blocks, measureBatches[0].packed);
    const allocation: Record<string, number[]> = {};
    const rules = ORACLE_RULES.map((rule) => {
      const raw = oracleRawSigma(rule, h);
      const nf = normFactor(raw, f);
      allocation[rule] = raw.map((s) => s * nf);
      // σ as the runs use it (rescaled like uniform's, Σ f σ² = Σ f): the predicted lr ratio depends on the scale
      const p = predictedGain(allocation[rule].map((s) => s * s), h);
      return { rule, predictedGain: p.gain, predictedLrRatio: p.lrRatio, sigmaMin: Math.min(...allocation[rule]), sigmaMax: Math.max(...allocation[rule]) };
    });
    for (const r of rules) log(`${r.rule}: predicted gain ${r.predictedGain.toFixed(3)}× uniform at lr ×${r.predictedLrRatio.toPrecision(3)}; σ·nf ${r.sigmaMin.toPrecision(3)}–${r.sigmaMax.toPrecision(3)}`);

    // ---- 2. measured: paired short MeZO runs ----
    const lossSet = sample(train, opts.lossN, deriveSeed(seed0, 0x6c6f7373));
    const lossBatches = Array.from({ length: Math.ceil(lossSet.length / opts.batch) }, (_, i) => collator.batch(lossSet.slice(i * opts.batch, (i + 1) * opts.batch), { goldOnly }));
    const setLoss = async () => {
      let s = 0;
      for (const b of lossBatches) s += (await lossValueOf(() => objective(model, b))()) * b.gold.length;
      return s / lossSet.length;
    };
    reset();
    const lossBefore = await setLoss();
    const runs: HeadroomRun[] = [];
    for (const seed of opts.seeds)
      for (const v of VARIANTS) {
        const rule = v.rule ? rules.find((r) => r.rule === v.rule)! : undefined;
        const lr = opts.lr * (rule && v.lr === 'predicted' ? rule.predictedLrRatio : 1);
        const scale: Scale = v.rule ? fixedScale(allocation[v.rule], `oracle-${v.rule}`) : onesScale;
        const est = createEstimator({ name: 'mezo', lr, eps: opts.eps });
        reset();
        let prev: StepRecord | undefined;
        try {
          for (let s = 0; s < opts.steps; s++) {
            const b = batchOf(seed, s + 1);
            prev = await est.step({ blocks, step: s, seed: stepSeed(seed, s), lossValue: lossValueOf(() => objective(model, b)), scale, prev, batch: b.packed });
            est.update(blocks, prev);
          }
        } finally {
          est.dispose();
        }
        const lossAfter = await setLoss();
        const diverged = !Number.isFinite(lossAfter) || lossAfter > 2 * lossBefore;
        runs.push({ variant: v.name, seed, lr, lossBefore, lossAfter, reduction: lossBefore - lossAfter, diverged });
        log(`seed ${seed} ${v.name} (lr ${lr.toPrecision(3)}): loss ${lossBefore.toFixed(4)} → ${lossAfter.toFixed(4)}`);
      }
    const measuredGain: Record<string, number> = {};
    for (const v of VARIANTS) {
      const ratios = opts.seeds.map((seed) => {
        const u = runs.find((r) => r.seed === seed && r.variant === 'uniform')!;
        return runs.find((r) => r.seed === seed && r.variant === v.name)!.reduction / u.reduction;
      });
      measuredGain[v.name] = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    }
    return {
      model: resolved.name,
      task: task.name,
      backend: backend.name,
      blocks: h.map((b, j) => ({ ...b, curvatureUsed: curv[j] })),
      densitySpan: Math.max(...dens) / Math.min(...dens),
      logCorrelation: pearson(pos.map((b) => Math.log(b.density)), pos.map((b) => Math.log(b.curvature!))),
      rules,
      runs,
      measuredGain,
      settings: {
        ...(({ backend: _b, ...rest }) => rest)(opts),
        note: 'oracle σ measured once at θ0 (backward passes: a yardstick); gain = loss reduction on lossN training examples over uniform MeZO, paired by seed (same minibatches and noise); predicted = one quadratic-model step at each allocation\'s own best lr',
      },
    };
  } finally {
    tf.dispose(theta0);
    model.dispose();
  }
}

function text(r: BenchHeadroomResult): string {
  const lines = [`${r.model} on ${r.task} (${r.backend}): per-parameter gradient density spans ${r.densitySpan.toFixed(1)}× over blocks; log-correlation of density and curvature ${r.logCorrelation.toFixed(2)}`];
  const top = [...r.blocks].sort((a, b) => b.density - a.density);
  lines.push(`  densest: ${top.slice(0, 3).map((b) => b.name).join(', ')}; sparsest: ${top.slice(-3).map((b) => b.name).join(', ')}`);
  for (const x of r.rules)
    lines.push(`  ${x.rule}: predicted ${x.predictedGain.toFixed(2)}× uniform (at lr ×${x.predictedLrRatio.toPrecision(3)}); measured ${r.measuredGain[x.rule].toFixed(2)}× at the same lr, ${r.measuredGain[`${x.rule}@predicted-lr`].toFixed(2)}× at the predicted lr`);
  lines.push(`  (${r.settings.seeds.length} paired seeds × ${r.settings.steps} MeZO steps, lr ${r.settings.lr}; ${r.settings.note})`);
  return lines.join('\n');
}

export interface BenchHeadroomFlags {
  model: string;
  task: string;
  batch: string;
  batches: string;
  probes: string;
  steps: string;
  lr: string;
  eps: string;
  seeds: string;
  lossN: string;
  out?: string;
  backend?: string;
  json?: boolean;
}

export function parseBenchHeadroomFlags(flags: BenchHeadroomFlags): BenchHeadroomOptions {
  const backend = backendFlag(flags.backend);
  const seeds = flags.seeds.split(',').map((s) => parseNumber('--seeds', s.trim(), { int: true, min: 0, max: 2 ** 32 - 1 }));
  return {
    model: flags.model,
    task: flags.task,
    batch: parseNumber('--batch', flags.batch, { int: true, min: 1, max: 4096 }),
    batches: parseNumber('--batches', flags.batches, { int: true, min: 1, max: 1000 }),
    probes: parseNumber('--probes', flags.probes, { int: true, min: 1, max: 1000 }),
    steps: parseNumber('--steps', flags.steps, { int: true, min: 1, max: 1e6 }),
    lr: parseNumber('--lr', flags.lr, { min: 0 }),
    eps: parseNumber('--eps', flags.eps, { min: 0 }),
    seeds: [...new Set(seeds)],
    lossN: parseNumber('--loss-n', flags.lossN, { int: true, min: 1, max: 1e6 }),
    backend,
  };
}

/** The run and text of `zotune bench headroom` (declared in commands.ts). */
export const benchHeadroomCommand: BenchCommand<BenchHeadroomFlags, BenchHeadroomResult> = {
  run: (flags) => benchHeadroom(parseBenchHeadroomFlags(flags), (s) => process.stderr.write(`zotune bench headroom: ${s}\n`)),
  text,
};
