// `zotune bench distributed`: flags → benchDistributed (@zotune/distributed) → JSON. The run is the
// same config locally and over 1, 2, … `zotune worker` processes this command starts on --queue.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDistributed, checkRedis, type BenchDistributedResult } from '@zotune/distributed';
import { parseNumber, UserError } from '@zotune/report';
import type { BenchCommand } from './flags';

/** The bin the workers run: apps/cli/bin/zotune.js (from the sources and from the bundle alike). */
const BIN = fileURLToPath(new URL('../../cli/bin/zotune.js', import.meta.url));

export interface BenchDistributedFlags {
  queue?: string;
  model: string;
  task: string;
  estimator: string;
  queries: string;
  candidates: string;
  steps: string;
  batch: string;
  shards: string;
  threads: string;
  workers: string;
  rounds: string;
  seed: string;
  work?: string;
  out?: string;
  json?: boolean;
}

const int = (flag: string, v: string, min = 1) => parseNumber(flag, v, { int: true, min, max: 1 << 20 });

async function run(f: BenchDistributedFlags): Promise<BenchDistributedResult> {
  if (f.queue === undefined) throw new UserError('--queue: expected the redis:// URL the workers use', 2);
  const workers = f.workers.split(',').map((w) => int('--workers', w.trim()));
  try {
    await checkRedis(f.queue);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  if (f.estimator !== 'mezo' && f.estimator !== 'guided' && f.estimator !== 'greedy') throw new UserError(`--estimator: expected mezo, guided or greedy, got "${f.estimator}"`, 2);
  const steps = int('--steps', f.steps, 2);
  return benchDistributed({
    url: f.queue,
    bin: BIN,
    config: {
      model: f.model, task: f.task, estimator: f.estimator, queries: int('--queries', f.queries), candidates: int('--candidates', f.candidates),
      steps, batch: int('--batch', f.batch), shards: int('--shards', f.shards), threads: int('--threads', f.threads), seed: int('--seed', f.seed, 0),
      engine: 'ort', evalEvery: steps, evalN: 4, testN: 4,
    },
    workers,
    rounds: int('--rounds', f.rounds),
    work: f.work ?? join(tmpdir(), `zotune-bench-distributed-${process.pid}`),
    log: (s) => process.stderr.write(`zotune ${s}\n`),
  });
}

function text(r: BenchDistributedResult): string {
  const lines = [`bench distributed: ${r.config.model} ${r.config.task} ${r.config.estimator} (${r.evaluationsPerStep} evaluations per step), ${r.config.threads} ORT thread(s) per process, load average ${r.loadAverage.before.map((x) => x.toFixed(1)).join(' ')}`];
  for (const l of r.local) lines.push(`  local       ${l.stepsPerSecond.toFixed(3)} steps/s, ${l.runSeconds.toFixed(1)} s the whole run`);
  for (const x of r.runs)
    lines.push(`  ${x.workers} worker(s) ${x.stepsPerSecond.toFixed(3)} steps/s, ${x.runSeconds.toFixed(1)} s the whole run, ${Math.max(...x.bytesPerStepPerWorker).toFixed(0)} B/step/worker sent, ${(100 * x.outsideForwardShare).toFixed(0)}% of a step outside the busiest worker's forward passes, ${x.identical ? 'identical to local' : 'NOT IDENTICAL to local'}`);
  lines.push(`  speedup over 1 worker: ${Object.entries(r.speedupOver1Worker).map(([n, v]) => `${n}: ${v.toFixed(2)}×`).join(', ')}; 1 worker vs local: ${(100 * r.overheadOfOneWorkerOverLocal).toFixed(0)}% slower`);
  return lines.join('\n');
}

export const benchDistributedCommand: BenchCommand<BenchDistributedFlags, BenchDistributedResult> = { run, text };
