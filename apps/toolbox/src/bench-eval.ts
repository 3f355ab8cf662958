// `zotune bench eval`: examples per second of evaluation (`zotune eval`'s loop, @zotune/tasks'
// evaluate) on a real model and task split, for each batch layout, interleaved in the same run: the
// planned layout (the default: candidates' last tokens left out, the sorted examples cut at the least
// padded cost) against the greedy one it replaced (full rows, 64 sorted examples per forward). Per layout:
// examples/s (wall and per CPU-second), real tokens and padded slots per forward, the padded share, and
// the forward's share of the time (inside Model.scoreCandidates); per task the tokenization's cost and
// the largest score difference between the layouts. The machine's load average and ORT's own MatMul
// GFLOP/s on the same threads (before and after) are the same-run references. Issue 22's eval target:
// ≥ 13 examples/s on SmolLM2-135M, SST-2, 2 threads (3× its 4.3).
import { loadavg } from 'node:os';
import { resolveDataDir } from '@zotune/data';
import { engineNote, engineReport, enginePreference, forwardEngine, openModel, parseThreads, type EngineName } from '@zotune/engine';
import { resolveModel, type Model } from '@zotune/models';
import { loadOrt } from '@zotune/ort';
import { UserError, parseNumber, usageError } from '@zotune/report';
import { Collator, evaluate, resolveTask, type EvalLayout, type EvalResult } from '@zotune/tasks';
import { initBackend, type BackendName } from '@zotune/tensor';
import { backendFlag, type BenchCommand } from './flags';

export const EVAL_LAYOUTS: readonly EvalLayout[] = ['greedy', 'planned'];

export interface BenchEvalOptions {
  model: string;
  tasks: string[];
  split: 'dev' | 'test';
  /** the first n examples of the split */
  n: number;
  /** examples per forward pass (evaluate's batchSize) */
  batch: number;
  /** timed evaluations per layout (interleaved; the fastest is reported) */
  rounds: number;
  seed: number;
  backend?: BackendName;
  engine?: EngineName;
  threads?: number;
}

export interface LayoutTiming {
  layout: EvalLayout;
  /** the fastest round's wall seconds (tokenization excluded: the examples are encoded before) */
  seconds: number;
  /** that round's process CPU seconds (all threads): what the work costs however loaded the machine is */
  cpuSeconds: number;
  examplesPerSecond: number;
  examplesPerCpuSecond: number;
  forwards: number;
  /** real tokens per forward (prompt and candidate tokens in the rows) */
  tokensPerForward: number;
  /** padded slots per forward (rows × row length) */
  slotsPerForward: number;
  /** padding's share of the slots */
  paddedShare: number;
  /** the share of the wall time spent inside the model's scoreCandidates (the forward and its inputs) */
  forwardShare: number;
  accuracy: number;
}

export interface TaskEvalBench {
  task: string;
  n: number;
  /** collator.encode per example, cold (the tokenizer on the prompt and candidates), ms */
  encodeMsPerExample: number;
  greedy: LayoutTiming;
  planned: LayoutTiming;
  /** planned examples/s over greedy's, wall time and CPU time */
  speedup: number;
  cpuSpeedup: number;
  /** the largest |score difference| between the layouts over every example and candidate */
  scoresMaxAbsDiff: number;
  samePredictions: boolean;
}

export interface BenchEvalResult {
  model: string;
  split: 'dev' | 'test';
  seed: number;
  batch: number;
  rounds: number;
  backend: string;
  engine: Record<string, unknown>;
  /** 1, 5 and 15 minute load averages at the start and the end (the machine is shared) */
  loadAverage: { start: number[]; end: number[] };
  /** engine ort: ORT's fp32 MatMul [2048, 1024] × [1024, 1024] on the same threads, best of before and after */
  matmulPeak?: { gflopPerSecond: number; ms: number; cpuMs: number };
  tasks: TaskEvalBench[];
}

/** A view of `model` whose scoreCandidates adds its wall time to `spent.ms`. */
function timedScoring(model: Model, spent: { ms: number }): Model {
  const score = async (batch: Parameters<Model['scoreCandidates']>[0]) => {
    const t0 = performance.now();
    try {
      return await model.scoreCandidates(batch);
    } finally {
      spent.ms += performance.now() - t0;
    }
  };
  return new Proxy(model, {
    get(target, key) {
      if (key === 'scoreCandidates') return score;
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

interface Round {
  r: EvalResult;
  cpuSeconds: number;
  forwardMs: number;
}

function layoutTiming(layout: EvalLayout, best: Round): LayoutTiming {
  const { r, cpuSeconds, forwardMs } = best;
  const f = r.forwards;
  return {
    layout,
    seconds: r.seconds,
    cpuSeconds,
    examplesPerSecond: r.n / r.seconds,
    examplesPerCpuSecond: r.n / cpuSeconds,
    forwards: f.count,
    tokensPerForward: f.tokens / f.count,
    slotsPerForward: f.slots / f.count,
    paddedShare: 1 - f.tokens / f.slots,
    forwardShare: forwardMs / 1000 / r.seconds,
    accuracy: r.accuracy,
  };
}

export async function benchEval(opts: BenchEvalOptions, log: (s: string) => void = () => {}): Promise<BenchEvalResult> {
  const tasks = opts.tasks.map((t) => {
    try {
      return resolveTask(t);
    } catch (e) {
      throw new UserError(`--task: ${(e as Error).message}`, 2);
    }
  });
  const dataDir = resolveDataDir();
  const backend = await initBackend(opts.backend ?? 'auto', { quiet: true });
  const engine = await forwardEngine(opts, backend).catch(usageError);
  log(engineNote(engine).trimEnd());
  let resolved;
  try {
    resolved = resolveModel(opts.model, dataDir);
  } catch (e) {
    throw new UserError(`--model: ${(e as Error).message}`, 2);
  }
  const start = loadavg();
  const ortPeak = engine.name === 'ort' ? (await loadOrt()).ortMatMulPeak : undefined;
  let peak: BenchEvalResult['matmulPeak'];
  const measurePeak = async () => {
    if (!ortPeak) return;
    const p = await ortPeak(engine.threads!, 5);
    if (!peak || p.gflopPerSecond > peak.gflopPerSecond) peak = { gflopPerSecond: p.gflopPerSecond, ms: p.ms, cpuMs: p.cpuMs };
  };
  await measurePeak();
  const model = await openModel(resolved.checkpoint, engine, { handOver: true });
  const out: TaskEvalBench[] = [];
  try {
    for (const task of tasks) {
      const examples = task.splits(dataDir, opts.seed)[opts.split].slice(0, opts.n);
      if (examples.length === 0) throw new UserError(`--split ${opts.split}: task ${task.name} has no ${opts.split} examples`, 2);
      const collator = new Collator(task, resolved.tokenizer, model.config.maxSeqLen);
      const t0 = performance.now();
      for (const e of examples) collator.encode(e);
      const encodeMsPerExample = (performance.now() - t0) / examples.length;
      // one untimed evaluation of a few examples per layout: sessions and first-run allocations
      for (const layout of EVAL_LAYOUTS) await evaluate(model, collator, examples.slice(0, 4), { batchSize: opts.batch, layout });
      const rounds: Record<EvalLayout, Round[]> = { greedy: [], planned: [] };
      for (let k = 0; k < opts.rounds; k++) {
        for (let j = 0; j < EVAL_LAYOUTS.length; j++) {
          const layout = EVAL_LAYOUTS[(j + k) % EVAL_LAYOUTS.length]; // the order rotates per round: load changes hit both alike
          const spent = { ms: 0 };
          const c0 = process.cpuUsage();
          const r = await evaluate(timedScoring(model, spent), collator, examples, { batchSize: opts.batch, layout });
          const c = process.cpuUsage(c0);
          rounds[layout].push({ r, cpuSeconds: (c.user + c.system) / 1e6, forwardMs: spent.ms });
          log(`${task.name} ${layout} round ${k + 1}: ${r.examplesPerSecond.toFixed(2)} examples/s, ${r.forwards.count} forwards, ${((1 - r.forwards.tokens / r.forwards.slots) * 100).toFixed(0)} % padding`);
        }
      }
      const fastest = (rs: Round[]) => rs.reduce((a, b) => (b.r.seconds < a.r.seconds ? b : a));
      const greedy = layoutTiming('greedy', fastest(rounds.greedy));
      const planned = layoutTiming('planned', fastest(rounds.planned));
      const g = rounds.greedy[0].r;
      const p = rounds.planned[0].r;
      const scoresMaxAbsDiff = Math.max(...g.scores.flatMap((row, i) => row.map((x, k) => Math.abs(x - p.scores[i][k]))));
      out.push({
        task: task.name,
        n: examples.length,
        encodeMsPerExample,
        greedy,
        planned,
        speedup: planned.examplesPerSecond / greedy.examplesPerSecond,
        cpuSpeedup: planned.examplesPerCpuSecond / greedy.examplesPerCpuSecond,
        scoresMaxAbsDiff,
        samePredictions: g.predictions.every((x, i) => x === p.predictions[i]),
      });
    }
  } finally {
    await model.dispose();
  }
  await measurePeak();
  return {
    model: resolved.name,
    split: opts.split,
    seed: opts.seed,
    batch: opts.batch,
    rounds: opts.rounds,
    backend: backend.name,
    engine: engineReport(engine),
    loadAverage: { start, end: loadavg() },
    ...(peak ? { matmulPeak: peak } : {}),
    tasks: out,
  };
}

export interface BenchEvalFlags {
  model: string;
  task: string;
  split: string;
  n: string;
  batch: string;
  rounds: string;
  seed: string;
  out?: string;
  backend?: string;
  engine?: string;
  threads?: string;
  json?: boolean;
}

/** Parse the command's flags (exported for tests). */
export function parseBenchEvalFlags(flags: BenchEvalFlags): BenchEvalOptions {
  if (flags.split !== 'dev' && flags.split !== 'test') throw new UserError(`--split: expected dev or test, got "${flags.split}"`, 2);
  const tasks = flags.task.split(',').map((t) => t.trim());
  if (tasks.some((t) => t === '')) throw new UserError(`--task: expected a comma-separated list of tasks, got "${flags.task}"`, 2);
  let engine;
  let threads;
  try {
    engine = enginePreference(flags.engine);
    threads = parseThreads(flags.threads);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  return {
    model: flags.model,
    tasks: [...new Set(tasks)],
    split: flags.split,
    n: parseNumber('--n', flags.n, { int: true, min: 1 }),
    batch: parseNumber('--batch', flags.batch, { int: true, min: 1, max: 4096 }),
    rounds: parseNumber('--rounds', flags.rounds, { int: true, min: 1, max: 1000 }),
    seed: parseNumber('--seed', flags.seed, { int: true, min: 0, max: 2 ** 32 - 1 }),
    backend: backendFlag(flags.backend),
    engine,
    threads,
  };
}

function text(r: BenchEvalResult): string {
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  const line = (t: LayoutTiming) =>
    `  ${t.layout.padEnd(7)} ${t.examplesPerSecond.toFixed(2)} examples/s (${t.examplesPerCpuSecond.toFixed(2)} per CPU-second), ${t.forwards} forwards of ${Math.round(t.tokensPerForward)} tokens in ${Math.round(t.slotsPerForward)} slots (${pct(t.paddedShare)} padding), forward ${pct(t.forwardShare)} of the time`;
  return [
    `${r.model} on engine ${r.engine.name}${r.engine.threads ? ` (${r.engine.threads} threads)` : ''}, ${r.split}, batch ${r.batch}, best of ${r.rounds} rounds; load average ${r.loadAverage.start[0].toFixed(1)} → ${r.loadAverage.end[0].toFixed(1)}${r.matmulPeak ? `; ORT MatMul ${r.matmulPeak.gflopPerSecond.toFixed(1)} GFLOP/s` : ''}`,
    ...r.tasks.flatMap((t) => [
      `${t.task} (${t.n} examples; tokenization ${t.encodeMsPerExample.toFixed(2)} ms/example): planned ${t.speedup.toFixed(2)}× greedy (${t.cpuSpeedup.toFixed(2)}× per CPU-second); scores differ by ≤ ${t.scoresMaxAbsDiff.toExponential(1)}, ${t.samePredictions ? 'same' : 'DIFFERENT'} predictions`,
      line(t.greedy),
      line(t.planned),
    ]),
  ].join('\n');
}

/** The run and text of `zotune bench eval` (declared in commands.ts). */
export const benchEvalCommand: BenchCommand<BenchEvalFlags, BenchEvalResult> = {
  run: (flags) => benchEval(parseBenchEvalFlags(flags), (s) => process.stderr.write(`zotune bench eval: ${s}\n`)),
  text,
};
