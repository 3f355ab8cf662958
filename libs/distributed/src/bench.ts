// `zotune bench distributed`: the same run (one config, a fixed ORT thread count) locally and
// distributed over 1, 2, … `zotune worker` processes started here, in the same session, one after
// another (rounds interleave them when the machine is shared). Measured: steps/s of each (median step
// time, the first step — the workers' start — left out), the ratio to 1 worker, the request bytes each
// worker sent per step (RESP, as on the wire), the share of a step outside the busiest worker's
// forward passes, and whether every distributed trajectory equals the local one byte for byte.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { finetune, type FinetuneInput } from '@zotune/finetune';
import { coordinatorLosses } from './coordinator';
import { RunLink } from './link';
import type { ReplicaJobResult } from './worker';

export interface BenchDistributedOptions {
  url: string;
  /** the zotune bin the workers run (apps/cli/bin/zotune.js) */
  bin: string;
  /** the run (threads required: the same on every side) */
  config: FinetuneInput;
  /** worker counts, each one run per round (default [1, 2]) */
  workers?: number[];
  /** rounds of (local, then each worker count) (default 1) */
  rounds?: number;
  /** where runs and worker directories go */
  work: string;
  log?: (line: string) => void;
}

export interface DistributedRunFigures {
  workers: number;
  round: number;
  /** 1 / median step seconds (steps after the first) */
  stepsPerSecond: number;
  medianStepSeconds: number;
  /** wall seconds of the whole run: model loads, evaluations, and the coordinator's replays to the evaluation points */
  runSeconds: number;
  /** request bytes each worker sent to Redis per step (its total / steps walked) */
  bytesPerStepPerWorker: number[];
  /** forward passes each worker computed */
  forwardPasses: number[];
  /** 1 − (busiest worker's forward seconds per step) / (mean step seconds): weight moves, waiting, Redis */
  outsideForwardShare: number;
  /** the trajectory's records are the local run's, byte for byte */
  identical: boolean;
}

export interface BenchDistributedResult {
  config: FinetuneInput;
  evaluationsPerStep: number;
  local: { round: number; stepsPerSecond: number; medianStepSeconds: number; runSeconds: number }[];
  runs: DistributedRunFigures[];
  /** median steps/s of each worker count over the rounds, divided by that of 1 worker */
  speedupOver1Worker: Record<string, number>;
  /** median step seconds with 1 worker / local, minus 1: what the coordination adds to an undivided step */
  overheadOfOneWorkerOverLocal: number;
  maxBytesPerStepPerWorker: number;
  loadAverage: { before: number[]; after: number[] };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Step seconds of a run directory's metrics, the first step left out (the workers start during it). */
function stepSeconds(dir: string): number[] {
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return lines.filter((r) => r.event === 'step' && r.step > 1).map((r) => r.stepSeconds as number);
}

/** The records of a trajectory (the header, with its createdAt, left out). */
function records(dir: string): Buffer {
  const b = readFileSync(join(dir, 'trajectory'));
  return b.subarray(8 + b.readUInt32LE(0));
}

export async function benchDistributed(o: BenchDistributedOptions): Promise<BenchDistributedResult> {
  const log = o.log ?? (() => {});
  const counts = o.workers ?? [1, 2];
  const config = { ...o.config };
  if (config.threads === undefined) throw new Error('bench distributed: --threads: expected a fixed thread count per evaluation (e.g. 1)');
  mkdirSync(o.work, { recursive: true });
  const before = loadavg();
  const local: BenchDistributedResult['local'] = [];
  const runs: DistributedRunFigures[] = [];
  let evaluationsPerStep = 0;
  for (let round = 0; round < (o.rounds ?? 1); round++) {
    const ref = join(o.work, `local-${round}`);
    log(`bench distributed: round ${round + 1}: local run`);
    const t0 = performance.now();
    const s = await finetune(config, { dir: ref });
    const runSeconds = (performance.now() - t0) / 1000;
    evaluationsPerStep = s.forwardPasses / s.steps;
    const m = median(stepSeconds(ref));
    local.push({ round, stepsPerSecond: 1 / m, medianStepSeconds: m, runSeconds });
    for (const n of counts) {
      const queueName = `zotune-bench-${process.pid}-${round}-${n}`;
      const workers: ChildProcess[] = [];
      const exited: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const w = spawn(process.execPath, [o.bin, 'worker', '--queue', o.url, '--queue-name', queueName, '--work', join(o.work, `${queueName}-w${i}`)], { stdio: ['ignore', 'ignore', 'inherit'] });
        workers.push(w);
        exited.push(new Promise((r) => w.on('close', () => r())));
      }
      const dir = join(o.work, `workers${n}-${round}`);
      const losses = coordinatorLosses({ url: o.url, queueName });
      log(`bench distributed: round ${round + 1}: ${n} worker(s)`);
      const t0 = performance.now();
      let runSeconds: number;
      try {
        await finetune(config, { dir, losses });
        runSeconds = (performance.now() - t0) / 1000;
      } finally {
        for (const w of workers) w.kill('SIGTERM');
        await Promise.all(exited);
      }
      const link = new RunLink(o.url, losses.runId!);
      const flat = (await link.call('HGETALL', link.key('stats'))) as string[];
      await link.close();
      const stats: ReplicaJobResult[] = [];
      for (let i = 1; i < flat.length; i += 2) stats.push(JSON.parse(flat[i]));
      const secs = stepSeconds(dir);
      const steps = secs.length + 1;
      const meanStep = secs.reduce((a, b) => a + b, 0) / secs.length;
      const busiest = Math.max(...stats.map((w) => w.forwardSeconds / steps));
      runs.push({
        workers: n,
        round,
        stepsPerSecond: 1 / median(secs),
        medianStepSeconds: median(secs),
        runSeconds,
        bytesPerStepPerWorker: stats.map((w) => w.sentBytes / w.steps),
        forwardPasses: stats.map((w) => w.forwardPasses),
        outsideForwardShare: 1 - busiest / meanStep,
        identical: records(dir).equals(records(ref)),
      });
    }
  }
  const medianRate = (n: number) => median(runs.filter((r) => r.workers === n).map((r) => r.stepsPerSecond));
  const speedupOver1Worker: Record<string, number> = {};
  if (counts.includes(1)) for (const n of counts) speedupOver1Worker[String(n)] = medianRate(n) / medianRate(1);
  const one = runs.filter((r) => r.workers === 1).map((r) => r.medianStepSeconds);
  return {
    config,
    evaluationsPerStep,
    local,
    runs,
    speedupOver1Worker,
    overheadOfOneWorkerOverLocal: one.length ? median(one) / median(local.map((l) => l.medianStepSeconds)) - 1 : NaN,
    maxBytesPerStepPerWorker: Math.max(...runs.flatMap((r) => r.bytesPerStepPerWorker)),
    loadAverage: { before, after: loadavg() },
  };
}
