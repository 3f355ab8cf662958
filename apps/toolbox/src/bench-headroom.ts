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
// The gradients of step 1 come from tfjs autodiff, or (--gradients torch, the default above
// TORCH_ABOVE parameters, where the tfjs-wasm backward cannot allocate) from PyTorch on zotune's own
// weights, loss and minibatches (torch-grads.ts). The runs of step 3 are forward-only: they run on the
// forward engine (--engine, auto = ONNX Runtime).
import { backendFlag, engineFlags, type BenchCommand } from './flags';
import { torchHeadroom } from './torch-grads';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { resolveDataDir } from '@zotune/data';
import { blockValues, blockVariable, createTfjsModel, resolveModel, type Block } from '@zotune/models';
import { engineNote, engineReport, openModel, forwardEngine, type EngineName } from '@zotune/engine';
import { flooredCurvature, measureHeadroom, normFactor, ORACLE_RULES, oracleRawSigma, predictedGain, sizeFactors, type BlockHeadroom } from '@zotune/policy';
import { UserError, parseNumber, usageError } from '@zotune/report';
import { Collator, objectiveFor, objectiveValue, resolveTask, sample, type TaskBatch } from '@zotune/tasks';
import { deriveSeed, initBackend, parseBackend } from '@zotune/tensor';
import { createEstimator, fixedScale, onesScale, stepSeed, type LossValue, type Scale, type StepRecord } from '@zotune/zo';

export const GRADIENT_SOURCES = ['auto', 'tfjs', 'torch'] as const;
export type GradientSource = (typeof GRADIENT_SOURCES)[number];
/** auto: PyTorch's backward above this many parameters (SmolLM2-135M's tfjs-wasm backward cannot allocate in 4 GiB) */
export const TORCH_ABOVE = 50e6;

export interface BenchHeadroomOptions {
  model: string;
  task: string;
  batch: number;
  /** minibatches the gradients are measured on */
  batches: number;
  /** random directions of the curvature estimate */
  probes: number;
  /** MeZO steps of each measured run (0: no runs) */
  steps: number;
  lr: number;
  eps: number;
  seeds: number[];
  /** training examples the loss reduction is measured on */
  lossN: number;
  /** where the backward passes of step 1 run */
  gradients: GradientSource;
  /** the measured runs: a subset of VARIANTS' names, in VARIANTS' order */
  variants: string[];
  backend?: ReturnType<typeof parseBackend>;
  /**
   * an earlier `bench headroom --json` result of the same model, task, batch, batches, probes and eps:
   * its blocks (G_j, ĥ_j) are used instead of measuring again, and its first seed fixes the split, the
   * measured minibatches and the loss set, so `--from F --seeds 1` runs exactly what `--seeds 0,1` would
   */
  from?: string;
  /** forward engine of the measured runs (default $ZOTUNE_ENGINE, else auto) */
  engine?: EngineName;
  /** ORT intra-op threads and noise threads (default: cores) */
  threads?: number;
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
  /** wall clock of the run's MeZO steps over steps (load on the machine included) */
  secondsPerStep: number;
}

export interface BenchHeadroomResult {
  model: string;
  task: string;
  backend: string;
  /** the forward engine of the measured runs */
  engine: Record<string, unknown>;
  /** where G_j and ĥ_j came from; torch: its losses at θ0 against zotune's on the same minibatches */
  gradients: { source: 'tfjs' | 'torch'; seconds: number; from?: string; torch?: { python: string; versions: Record<string, string>; losses: number[]; zotuneLosses: number[]; maxRelLossDiff: number } };
  blocks: (BlockHeadroom & { curvatureUsed: number })[];
  /** max/min of G_j/n_j over blocks with a nonzero gradient */
  densitySpan: number;
  /** 90th over 10th percentile of G_j/n_j (blocks with a nonzero gradient) */
  densitySpan10to90: number;
  /** Pearson correlation of log density and log curvature over blocks with ĥ > 0 */
  logCorrelation: number;
  /** blocks whose raw curvature estimate ĥ_j is ≤ 0 (floored), out of blocks.length */
  curvatureNonPositive: number;
  /** torch: the same count from each half of the probes, and the log-correlation of the halves' ĥ over blocks positive in both (is the estimate more than noise?) */
  curvatureSplitHalf?: { nonPositive: [number, number]; logCorrelation: number };
  /** per decoder layer: its share of ΣG, its density ΣG/Σn over the model's, and its blocks' n */
  layers: { layer: number; size: number; gradShare: number; relDensity: number }[];
  rules: { rule: string; predictedGain: number; predictedLrRatio: number; sigmaMin: number; sigmaMax: number }[];
  runs: HeadroomRun[];
  /** per variant: mean over seeds of reduction / uniform's reduction (paired by seed) */
  measuredGain: Record<string, number>;
  settings: Omit<BenchHeadroomOptions, 'backend' | 'engine' | 'threads'> & { note: string };
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

export const VARIANT_NAMES = VARIANTS.map((v) => v.name);

/** θ per block, copied: every run starts from exactly θ0 (a copy, not the update undone) */
const snapshot = (blocks: readonly Block[]) => blocks.map((b) => Float32Array.from(blockValues(b)));
function restore(blocks: readonly Block[], saved: readonly Float32Array[]): void {
  blocks.forEach((b, j) => {
    if (b.data) b.data.set(saved[j]);
    else blockVariable(b, 'bench headroom').assign(tf.tensor(saved[j], b.shape, 'float32'));
  });
}

function quantile(sorted: readonly number[], q: number): number {
  const x = q * (sorted.length - 1);
  const i = Math.floor(x);
  return i + 1 < sorted.length ? sorted[i] + (x - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
}

/** Per decoder layer (HF name model.layers.L.*): share of ΣG and density relative to the model's ΣG/Σn. */
function layerTotals(h: readonly BlockHeadroom[]): BenchHeadroomResult['layers'] {
  const G = h.reduce((s, b) => s + b.gradEnergy, 0);
  const N = h.reduce((s, b) => s + b.size, 0);
  const by = new Map<number, { g: number; n: number }>();
  for (const b of h) {
    const m = /^model\.layers\.(\d+)\./.exec(b.name);
    if (!m) continue;
    const e = by.get(+m[1]) ?? { g: 0, n: 0 };
    e.g += b.gradEnergy;
    e.n += b.size;
    by.set(+m[1], e);
  }
  return [...by].sort((a, b) => a[0] - b[0]).map(([layer, e]) => ({ layer, size: e.n, gradShare: e.g / G, relDensity: e.g / e.n / (G / N) }));
}

/** The --from file: an earlier result whose measurement settings are this run's. */
function readPrior(file: string, opts: BenchHeadroomOptions, taskName: string): BenchHeadroomResult {
  let r: BenchHeadroomResult;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as BenchHeadroomResult;
  } catch (e) {
    throw new UserError(`--from ${file}: ${(e as Error).message.split('\n')[0]}; expected the JSON of zotune bench headroom --json`, 2);
  }
  if (!Array.isArray(r?.blocks) || !r.settings || !r.gradients) throw new UserError(`--from ${file}: no blocks, settings or gradients; expected the JSON of zotune bench headroom --json`, 2);
  if (r.task !== taskName) throw new UserError(`--from ${file}: measured on task ${r.task}, this run is on ${taskName}`, 2);
  for (const k of ['batch', 'batches', 'probes', 'eps'] as const)
    if (r.settings[k] !== opts[k]) throw new UserError(`--from ${file}: measured with ${k} ${r.settings[k]}, this run has ${opts[k]}; give the same --${k}`, 2);
  return r;
}

export async function benchHeadroom(opts: BenchHeadroomOptions, log: (s: string) => void = () => {}): Promise<BenchHeadroomResult> {
  let task;
  try {
    task = resolveTask(opts.task);
  } catch (e) {
    throw new UserError(`--task: ${(e as Error).message}`, 2);
  }
  const dataDir = resolveDataDir();
  const prior = opts.from ? readPrior(opts.from, opts, task.name) : undefined;
  const seed0 = prior ? prior.settings.seeds[0] : opts.seeds[0];
  const train = task.splits(dataDir, seed0).train;
  if (train.length < opts.batch) throw new UserError(`--batch ${opts.batch}: task ${task.name} has only ${train.length} training examples`, 2);
  const variants = VARIANTS.filter((v) => opts.variants.includes(v.name));
  if (!variants.some((v) => v.name === 'uniform')) throw new UserError('--variants: must include uniform (the gains are over it)', 2);
  const backend = await initBackend(opts.backend ?? 'auto');
  const engine = await forwardEngine(opts, backend).catch(usageError);
  log(engineNote(engine).trimEnd());
  const resolved = resolveModel(opts.model, dataDir);
  const ckpt = resolved.checkpoint;
  if (prior && prior.model !== resolved.name) throw new UserError(`--from ${opts.from}: measured on model ${prior.model}, this run is on ${resolved.name}`, 2);
  const model = await openModel(ckpt, engine);
  const objective = objectiveFor(task.kind);
  const goldOnly = task.kind === 'generation-lm';
  const collator = new Collator(task, resolved.tokenizer, model.config.maxSeqLen);
  const blocks = model.blocks;
  const parameters = blocks.reduce((s, b) => s + b.size, 0);
  const source = opts.gradients === 'auto' ? (parameters > TORCH_ABOVE ? 'torch' : 'tfjs') : opts.gradients;
  const lossOf = (b: TaskBatch): LossValue => () => objectiveValue(model, b);
  const theta0 = snapshot(blocks);
  const reset = () => restore(blocks, theta0);
  try {
    const batchOf = (seed: number, i: number): TaskBatch => collator.batch(sample(train, opts.batch, deriveSeed(seed, i)), { goldOnly });
    // ---- 1. per-block gradient density and curvature at θ0 ----
    const measureBatches = Array.from({ length: opts.batches }, (_, i) => batchOf(deriveSeed(seed0, 0x68656164), i));
    const t0 = performance.now();
    let h: BlockHeadroom[];
    let gradients: BenchHeadroomResult['gradients'];
    let byProbe: number[][] | undefined;
    if (prior) {
      log(`${resolved.name}, ${task.name}: G_j and h_j from ${opts.from} (${prior.gradients.source})`);
      if (prior.blocks.length !== blocks.length || prior.blocks.some((b, j) => b.name !== blocks[j].name || b.size !== blocks[j].size))
        throw new UserError(`--from ${opts.from}: its blocks are not this model's (names or sizes differ)`, 2);
      h = prior.blocks.map(({ curvatureUsed: _c, ...b }) => b);
      gradients = { ...prior.gradients, from: opts.from };
    } else if (source === 'torch') {
      log(`${resolved.name}, ${task.name}: measuring G_j on ${opts.batches} minibatches of ${opts.batch} and h_j with ${opts.probes} probes (backward passes, torch)`);
      const t = torchHeadroom(ckpt, blocks.map((b) => b.name), measureBatches, { probes: opts.probes, delta: opts.eps, seed: seed0 });
      const zotuneLosses: number[] = [];
      for (const b of measureBatches) zotuneLosses.push(await lossOf(b)());
      const maxRelLossDiff = Math.max(...t.losses.map((l, i) => Math.abs(l - zotuneLosses[i]) / Math.abs(zotuneLosses[i])));
      log(`torch: ${t.seconds.toFixed(0)} s; its loss at θ0 vs zotune's (engine ${engine.name}) on the same minibatches: max relative difference ${maxRelLossDiff.toExponential(2)}`);
      h = t.blocks;
      byProbe = t.curvatureByProbe;
      gradients = { source, seconds: t.seconds, torch: { python: t.python, versions: t.versions, losses: t.losses, zotuneLosses, maxRelLossDiff } };
    } else {
      log(`${resolved.name}, ${task.name}: measuring G_j on ${opts.batches} minibatches of ${opts.batch} and h_j with ${opts.probes} probes (backward passes, tfjs)`);
      // tfjs autodiff on its own copy of the model (the runs may be on ORT)
      const tfModel = createTfjsModel(ckpt);
      try {
        h = await measureHeadroom(tfModel.blocks, measureBatches.map((b) => () => objective(tfModel, b)), { probes: opts.probes, delta: opts.eps, seed: seed0 });
      } finally {
        tfModel.dispose();
      }
      gradients = { source, seconds: (performance.now() - t0) / 1000 };
    }
    const curv = flooredCurvature(h);
    const dens = h.map((b) => b.density).filter((d) => d > 0);
    const sortedDens = [...dens].sort((a, b) => a - b);
    const pos = h.filter((b) => b.density > 0 && (b.curvature ?? 0) > 0);
    let curvatureSplitHalf = prior?.curvatureSplitHalf;
    if (byProbe && byProbe.length >= 2) {
      const half = (rows: number[][]) => h.map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
      const m = byProbe.length >> 1;
      const a = half(byProbe.slice(0, m));
      const b = half(byProbe.slice(m));
      const both = h.map((_, j) => j).filter((j) => a[j] > 0 && b[j] > 0);
      curvatureSplitHalf = { nonPositive: [a.filter((x) => x <= 0).length, b.filter((x) => x <= 0).length], logCorrelation: pearson(both.map((j) => Math.log(a[j])), both.map((j) => Math.log(b[j]))) };
    }
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
      for (const b of lossBatches) s += (await lossOf(b)()) * b.gold.length;
      return s / lossSet.length;
    };
    reset();
    const lossBefore = opts.steps > 0 ? await setLoss() : NaN;
    const runs: HeadroomRun[] = [];
    // --steps 0: the measurement of step 1 only
    if (opts.steps > 0)
      for (const seed of opts.seeds)
        for (const v of variants) {
          const rule = v.rule ? rules.find((r) => r.rule === v.rule)! : undefined;
          const lr = opts.lr * (rule && v.lr === 'predicted' ? rule.predictedLrRatio : 1);
          const scale: Scale = v.rule ? fixedScale(allocation[v.rule], `oracle-${v.rule}`) : onesScale;
          const est = createEstimator({ name: 'mezo', lr, eps: opts.eps }, { threads: opts.threads });
          reset();
          const t1 = performance.now();
          let prev: StepRecord | undefined;
          try {
            for (let s = 0; s < opts.steps; s++) {
              const b = batchOf(seed, s + 1);
              prev = await est.step({ blocks, step: s, seed: stepSeed(seed, s), lossValue: lossOf(b), scale, prev, batch: b.packed });
              await est.update(blocks, prev);
            }
          } finally {
            est.dispose();
          }
          const seconds = (performance.now() - t1) / 1000;
          const lossAfter = await setLoss();
          const diverged = !Number.isFinite(lossAfter) || lossAfter > 2 * lossBefore;
          runs.push({ variant: v.name, seed, lr, lossBefore, lossAfter, reduction: lossBefore - lossAfter, diverged, secondsPerStep: seconds / opts.steps });
          log(`seed ${seed} ${v.name} (lr ${lr.toPrecision(3)}): loss ${lossBefore.toFixed(4)} → ${lossAfter.toFixed(4)} (${(seconds / opts.steps).toFixed(2)} s/step)`);
        }
    const measuredGain: Record<string, number> = {};
    for (const v of opts.steps > 0 ? variants : []) {
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
      engine: engineReport(engine),
      gradients,
      blocks: h.map((b, j) => ({ ...b, curvatureUsed: curv[j] })),
      densitySpan: Math.max(...dens) / Math.min(...dens),
      densitySpan10to90: quantile(sortedDens, 0.9) / quantile(sortedDens, 0.1),
      logCorrelation: pearson(pos.map((b) => Math.log(b.density)), pos.map((b) => Math.log(b.curvature!))),
      curvatureNonPositive: h.filter((b) => (b.curvature ?? 0) <= 0).length,
      ...(curvatureSplitHalf ? { curvatureSplitHalf } : {}),
      layers: layerTotals(h),
      rules,
      runs,
      measuredGain,
      settings: {
        ...(({ backend: _b, engine: _e, threads: _t, ...rest }) => rest)(opts),
        note: 'oracle σ measured once at θ0 (backward passes: a yardstick); gain = loss reduction on lossN training examples over uniform MeZO, paired by seed (same minibatches and noise); predicted = one quadratic-model step at each allocation\'s own best lr',
      },
    };
  } finally {
    await model.dispose();
  }
}

function text(r: BenchHeadroomResult): string {
  const lines = [
    `${r.model} on ${r.task} (gradients ${r.gradients.source}, runs on ${r.engine.name}): per-parameter gradient density spans ${r.densitySpan.toFixed(1)}× over blocks (10–90 %: ${r.densitySpan10to90.toFixed(1)}×); log-correlation of density and curvature ${r.logCorrelation.toFixed(2)} (${r.curvatureNonPositive} of ${r.blocks.length} blocks with ĥ ≤ 0)`,
  ];
  const top = [...r.blocks].sort((a, b) => b.density - a.density);
  lines.push(`  densest: ${top.slice(0, 3).map((b) => b.name).join(', ')}; sparsest: ${top.slice(-3).map((b) => b.name).join(', ')}`);
  const lead = [...r.layers].sort((a, b) => b.gradShare - a.gradShare)[0];
  if (lead) lines.push(`  layer ${lead.layer} holds ${(100 * lead.gradShare).toFixed(1)} % of the gradient energy (${r.layers.length} layers)`);
  const gain = (k: string) => (r.measuredGain[k] === undefined ? 'not run' : `${r.measuredGain[k].toFixed(2)}×`);
  for (const x of r.rules)
    lines.push(`  ${x.rule}: predicted ${x.predictedGain.toFixed(2)}× uniform (at lr ×${x.predictedLrRatio.toPrecision(3)}); measured ${gain(x.rule)} at the same lr, ${gain(`${x.rule}@predicted-lr`)} at the predicted lr`);
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
  gradients: string;
  from?: string;
  variants: string;
  out?: string;
  backend?: string;
  engine?: string;
  threads?: string;
  json?: boolean;
}

export function parseBenchHeadroomFlags(flags: BenchHeadroomFlags): BenchHeadroomOptions {
  const backend = backendFlag(flags.backend);
  const seeds = flags.seeds.split(',').map((s) => parseNumber('--seeds', s.trim(), { int: true, min: 0, max: 2 ** 32 - 1 }));
  if (!(GRADIENT_SOURCES as readonly string[]).includes(flags.gradients)) throw new UserError(`--gradients: expected one of ${GRADIENT_SOURCES.join(', ')}, got "${flags.gradients}"`, 2);
  const variants = flags.variants.split(',').map((v) => v.trim());
  for (const v of variants) if (!VARIANT_NAMES.includes(v)) throw new UserError(`--variants: unknown variant "${v}"; expected some of ${VARIANT_NAMES.join(', ')}`, 2);
  const { engine, threads } = engineFlags(flags);
  return {
    model: flags.model,
    task: flags.task,
    batch: parseNumber('--batch', flags.batch, { int: true, min: 1, max: 4096 }),
    batches: parseNumber('--batches', flags.batches, { int: true, min: 1, max: 1000 }),
    probes: parseNumber('--probes', flags.probes, { int: true, min: 1, max: 1000 }),
    steps: parseNumber('--steps', flags.steps, { int: true, min: 0, max: 1e6 }),
    lr: parseNumber('--lr', flags.lr, { min: 0 }),
    eps: parseNumber('--eps', flags.eps, { min: 0 }),
    seeds: [...new Set(seeds)],
    lossN: parseNumber('--loss-n', flags.lossN, { int: true, min: 1, max: 1e6 }),
    gradients: flags.gradients as GradientSource,
    ...(flags.from !== undefined ? { from: flags.from } : {}),
    variants: VARIANT_NAMES.filter((v) => variants.includes(v)),
    backend,
    engine,
    threads,
  };
}

/** The run and text of `zotune bench headroom` (declared in commands.ts). */
export const benchHeadroomCommand: BenchCommand<BenchHeadroomFlags, BenchHeadroomResult> = {
  run: (flags) => benchHeadroom(parseBenchHeadroomFlags(flags), (s) => process.stderr.write(`zotune bench headroom: ${s}\n`)),
  text,
};
