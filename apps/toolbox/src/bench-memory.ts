// `zotune bench memory`: peak resident memory of `zotune eval` against short `zotune finetune` runs
// with MeZO, guided (M = 4) and Adam on the same model, task and batch size, each in its own child
// process of the real bin. Issue 4's target: the ZO runs' peaks at most 1.25× the eval peak (ZO
// fine-tuning costs the memory of inference); Adam's peak is reported beside them.
//
// Each child's peak is the kernel's high-water mark (getrusage maxRSS) read in the child's own
// 'exit' handler, injected with --import, so nothing is missed between polls. The tfjs wasm heap only
// grows, so eval and the runs use the same batch size and evaluate the same test examples.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { REPO_ROOT } from '@zotune/data';
import { writeJsonAtomic } from '@zotune/io';
import { action, emit, parseNumber, UserError } from '@zotune/report';

/** The ZO peak over the eval peak that issue 4 accepts. */
export const MEMORY_TARGET_RATIO = 1.25;

const BIN = join(REPO_ROOT, 'apps', 'cli', 'bin', 'zotune.js');
/** Runs in the child before the CLI: write the process's peak RSS (KiB) to $ZOTUNE_BENCH_RSS_FILE at exit. */
const RSS_HOOK =
  'data:text/javascript,' +
  encodeURIComponent(
    'import { writeFileSync } from "node:fs";' +
      'const f = process.env.ZOTUNE_BENCH_RSS_FILE;' +
      'if (f) process.on("exit", () => writeFileSync(f, String(process.resourceUsage().maxRSS)));',
  );

export interface MemoryFigure {
  /** peak resident set size of the child process, MiB */
  peakRssMiB: number;
  /** wall time of the child process, seconds */
  seconds: number;
  /** the command line after the bin */
  args: string[];
  /** finetune runs: seconds per training step from the run's summary */
  secondsPerStep?: number;
}

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
  mezo: MemoryFigure;
  guided: MemoryFigure;
  adam: MemoryFigure;
  /** peak / eval peak */
  ratios: { mezo: number; guided: number; adam: number };
  /** the same over the baseline: (peak − baseline) / (eval peak − baseline) */
  ratiosAboveBaseline: { mezo: number; guided: number; adam: number };
  target: { ratio: number; mezo: boolean; guided: boolean };
  backend: string;
}

interface BenchMemoryOptions {
  model: string;
  task: string;
  batch: number;
  steps: number;
  evalN: number;
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
    const kib = Number(readFileSync(rssFile, 'utf8'));
    if (!Number.isFinite(kib) || kib <= 0) throw new Error(`bench memory: \`zotune ${full.join(' ')}\` reported no peak RSS`);
    return { figure: { peakRssMiB: kib / 1024, seconds, args: full }, stdout };
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
    const mezo = await run('mezo');
    const guided = await run('guided', ['--candidates', '4']);
    const adam = await run('adam');
    const ratio = (f: MemoryFigure) => f.peakRssMiB / ev.figure.peakRssMiB;
    const above = (f: MemoryFigure) => (f.peakRssMiB - baseline.peakRssMiB) / (ev.figure.peakRssMiB - baseline.peakRssMiB);
    return {
      model: o.model,
      task: o.task,
      batch: o.batch,
      steps: o.steps,
      evalN: o.evalN,
      baseline,
      eval: ev.figure,
      mezo,
      guided,
      adam,
      ratios: { mezo: ratio(mezo), guided: ratio(guided), adam: ratio(adam) },
      ratiosAboveBaseline: { mezo: above(mezo), guided: above(guided), adam: above(adam) },
      target: { ratio: MEMORY_TARGET_RATIO, mezo: ratio(mezo) <= MEMORY_TARGET_RATIO, guided: ratio(guided) <= MEMORY_TARGET_RATIO },
      backend,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function text(r: BenchMemoryResult): string {
  const row = (name: string, f: MemoryFigure, ratio?: number) =>
    `  ${name.padEnd(8)} ${f.peakRssMiB.toFixed(0).padStart(6)} MiB${ratio !== undefined ? `  ${ratio.toFixed(2)}× eval` : ''}${f.secondsPerStep !== undefined ? `  ${f.secondsPerStep.toFixed(3)} s/step` : ''}`;
  return [
    `peak RSS, ${r.model} on ${r.task}, batch ${r.batch}, ${r.steps} steps, ${r.evalN} eval examples (${r.backend}):`,
    row('baseline', r.baseline),
    row('eval', r.eval),
    row('mezo', r.mezo, r.ratios.mezo),
    row('guided', r.guided, r.ratios.guided),
    row('adam', r.adam, r.ratios.adam),
    `  target ≤ ${r.target.ratio}× eval: mezo ${r.target.mezo ? 'met' : 'MISSED'}, guided ${r.target.guided ? 'met' : 'MISSED'}`,
  ].join('\n');
}

/** Add `memory` to an existing `zotune bench` command. */
export function registerBenchMemory(bench: Command): void {
  bench
    .command('memory')
    .description('peak RSS of `zotune eval` against short finetune runs (mezo, guided M=4, adam) on the same model and batch, each a child process')
    .option('--model <M>', 'model', 'stories260K')
    .option('--task <T>', 'task', 'sst2')
    .option('--batch <B>', 'batch size of the eval and of every run', '16')
    .option('--steps <N>', 'steps of each finetune run', '30')
    .option('--eval-n <N>', 'test (and dev) examples every child evaluates', '200')
    .option('--backend <name>', 'tfjs backend of the children: auto, tensorflow, wasm or cpu')
    .option('--out <FILE>', 'also write the result as JSON to FILE (atomically)')
    .option('--json', 'print one JSON object on stdout at the end')
    .action(
      action(async (flags: { model: string; task: string; batch: string; steps: string; evalN: string; backend?: string; out?: string; json?: boolean }) => {
        const batch = parseNumber('--batch', flags.batch, { int: true, min: 1, max: 4096 });
        const steps = parseNumber('--steps', flags.steps, { int: true, min: 1 });
        const evalN = parseNumber('--eval-n', flags.evalN, { int: true, min: 1 });
        if (flags.backend !== undefined && !['auto', 'tensorflow', 'wasm', 'cpu'].includes(flags.backend))
          throw new UserError(`--backend: unknown backend "${flags.backend}"; expected one of auto, tensorflow, wasm, cpu`, 2);
        const result = await benchMemory({
          model: flags.model, task: flags.task, batch, steps, evalN, backend: flags.backend,
          log: (line) => process.stderr.write(`zotune bench memory: ${line}\n`),
        });
        if (flags.out) writeJsonAtomic(flags.out, result);
        emit(result, !!flags.json, text(result));
      }),
    );
}
