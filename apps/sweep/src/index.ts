// @zotune/app-sweep: `zotune sweep SPEC --out DIR` (a local pool of finetune processes, or a BullMQ
// queue with --queue), `sweep report|collect|status`, and `zotune worker`.
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { writeFileAtomic } from '@zotune/io';
import { action, emit, parseNumber, UserError } from '@zotune/report';
import type { Run } from '@zotune/sweep';

/** The sweep lib, loaded by the sweep commands only: BullMQ and ioredis stay out of every other command's start-up. */
const lib = () => import('@zotune/sweep');
/** = the lib's DEFAULT_QUEUE_NAME (repeated here for the help texts, which must not load the lib) */
const DEFAULT_QUEUE_NAME = 'zotune-sweep';

/** The zotune bin: every run is a `zotune finetune` child process of it. */
const BIN = fileURLToPath(new URL('../../cli/bin/zotune.js', import.meta.url));

interface SweepFlags {
  out?: string;
  workers?: string;
  queue?: string;
  queueName?: string;
  json?: boolean;
}

async function asUser<T>(fn: () => T): Promise<T> {
  const { SpecError } = await lib();
  try {
    return fn();
  } catch (e) {
    if (e instanceof SpecError) throw new UserError(e.message, 2);
    throw new UserError((e as Error).message);
  }
}

async function checkQueue(url: string): Promise<void> {
  const { checkRedis, redisOptions } = await lib();
  try {
    redisOptions(url);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  try {
    await checkRedis(url);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

function requireOut(out: string | undefined): string {
  if (out === undefined || out.trim() === '') throw new UserError('--out: expected the sweep directory', 2);
  return resolve(out);
}

/**
 * A subcommand's options: commander parses the parent's options (`sweep --out --queue --json`) first,
 * so the flags given after `sweep report|collect|status` may land on the parent; merge both.
 */
const opts = <T>(cmd: Command): T => cmd.optsWithGlobals() as T;

const rate = (done: number, seconds: number) => (seconds > 0 ? (3600 * done) / seconds : 0);

export function registerSweepCommands(program: Command): void {
  const sweep = program
    .command('sweep')
    .description('run the fine-tunes of a sweep spec (configs/sweeps/README.md) on a local pool of processes, or through a Redis queue')
    .argument('<SPEC>', 'sweep spec (JSON)')
    .option('--out <DIR>', 'results directory (rerunning skips finished runs and resumes killed ones)')
    .option('--workers <N>', 'local pool: fine-tunes at once (default: cores, divided by the spec\'s threads per run)')
    .option('--queue <URL>', 'enqueue on BullMQ instead: redis://[:password@]host:port[/db] or rediss:// (TLS); waits and stores the results')
    .option('--queue-name <Q>', `BullMQ queue name (default ${DEFAULT_QUEUE_NAME})`)
    .option('--json', 'print one JSON object at the end')
    .action(
      action(async (specFile: string, f: SweepFlags) => {
        const { defaultWorkers, expandRuns, loadSpec, runLocal, runRemote, SweepDir, SweepProgress } = await lib();
        const out = requireOut(f.out);
        const spec = await asUser(() => loadSpec(specFile));
        const runs = await asUser(() => expandRuns(spec, process.cwd(), specFile));
        if (f.queue !== undefined && f.workers !== undefined) throw new UserError('--workers: the local pool only; with --queue, start `zotune worker` processes', 2);
        const workers = f.workers === undefined ? defaultWorkers(spec.threads) : parseNumber('--workers', f.workers, { int: true, min: 1, max: 1024 });
        // a queue that cannot be used is reported before anything is written
        if (f.queue !== undefined) await checkQueue(f.queue);
        const dir = new SweepDir(out);
        dir.writeSpec(spec);
        dir.writePlan(runs);
        const progress = new SweepProgress(`sweep ${runs.length} runs`);
        let result;
        if (f.queue !== undefined) {
          const o = await runRemote(runs, dir, { url: f.queue, queueName: f.queueName, progress });
          const ran = o.counts.done - o.counts.skipped;
          result = {
            out, mode: 'queue', runs: runs.length, done: o.counts.done, skipped: o.counts.skipped, failed: o.counts.failed, failures: o.failures,
            seconds: o.seconds, childSeconds: o.childSeconds, runsPerHour: rate(ran, o.seconds),
            workerOverheadPerRunSeconds: ran ? o.workerOverheadSeconds / ran : 0,
          };
        } else {
          const o = await runLocal(runs, dir, { bin: BIN, workers, progress });
          const ran = o.counts.done - o.counts.skipped;
          result = {
            out, mode: 'local', workers, runs: runs.length, done: o.counts.done, skipped: o.counts.skipped, failed: o.counts.failed, failures: o.failures,
            seconds: o.seconds, childSeconds: o.childSeconds, runsPerHour: rate(ran, o.seconds),
            // time the pool's slots spent on anything but fine-tuning, per run (includes the idle tail)
            overheadPerRunSeconds: ran ? Math.max(0, o.seconds * Math.min(workers, ran) - o.childSeconds) / ran : 0,
          };
        }
        for (const x of result.failures) process.stderr.write(`sweep: ${x.key} failed: ${x.reason} (log ${dir.logFile(x.key)})\n`);
        emit(result, !!f.json, `sweep: ${result.done}/${result.runs} runs done in ${out}${result.failed ? `, ${result.failed} failed (rerun to retry)` : ''}; report: zotune sweep report ${out}`);
        if (result.failed) process.exitCode = 1;
      }),
    );

  sweep
    .command('report')
    .description('one HTML page (tables and plots) and a Markdown summary of one or more sweep directories')
    .argument('<DIR...>', 'sweep directories (their results and comparisons are merged)')
    .option('--out <DIR>', 'where report.html and report.md go (default: the first DIR)')
    .option('--title <T>', 'page title')
    .option('--markdown', 'print the Markdown tables on stdout')
    .option('--json', 'print one JSON object: {html, markdown, tables, plots}')
    .action(
      action(async (dirs: string[], _f: unknown, cmd: Command) => {
        const { loadSweeps, sweepReport } = await lib();
        const f = opts<{ out?: string; title?: string; markdown?: boolean; json?: boolean }>(cmd);
        const data = await asUser(() => loadSweeps(dirs));
        const r = sweepReport(data, f.title);
        const out = resolve(f.out ?? dirs[0]);
        const html = join(out, 'report.html');
        const md = join(out, 'report.md');
        writeFileAtomic(html, r.html);
        writeFileAtomic(md, r.markdown);
        const wrote = `wrote ${html} and ${md} (${data.runs.length} runs, ${r.tables.length} tables, ${r.plots.length} plots)`;
        if (f.json) emit({ html, md, runs: data.runs.length, tables: r.tables.map((t) => t.id), plots: r.plots.map((p) => p.id), markdown: r.markdown }, true);
        else if (f.markdown) {
          process.stderr.write(wrote + '\n');
          process.stdout.write(r.markdown);
        } else emit(null, false, wrote);
      }),
    );

  const planOf = async (out: string): Promise<Run[]> => {
    const { SweepDir } = await lib();
    return asUser(() => new SweepDir(out).readPlan());
  };

  sweep
    .command('collect')
    .description('store the runs the queue has finished into the sweep directory (without waiting)')
    .option('--queue <URL>', 'redis:// or rediss:// URL (required)')
    .option('--out <DIR>', 'the sweep directory (its plan.json names the runs)')
    .option('--queue-name <Q>', `BullMQ queue name (default ${DEFAULT_QUEUE_NAME})`)
    .option('--json', 'print one JSON object')
    .action(
      action(async (_f: unknown, cmd: Command) => {
        const f = opts<{ queue?: string; out?: string; queueName?: string; json?: boolean }>(cmd);
        if (f.queue === undefined) throw new UserError('--queue: expected the redis:// URL the sweep was submitted to', 2);
        const out = requireOut(f.out);
        const { collectOnce, SweepDir, withQueue } = await lib();
        const runs = await planOf(out);
        await checkQueue(f.queue);
        const dir = new SweepDir(out);
        const { stored, states } = await withQueue(f.queue, f.queueName, (q) => collectOnce(runs, dir, q));
        const done = states.filter((s) => s.state === 'done').length;
        emit({ out, stored: stored.length, done, runs: runs.length }, !!f.json, `sweep collect: stored ${stored.length} runs; ${done}/${runs.length} done in ${out}`);
      }),
    );

  sweep
    .command('status')
    .description('done / running / waiting / failed (with reasons) of a sweep; with --queue, as the queue sees them')
    .option('--out <DIR>', 'the sweep directory')
    .option('--queue <URL>', 'redis:// or rediss:// URL')
    .option('--queue-name <Q>', `BullMQ queue name (default ${DEFAULT_QUEUE_NAME})`)
    .option('--json', 'print one JSON object')
    .action(
      action(async (_f: unknown, cmd: Command) => {
        const f = opts<{ queue?: string; out?: string; queueName?: string; json?: boolean }>(cmd);
        const out = requireOut(f.out);
        const { SweepDir, withQueue } = await lib();
        const runs = await planOf(out);
        const dir = new SweepDir(out);
        let states: { key: string; state: string; reason?: string; attempts?: number }[];
        if (f.queue !== undefined) {
          await checkQueue(f.queue);
          states = await withQueue(f.queue, f.queueName, async (q) => {
            const s: typeof states = [];
            for (const r of runs) {
              if (dir.isDone(r.key)) s.push({ key: r.key, state: 'done' });
              else {
                const st = await q.getJobState(r.key);
                const job = st === 'failed' ? await q.getJob(r.key) : undefined;
                s.push({ key: r.key, state: st === 'completed' ? 'completed (not collected)' : st === 'unknown' ? 'not submitted' : st, reason: job?.failedReason, attempts: job?.attemptsMade });
              }
            }
            return s;
          });
        } else
          states = runs.map((r) => {
            if (dir.isDone(r.key)) return { key: r.key, state: 'done' };
            const fail = dir.readFailure(r.key);
            return fail ? { key: r.key, state: 'failed', reason: fail.reason } : { key: r.key, state: 'not done' };
          });
        const counts: Record<string, number> = {};
        for (const s of states) counts[s.state] = (counts[s.state] ?? 0) + 1;
        const lines = [
          `sweep ${out}: ${runs.length} runs: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`,
          ...states.filter((s) => s.state !== 'done').map((s) => `  ${s.key}: ${s.state}${s.reason ? `: ${s.reason.split('\n')[0]}` : ''}`),
        ];
        emit({ out, runs: runs.length, counts, states }, !!f.json, lines.join('\n'));
      }),
    );

  program
    .command('worker')
    .description('take sweep runs from a Redis queue and run them (finetune child processes; data from this machine\'s ZOTUNE_DATA), and the evaluations of distributed runs (`zotune finetune --queue`)')
    .requiredOption('--queue <URL>', 'redis://[:password@]host:port[/db] or rediss:// (TLS)')
    .option('--queue-name <Q>', `BullMQ queue name (default ${DEFAULT_QUEUE_NAME})`)
    .option('--concurrency <N>', 'fine-tunes at once (default 1)')
    .option('--work <DIR>', 'where runs are made; a restarted worker resumes its killed runs from here (default $TMPDIR/zotune-worker)')
    .option('--lock-seconds <S>', 'a worker silent this long is stalled and its job goes back to the queue (default 30)')
    .option('--until-empty', 'exit once nothing is waiting or running (after its first job, or 30 s without one)')
    .option('--json', 'print one JSON object at the end')
    .action(
      action(async (f: { queue: string; queueName?: string; concurrency?: string; work?: string; lockSeconds?: string; untilEmpty?: boolean; json?: boolean }) => {
        const concurrency = f.concurrency === undefined ? 1 : parseNumber('--concurrency', f.concurrency, { int: true, min: 1, max: 256 });
        const lockSeconds = f.lockSeconds === undefined ? 30 : parseNumber('--lock-seconds', f.lockSeconds, { min: 1, max: 3600 });
        await checkQueue(f.queue);
        const { runWorker } = await lib();
        // a distributed run's evaluations (its model and engine load only when such a job comes)
        const replica = async (data: unknown, w: { name: string; log: (line: string) => void }) => (await import('@zotune/distributed')).runReplicaJob(data, { url: f.queue, name: w.name, log: w.log });
        const r = await runWorker({ url: f.queue, queueName: f.queueName, bin: BIN, concurrency, work: f.work ?? join(tmpdir(), 'zotune-worker'), lockSeconds, untilEmpty: f.untilEmpty, handlers: { replica } });
        emit(r, !!f.json, `worker: ${r.jobs} jobs done, ${r.failed} failed`);
      }),
    );
}
