// The embedded pool: N fine-tune child processes at once on this machine, no services needed.
import { availableParallelism, hostname } from 'node:os';
import { formatDuration } from '@zotune/report';
import { launchRun } from './launch';
import type { Run } from './spec';
import type { SweepDir } from './store';

/** Workers by default: one per core, fewer when each run uses several threads. */
export function defaultWorkers(threads = 1): number {
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, threads)));
}

export interface SweepCounts {
  total: number;
  /** done before this invocation */
  skipped: number;
  done: number;
  running: number;
  failed: number;
  /** waiting in a queue (remote mode) */
  waiting?: number;
}

/**
 * The live line on stderr: done / running / failed / ETA. On a terminal it redraws in place;
 * in a pipe or log it prints when the counts change.
 */
export class SweepProgress {
  private readonly t0 = performance.now();
  private last = '';
  private readonly tty: boolean;
  constructor(
    private readonly label: string,
    private readonly stream: { write(s: string): unknown; isTTY?: boolean } = process.stderr,
  ) {
    this.tty = !!stream.isTTY;
  }
  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }
  line(c: SweepCounts): string {
    const finishedHere = c.done - c.skipped;
    const left = c.total - c.done - c.failed;
    const s = this.elapsed();
    const eta = finishedHere > 0 ? formatDuration((s / finishedHere) * left) : '?';
    return `${this.label}: ${c.done}/${c.total} done${c.skipped ? ` (${c.skipped} before)` : ''}, ${c.running} running${c.waiting !== undefined ? `, ${c.waiting} waiting` : ''}, ${c.failed} failed, ${formatDuration(s)} elapsed, ETA ${left === 0 ? '0s' : eta}`;
  }
  update(c: SweepCounts, force = false): void {
    const l = this.line(c);
    const key = l.replace(/, [^,]* elapsed.*$/, '');
    if (!force && key === this.last) return;
    this.last = key;
    this.stream.write(this.tty ? `\r\x1b[2K${l}` : `${l}\n`);
  }
  end(c: SweepCounts): void {
    const l = this.line(c);
    this.stream.write(this.tty ? `\r\x1b[2K${l}\n` : `${l}\n`);
  }
}

export interface PoolOptions {
  bin: string;
  workers: number;
  env?: NodeJS.ProcessEnv;
  /** each failure as it happens */
  onFailure?: (run: Run, reason: string) => void;
  progress?: SweepProgress;
}

export interface PoolOutcome {
  counts: SweepCounts;
  failures: { key: string; reason: string }[];
  /** Σ wall seconds of the finetune children of this invocation */
  childSeconds: number;
  seconds: number;
}

/** Run every run of `runs` not yet done in `dir`, `workers` at a time. */
export async function runLocal(runs: readonly Run[], dir: SweepDir, o: PoolOptions): Promise<PoolOutcome> {
  const todo = runs.filter((r) => !dir.isDone(r.key));
  const counts: SweepCounts = { total: runs.length, skipped: runs.length - todo.length, done: runs.length - todo.length, running: 0, failed: 0 };
  const failures: { key: string; reason: string }[] = [];
  const progress = o.progress ?? new SweepProgress('sweep');
  const worker = `local:${hostname()}`;
  let childSeconds = 0;
  let next = 0;
  progress.update(counts, true);
  const timer = setInterval(() => progress.update(counts, true), 10_000).unref();
  const slot = async () => {
    while (next < todo.length) {
      const run = todo[next++];
      counts.running++;
      progress.update(counts);
      try {
        const r = await launchRun(run, { bin: o.bin, dir: dir.runDir(run.key), log: dir.logFile(run.key), env: o.env });
        childSeconds += r.childSeconds;
        dir.writeResult({ key: run.key, config: run.config, summary: r.summary, childSeconds: r.childSeconds, worker, finishedAt: new Date().toISOString() });
        counts.done++;
      } catch (e) {
        const reason = (e as Error).message;
        dir.writeFailure({ key: run.key, reason, at: new Date().toISOString(), worker });
        failures.push({ key: run.key, reason });
        counts.failed++;
        o.onFailure?.(run, reason);
      }
      counts.running--;
      progress.update(counts);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.workers, todo.length) }, slot));
  } finally {
    clearInterval(timer);
  }
  progress.end(counts);
  return { counts, failures, childSeconds, seconds: progress.elapsed() };
}
