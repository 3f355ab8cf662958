// `zotune bench memory`: peak resident memory of `zotune eval` against short `zotune finetune` runs
// with MeZO, guided (M = 4) and Adam on the same model, task and batch size, each in its own child
// process of the real bin. Issue 4's target: the ZO runs' peaks at most 1.25× the eval peak (ZO
// fine-tuning costs the memory of inference; issue 22 asks 1.15× on SmolLM2-135M); Adam's peak is
// reported beside them.
//
// Each child's peak is the kernel's high-water mark (getrusage maxRSS) read in the child's own
// 'exit' handler, injected with --import, so nothing is missed between polls. The tfjs wasm heap only
// grows, so eval and the runs use the same batch size and evaluate the same test examples.
//
// Where the MiB go: the same hook samples process.memoryUsage() every 20 ms and at every memoryMark of
// the command (@zotune/report: 'model' carries the weights' bytes), and keeps the sample of highest RSS.
// That sample splits into the weights (the model's fp32 parameters, in JS arrays on engine ort), the
// other JS arrays (a second copy of the weights shows here, as ≥ half the weights again; else batches,
// ORT outputs, noise sums), the V8 heap (task data, tokenized examples, code), other external memory,
// and native memory (the rest of RSS: ONNX Runtime's session and arena, the noise worker threads, node
// itself), plus what the kernel's peak adds to the sample; each term's difference against eval says
// where every MiB above eval goes.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { REPO_ROOT } from '@zotune/data';
import { writeJsonAtomic } from '@zotune/io';
import { action, emit, MEMORY_MARK_EVENT, parseNumber, UserError } from '@zotune/report';

/** The ZO peak over the eval peak that issue 4 accepts. */
export const MEMORY_TARGET_RATIO = 1.25;

const BIN = join(REPO_ROOT, 'apps', 'cli', 'bin', 'zotune.js');
/**
 * Runs in the child before the CLI: at exit, write to $ZOTUNE_BENCH_RSS_FILE the process's peak RSS
 * (KiB), the memoryUsage() sample of highest RSS (taken every 20 ms and at every memory mark, labelled
 * with the phase it fell in), the marks, and the facts they carried. The interval is unref'd: it never
 * keeps the child alive.
 */
const RSS_HOOK =
  'data:text/javascript,' +
  encodeURIComponent(
    `import { writeFileSync } from "node:fs";
const f = process.env.ZOTUNE_BENCH_RSS_FILE;
if (f) {
  let phase = "start";
  const marks = [];
  const facts = {};
  const snap = () => { const m = process.memoryUsage(); return { phase, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }; };
  let peak = snap();
  const take = () => { const s = snap(); if (s.rss > peak.rss) peak = s; return s; };
  setInterval(take, 20).unref();
  process.on(${JSON.stringify(MEMORY_MARK_EVENT)}, (label, fx) => { Object.assign(facts, fx); marks.push({ ...take(), mark: label }); phase = "after " + label; });
  process.on("exit", () => { take(); writeFileSync(f, JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, peak, marks, facts })); });
}`,
  );

/** One memoryUsage() sample of a child (bytes), and the phase of the command it fell in. */
interface MemorySample {
  phase: string;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/**
 * A child's peak RSS split by where it sits (MiB), at the sample of highest RSS; the terms add up to
 * peakRssMiB exactly.
 */
export interface MemoryBreakdown {
  /** the phase of the command the sample fell in ('after model', 'after step 3', ...) */
  phase: string;
  /** the model's parameters in fp32 (what the command reported; in JS arrays on engine ort) */
  weights: number;
  /** JS arrays besides the weights: a second copy of the weights, batches, ORT outputs, noise sums */
  otherArrays: number;
  /** the V8 heap: task data, tokenized examples, metrics, code */
  jsHeap: number;
  /** external memory that is no ArrayBuffer */
  otherExternal: number;
  /** the rest of the sampled RSS as it was when the model was built: node itself, ONNX Runtime's library and session */
  native: number;
  /** the rest's growth since: ONNX Runtime's arena (activations), and a ZO run's noise worker threads */
  nativeGrowth: number;
  /** the kernel's peak above the sample (allocations that came and went between two samples) */
  betweenSamples: number;
  /**
   * the other JS arrays hold 0.9× the weights or more: a second copy of the weights is back; null when
   * the weights are under SECOND_COPY_MIN_MIB (batches and outputs alone can outweigh them)
   */
  secondCopy: boolean | null;
}

const MIB = 2 ** 20;
/** Weights below this many MiB are too small to tell a second copy from batches and outputs. */
export const SECOND_COPY_MIN_MIB = 16;

/**
 * A child's peak RSS split at its sample of highest RSS (engine ort: the weights live in JS arrays);
 * `built` is the sample of the 'model' mark, where the native part stops being fixed costs.
 */
export function breakdown(peakKiB: number, at: MemorySample, weightsBytes: number, built: MemorySample): MemoryBreakdown {
  const arrays = at.arrayBuffers;
  const native = (m: MemorySample) => m.rss - m.heapTotal - m.external;
  const fixed = Math.min(native(built), native(at));
  return {
    phase: at.phase,
    weights: weightsBytes / MIB,
    otherArrays: (arrays - weightsBytes) / MIB,
    jsHeap: at.heapTotal / MIB,
    otherExternal: (at.external - arrays) / MIB,
    native: fixed / MIB,
    nativeGrowth: (native(at) - fixed) / MIB,
    betweenSamples: peakKiB / 1024 - at.rss / MIB,
    secondCopy: weightsBytes < SECOND_COPY_MIN_MIB * MIB ? null : arrays - weightsBytes >= 0.9 * weightsBytes,
  };
}

export interface MemoryFigure {
  /** peak resident set size of the child process, MiB */
  peakRssMiB: number;
  /** wall time of the child process, seconds */
  seconds: number;
  /** the command line after the bin */
  args: string[];
  /** finetune runs: seconds per training step from the run's summary */
  secondsPerStep?: number;
  /** where the peak's MiB sit (children that run a model) */
  breakdown?: MemoryBreakdown;
  /**
   * finetune runs of 2 steps or more: growth per step from the first step's end to the last's, MiB;
   * js: what JS keeps (V8 heap in use + ArrayBuffers), rss: the process. ≈ 0 when nothing is retained per step
   */
  perStep?: { js: number; rss: number };
}

/** The finetune runs `zotune bench memory` can measure. */
export const MEMORY_RUNS = ['mezo', 'guided', 'adam'] as const;
export type MemoryRun = (typeof MEMORY_RUNS)[number];

export interface BenchMemoryResult {
  model: string;
  task: string;
  batch: number;
  steps: number;
  /** test (and dev) examples every child evaluates */
  evalN: number;
  /** `zotune --help`: the bin and its imports, no model */
  baseline: MemoryFigure;
  eval: MemoryFigure;
  /** the runs measured (all three unless BenchMemoryOptions.runs says otherwise) */
  mezo?: MemoryFigure;
  guided?: MemoryFigure;
  adam?: MemoryFigure;
  /** peak / eval peak */
  ratios: Partial<Record<MemoryRun, number>>;
  /** the same over the baseline: (peak − baseline) / (eval peak − baseline) */
  ratiosAboveBaseline: Partial<Record<MemoryRun, number>>;
  target: { ratio: number; mezo?: boolean; guided?: boolean };
  backend: string;
}

interface BenchMemoryOptions {
  model: string;
  task: string;
  batch: number;
  steps: number;
  evalN: number;
  /** the finetune runs to measure (default all of MEMORY_RUNS) */
  runs?: readonly MemoryRun[];
  backend?: string;
  log?: (line: string) => void;
}

/** Run the bin with args; resolve with its peak RSS, wall time and stdout. */
async function measure(args: string[], backend?: string): Promise<{ figure: MemoryFigure; stdout: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'zotune-bench-rss-'));
  const rssFile = join(dir, 'rss');
  const full = [...args, ...(backend ? ['--backend', backend] : [])];
  const t0 = performance.now();
  try {
    const child = spawn(process.execPath, ['--import', RSS_HOOK, BIN, ...full], {
      cwd: REPO_ROOT,
      env: { ...process.env, ZOTUNE_BENCH_RSS_FILE: rssFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((ok, fail) => {
      child.on('error', fail);
      child.on('close', ok);
    });
    const seconds = (performance.now() - t0) / 1000;
    if (code !== 0) {
      const reason = stderr.split('\n').filter((l) => l.startsWith('zotune:') && !l.startsWith('zotune: backend')).at(-1) ?? stderr.trim().split('\n').at(-1);
      throw new Error(`bench memory: \`zotune ${full.join(' ')}\` exited with ${code}: ${reason ?? 'no message'}`);
    }
    const probe = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRssKiB: number; peak: MemorySample; marks: (MemorySample & { mark: string })[]; facts: { weightsBytes?: number; weightsInJsArrays?: number } };
    const steps = probe.marks.filter((m) => /^step \d+$/.test(m.mark));
    const js = (m: MemorySample) => m.heapUsed + m.arrayBuffers;
    const perStep =
      steps.length >= 2 ? { js: (js(steps.at(-1)!) - js(steps[0])) / (steps.length - 1) / MIB, rss: (steps.at(-1)!.rss - steps[0].rss) / (steps.length - 1) / MIB } : undefined;
    const kib = probe.maxRssKiB;
    if (!Number.isFinite(kib) || kib <= 0) throw new Error(`bench memory: \`zotune ${full.join(' ')}\` reported no peak RSS`);
    // only where the weights live in JS arrays (engine ort); tfjs keeps them in its own heap
    const built = probe.marks.find((m) => m.mark === 'model');
    const weights = probe.facts.weightsInJsArrays === 1 && built ? probe.facts.weightsBytes : undefined;
    return {
      figure: { peakRssMiB: kib / 1024, seconds, args: full, ...(weights !== undefined ? { breakdown: breakdown(kib, probe.peak, weights, built!) } : {}), ...(perStep ? { perStep } : {}) },
      stdout,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The lower peak of REPEATS runs of the same command. A process's peak RSS moves by tens of MiB from
 * run to run (when the V8 and ONNX Runtime allocators happen to grow); like a best-of-N time, the
 * lowest of a few runs is the repeatable figure. Eval and the runs it is compared with are measured alike.
 */
const REPEATS = 2;
async function lowest(m: () => Promise<{ figure: MemoryFigure; stdout: string }>): Promise<{ figure: MemoryFigure; stdout: string }> {
  let best = await m();
  for (let i = 1; i < REPEATS; i++) {
    const r = await m();
    if (r.figure.peakRssMiB < best.figure.peakRssMiB) best = r;
  }
  return best;
}

function lastJson(stdout: string, what: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`bench memory: ${what} printed no JSON summary (got ${JSON.stringify(line.slice(0, 80))})`);
  }
}

export async function benchMemory(o: BenchMemoryOptions): Promise<BenchMemoryResult> {
  const log = o.log ?? (() => {});
  const common = ['--model', o.model, '--task', o.task, '--batch', String(o.batch)];
  const work = mkdtempSync(join(tmpdir(), 'zotune-bench-memory-'));
  try {
    log('baseline: zotune --help');
    const baseline = (await measure(['--help'])).figure;
    log(`eval: ${o.evalN} test examples, batch ${o.batch}`);
    const ev = await lowest(() => measure(['eval', ...common, '--split', 'test', '--n', String(o.evalN), '--json'], o.backend));
    const backend = String(lastJson(ev.stdout, 'eval').backend ?? 'unknown');
    const run = async (estimator: string, extra: string[] = []): Promise<MemoryFigure> => {
      log(`finetune: ${estimator}${extra.length ? ' ' + extra.join(' ') : ''}, ${o.steps} steps`);
      const args = [
        'finetune', ...common, '--estimator', estimator, ...extra, '--policy', 'none', '--steps', String(o.steps),
        '--eval-every', String(o.steps), '--eval-n', String(o.evalN), '--test-n', String(o.evalN), '--eval-batch', String(o.batch),
        '--out', join(work, estimator), '--json',
      ];
      const r = await lowest(() => {
        rmSync(join(work, estimator), { recursive: true, force: true }); // a fresh run each time, not a resume
        return measure(args, o.backend);
      });
      const s = lastJson(r.stdout, `finetune --estimator ${estimator}`);
      return { ...r.figure, ...(typeof s.secondsPerStep === 'number' ? { secondsPerStep: s.secondsPerStep } : {}) };
    };
    const want = new Set(o.runs ?? MEMORY_RUNS);
    const extra: Record<MemoryRun, string[]> = { mezo: [], guided: ['--candidates', '4'], adam: [] };
    const figures: Partial<Record<MemoryRun, MemoryFigure>> = {};
    for (const name of MEMORY_RUNS) if (want.has(name)) figures[name] = await run(name, extra[name]);
    const ratio = (f: MemoryFigure) => f.peakRssMiB / ev.figure.peakRssMiB;
    const above = (f: MemoryFigure) => (f.peakRssMiB - baseline.peakRssMiB) / (ev.figure.peakRssMiB - baseline.peakRssMiB);
    const each = (fn: (f: MemoryFigure) => number) => Object.fromEntries(Object.entries(figures).map(([k, f]) => [k, fn(f)])) as Partial<Record<MemoryRun, number>>;
    const target: BenchMemoryResult['target'] = { ratio: MEMORY_TARGET_RATIO };
    for (const k of ['mezo', 'guided'] as const) if (figures[k]) target[k] = ratio(figures[k]) <= MEMORY_TARGET_RATIO;
    return {
      model: o.model,
      task: o.task,
      batch: o.batch,
      steps: o.steps,
      evalN: o.evalN,
      baseline,
      eval: ev.figure,
      ...figures,
      ratios: each(ratio),
      ratiosAboveBaseline: each(above),
      target,
      backend,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The breakdown rows of text(): label, the MemoryBreakdown term. */
const BREAKDOWN_ROWS: [string, keyof MemoryBreakdown][] = [
  ['weights (fp32 parameters)', 'weights'],
  ['other JS arrays (2nd copy?, batches, outputs, noise sums)', 'otherArrays'],
  ['JS heap (task data, tokenized examples, code)', 'jsHeap'],
  ['other external', 'otherExternal'],
  ['native at model build (node, ORT library + session)', 'native'],
  ['native growth since (ORT arena; ZO: noise threads)', 'nativeGrowth'],
  ['between samples', 'betweenSamples'],
];

function text(r: BenchMemoryResult): string {
  const row = (name: string, f: MemoryFigure, ratio?: number) =>
    `  ${name.padEnd(8)} ${f.peakRssMiB.toFixed(0).padStart(6)} MiB${ratio !== undefined ? `  ${ratio.toFixed(2)}× eval` : ''}${f.secondsPerStep !== undefined ? `  ${f.secondsPerStep.toFixed(3)} s/step` : ''}`;
  const runs = MEMORY_RUNS.filter((k) => r[k]);
  const lines = [
    `peak RSS, ${r.model} on ${r.task}, batch ${r.batch}, ${r.steps} steps, ${r.evalN} eval examples (${r.backend}):`,
    row('baseline', r.baseline),
    row('eval', r.eval),
    ...runs.map((k) => row(k, r[k]!, r.ratios[k])),
  ];
  const targets = (['mezo', 'guided'] as const).filter((k) => r.target[k] !== undefined);
  if (targets.length) lines.push(`  target ≤ ${r.target.ratio}× eval: ${targets.map((k) => `${k} ${r.target[k] ? 'met' : 'MISSED'}`).join(', ')}`);
  const zo = runs.filter((k) => k !== 'adam' && r[k]!.breakdown);
  const ev = r.eval.breakdown;
  if (ev && zo.length) {
    // every MiB of a ZO run's peak, beside eval's, and the difference: where the MiB above eval go
    const cols = ['eval', ...zo, ...zo.map((k) => `Δ ${k}`)];
    const w = Math.max(8, ...cols.map((c) => c.length + 1));
    const num = (x: number, signed = false) => `${signed && x >= 0 ? '+' : ''}${x.toFixed(0)}`.padStart(w);
    lines.push(`where the MiB go (at each child's sample of highest RSS; Δ = run − eval):`);
    lines.push(`  ${''.padEnd(58)}${cols.map((c) => c.padStart(w)).join('')}`);
    for (const [label, key] of BREAKDOWN_ROWS) {
      const v = (f: MemoryFigure) => f.breakdown![key] as number;
      lines.push(`  ${label.padEnd(58)}${num(v(r.eval))}${zo.map((k) => num(v(r[k]!))).join('')}${zo.map((k) => num(v(r[k]!) - v(r.eval), true)).join('')}`);
    }
    lines.push(`  ${'= peak RSS'.padEnd(58)}${num(r.eval.peakRssMiB)}${zo.map((k) => num(r[k]!.peakRssMiB)).join('')}${zo.map((k) => num(r[k]!.peakRssMiB - r.eval.peakRssMiB, true)).join('')}`);
    lines.push(`  sampled in: eval ${ev.phase}; ${zo.map((k) => `${k} ${r[k]!.breakdown!.phase}`).join('; ')}`);
    for (const k of zo) {
      const b = r[k]!.breakdown!;
      const verdict = b.secondCopy === null ? `weights under ${SECOND_COPY_MIN_MIB} MiB: too small to tell a second copy` : b.secondCopy ? 'A SECOND COPY OF THE WEIGHTS' : 'no second copy of the weights';
      const per = r[k]!.perStep;
      const retained = per ? `; per step after the first: ${per.js >= 0 ? '+' : ''}${per.js.toFixed(2)} MiB kept by JS, ${per.rss >= 0 ? '+' : ''}${per.rss.toFixed(2)} MiB RSS` : '';
      lines.push(`  ${k}: ${verdict} (JS arrays hold ${((b.weights + b.otherArrays) / b.weights).toFixed(2)}× the weights at its peak)${retained}`);
    }
  }
  return lines.join('\n');
}

/** Add `memory` to an existing `zotune bench` command. */
export function registerBenchMemory(bench: Command): void {
  bench
    .command('memory')
    .description('peak RSS of `zotune eval` against short finetune runs (mezo, guided M=4, adam) on the same model and batch, each a child process, and where the MiB of each peak go')
    .option('--model <M>', 'model', 'stories260K')
    .option('--task <T>', 'task', 'sst2')
    .option('--batch <B>', 'batch size of the eval and of every run', '16')
    .option('--steps <N>', 'steps of each finetune run', '30')
    .option('--eval-n <N>', 'test (and dev) examples every child evaluates', '200')
    .option('--runs <LIST>', `finetune runs to measure beside eval: ${MEMORY_RUNS.join(',')} or a part of them`, MEMORY_RUNS.join(','))
    .option('--backend <name>', 'tfjs backend of the children: auto, tensorflow, wasm or cpu')
    .option('--out <FILE>', 'also write the result as JSON to FILE (atomically)')
    .option('--json', 'print one JSON object on stdout at the end')
    .action(
      action(async (flags: { model: string; task: string; batch: string; steps: string; evalN: string; runs: string; backend?: string; out?: string; json?: boolean }) => {
        const batch = parseNumber('--batch', flags.batch, { int: true, min: 1, max: 4096 });
        const steps = parseNumber('--steps', flags.steps, { int: true, min: 1 });
        const evalN = parseNumber('--eval-n', flags.evalN, { int: true, min: 1 });
        if (flags.backend !== undefined && !['auto', 'tensorflow', 'wasm', 'cpu'].includes(flags.backend))
          throw new UserError(`--backend: unknown backend "${flags.backend}"; expected one of auto, tensorflow, wasm, cpu`, 2);
        const runs = flags.runs.split(',').map((x) => x.trim());
        const bad = runs.find((x) => !(MEMORY_RUNS as readonly string[]).includes(x));
        if (bad !== undefined || runs.length === 0) throw new UserError(`--runs: expected a comma-separated list of ${MEMORY_RUNS.join(', ')}, got "${flags.runs}"`, 2);
        const result = await benchMemory({
          model: flags.model, task: flags.task, batch, steps, evalN, backend: flags.backend, runs: runs as MemoryRun[],
          log: (line) => process.stderr.write(`zotune bench memory: ${line}\n`),
        });
        if (flags.out) writeJsonAtomic(flags.out, result);
        emit(result, !!flags.json, text(result));
      }),
    );
}
