// Distributed sweeps on BullMQ + Redis. The submitter enqueues one job per run with the run key as
// its job id (BullMQ ignores an add whose id exists, so submitting twice runs once); `zotune worker`
// processes take jobs, run the real finetune as a child process and return the summary, metrics and
// trajectory; the submitter (or `sweep collect`) stores them. A worker that dies mid-run stops
// renewing its lock; BullMQ's stalled-job check puts the job back and another worker runs it from
// the start — runs are deterministic in their config, so the result is that of an uninterrupted run.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { sha256Hex, writeFileAtomic } from '@zotune/io';
import { launchRun } from './launch';
import { SweepProgress, type SweepCounts } from './local';
import { runConfigSchema, runKey, zodProblem, type Run } from './spec';
import type { RunResult, SweepDir } from './store';

export const DEFAULT_QUEUE_NAME = 'zotune-sweep';
/** The files of a run directory a worker sends back (no weights: `zotune replay` rebuilds them). */
export const RETURNED_FILES = ['config.json', 'metrics.jsonl', 'trajectory', 'summary.json'] as const;

/** The URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@]*@/i, '$1***@');
}

/** ioredis options of a redis:// or rediss:// (TLS) URL; anything else is a one-line error naming --queue. */
export function redisOptions(url: string): { url: string; options: RedisOptions } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue: expected redis://[user:password@]host:port[/db] or rediss://…, got "${redactUrl(url)}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`--queue: expected a redis:// or rediss:// URL, got "${redactUrl(url)}"`);
  // TLS trusts the system CAs plus NODE_EXTRA_CA_CERTS
  return { url, options: u.protocol === 'rediss:' ? { tls: { servername: u.hostname } } : {} };
}

/**
 * Connect once, with no retries, and PING: an unreachable server or a wrong password becomes one
 * line naming the URL (password hidden) before anything is written.
 */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<void> {
  const { options } = redisOptions(url);
  const client = new Redis(url, { ...options, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: timeoutMs });
  let lastError: Error | undefined;
  client.on('error', (e) => (lastError = e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const msg = lastError && lastError !== e && /Connection is closed/.test((e as Error).message) ? lastError.message : (e as Error).message;
    throw new Error(`--queue ${redactUrl(url)}: cannot use Redis (${oneLine(msg)})`);
  } finally {
    client.disconnect();
  }
}

const oneLine = (s: string) => s.split('\n')[0].trim();

/** A connection for BullMQ (which needs maxRetriesPerRequest null on workers' blocking connections). */
export function connect(url: string): Redis {
  const { options } = redisOptions(url);
  const c = new Redis(url, { ...options, maxRetriesPerRequest: null });
  c.on('error', () => undefined); // reported by the commands that fail, not as unhandled events
  return c;
}

/** What a job carries: the run, and the bytes of its policy when the spec named a local file. */
export const jobDataSchema = z.strictObject({
  version: z.literal(1),
  key: z.string(),
  config: runConfigSchema,
  threads: z.number().int().min(1).max(256).optional(),
  policyFile: z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/), base64: z.string() }).optional(),
});
export type JobData = z.infer<typeof jobDataSchema>;

export function jobData(run: Run): JobData {
  const d: JobData = { version: 1, key: run.key, config: run.config };
  if (run.threads !== undefined) d.threads = run.threads;
  if (run.policyFile) {
    const bytes = readFileSync(run.policyFile);
    d.policyFile = { sha256: sha256Hex(bytes), base64: bytes.toString('base64') };
  }
  return d;
}

/** Validate a job as a worker receives it; the reason names the field. */
export function parseJobData(value: unknown): JobData & { run: Run; policyBytes?: Buffer } {
  const r = jobDataSchema.safeParse(value);
  if (!r.success) throw new Error(zodProblem(r.error, 'job'));
  const d = r.data;
  if (runKey(d.config) !== d.key) throw new Error(`job: key: "${d.key}" is not the key of its config (${runKey(d.config)})`);
  let policyBytes: Buffer | undefined;
  if (d.policyFile) {
    policyBytes = Buffer.from(d.policyFile.base64, 'base64');
    if (sha256Hex(policyBytes) !== d.policyFile.sha256 || d.config.policy !== `sha256:${d.policyFile.sha256}`)
      throw new Error('job: policyFile: its bytes do not hash to the config\'s policy digest');
  }
  return { ...d, run: { key: d.key, config: d.config, threads: d.threads }, policyBytes };
}

/** What a worker returns for a finished job. */
export interface JobReturn {
  summary: Record<string, unknown>;
  childSeconds: number;
  /** seconds in the processor, from taking the job to returning it */
  jobSeconds: number;
  worker: string;
  /** base64 of each returned run file */
  files: Record<string, string>;
  log: string;
}

export interface WorkerOptions {
  url: string;
  bin: string;
  queueName?: string;
  /** fine-tunes at once in this worker process */
  concurrency?: number;
  /** where runs are made (one subdirectory per key) */
  work: string;
  /** BullMQ lock: a worker silent for this long is stalled and its job goes back to the queue */
  lockSeconds?: number;
  /** exit once the queue has nothing waiting or running (after this worker's first job, or 30 s) */
  untilEmpty?: boolean;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /**
   * Jobs of other names than a sweep's 'run', by name (a distributed run's 'replica' jobs): the
   * handler's result is the job's return value; a throw fails the attempt (the job's own retry
   * settings decide what follows).
   */
  handlers?: Record<string, (data: unknown, worker: { name: string; log: (line: string) => void }) => Promise<unknown>>;
}

/** Run jobs until stopped (SIGINT/SIGTERM) or, with untilEmpty, until the queue is empty. */
export async function runWorker(o: WorkerOptions): Promise<{ jobs: number; failed: number }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const work = resolve(o.work);
  const name = `${hostname()}:${process.pid}`;
  const lockDuration = (o.lockSeconds ?? 30) * 1000;
  let jobs = 0;
  let failed = 0;
  let active = 0;
  const processor = async (job: Job): Promise<unknown> => {
    active++;
    try {
      const handler = job.name === 'run' ? undefined : o.handlers?.[job.name];
      if (handler) {
        log(`worker ${name}: ${job.name} job ${job.id} (attempt ${job.attemptsMade + 1})`);
        return await handler(job.data, { name, log });
      }
      if (job.name !== 'run') throw new UnrecoverableError(`job ${job.id}: this worker takes no '${job.name}' jobs`);
      return await process1(job);
    } finally {
      active--;
    }
  };
  const process1 = async (job: Job): Promise<JobReturn> => {
    const t0 = performance.now();
    let d;
    try {
      d = parseJobData(job.data);
    } catch (e) {
      // a job that does not validate is refused for good (no retries)
      throw new UnrecoverableError((e as Error).message);
    }
    let policyArg: string | undefined;
    if (d.policyBytes) {
      policyArg = join(work, 'policies', `${d.policyFile!.sha256}.zpol`);
      if (!existsSync(policyArg)) writeFileAtomic(policyArg, d.policyBytes);
    }
    const dir = join(work, 'runs', d.key);
    const logFile = join(work, 'logs', `${d.key}.log`);
    log(`worker ${name}: ${d.key} (attempt ${job.attemptsMade + 1})`);
    const r = await launchRun(d.run, { bin: o.bin, dir, log: logFile, policyArg, env: o.env });
    const files: Record<string, string> = {};
    for (const f of RETURNED_FILES) if (existsSync(join(dir, f))) files[f] = readFileSync(join(dir, f)).toString('base64');
    return { summary: r.summary, childSeconds: r.childSeconds, jobSeconds: (performance.now() - t0) / 1000, worker: name, files, log: readFileSync(logFile, 'utf8') };
  };
  mkdirSync(work, { recursive: true });
  const connection = connect(o.url);
  const worker = new Worker(o.queueName ?? DEFAULT_QUEUE_NAME, processor, {
    connection,
    concurrency: o.concurrency ?? 1,
    lockDuration,
    stalledInterval: Math.max(1000, lockDuration / 2),
    maxStalledCount: 5,
    autorun: false,
  });
  worker.on('completed', (job) => {
    jobs++;
    log(`worker ${name}: ${job.id} done`);
    rmSync(join(work, 'runs', String(job.id)), { recursive: true, force: true });
  });
  worker.on('failed', (job, err) => {
    failed++;
    log(`worker ${name}: ${job?.id ?? '?'} failed: ${oneLine(err.message)}`);
  });
  worker.on('error', (e) => log(`worker ${name}: ${oneLine(e.message)}`));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void worker.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let idleTimer: NodeJS.Timeout | undefined;
  const started = performance.now();
  if (o.untilEmpty) {
    const q = new Queue(o.queueName ?? DEFAULT_QUEUE_NAME, { connection });
    idleTimer = setInterval(async () => {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      // idle: nothing to take and nothing running, once this worker has had work (or waited 30 s for some)
      const hadWork = jobs + failed > 0 || performance.now() - started > 30_000;
      if (hadWork && active === 0 && Object.values(c).every((n) => n === 0)) {
        clearInterval(idleTimer);
        await q.close();
        stop();
      }
    }, 2000);
  }
  log(`worker ${name}: taking jobs from ${redactUrl(o.url)} queue ${o.queueName ?? DEFAULT_QUEUE_NAME} (concurrency ${o.concurrency ?? 1}, work ${work})`);
  await worker.run();
  if (idleTimer) clearInterval(idleTimer);
  await worker.close();
  await connection.quit().catch(() => undefined);
  return { jobs, failed };
}

export interface RemoteOptions {
  url: string;
  queueName?: string;
  progress?: SweepProgress;
  /** seconds between polls of the job states */
  pollSeconds?: number;
}

export interface RemoteOutcome {
  counts: SweepCounts;
  failures: { key: string; reason: string }[];
  childSeconds: number;
  /** Σ (job seconds − child seconds): worker-side coordination per run, summed */
  workerOverheadSeconds: number;
  seconds: number;
}

/** Enqueue the runs not done in DIR (idempotent job ids; a failed job is retried). */
export async function submitRuns(runs: readonly Run[], dir: SweepDir, queue: Queue): Promise<{ added: number; retried: number; existing: number }> {
  let added = 0;
  let retried = 0;
  let existing = 0;
  for (const run of runs) {
    if (dir.isDone(run.key)) continue;
    const state = await queue.getJobState(run.key);
    if (state === 'failed') {
      await (await queue.getJob(run.key))!.retry('failed', { resetAttemptsMade: true });
      retried++;
    } else if (state === 'unknown') {
      // a second add with the same id is ignored by BullMQ, so a race between submitters is harmless too
      await queue.add('run', jobData(run), { jobId: run.key, attempts: 2, removeOnComplete: false, removeOnFail: false });
      added++;
    } else existing++;
  }
  return { added, retried, existing };
}

function storeReturn(dir: SweepDir, key: string, config: Run['config'], rv: JobReturn): RunResult {
  const files: Record<string, Uint8Array> = {};
  for (const [f, b64] of Object.entries(rv.files ?? {})) if ((RETURNED_FILES as readonly string[]).includes(f)) files[f] = Buffer.from(b64, 'base64');
  const result: RunResult = { key, config, summary: rv.summary, childSeconds: rv.childSeconds, worker: rv.worker, finishedAt: new Date().toISOString() };
  dir.storeRemote(result, files, rv.log);
  return result;
}

export interface QueueState {
  key: string;
  state: string;
  reason?: string;
  attempts?: number;
}

/**
 * One pass: store every completed run not yet in DIR; the states of the others; and the seconds the
 * workers spent on the stored runs' jobs beyond their finetune processes (coordination overhead).
 */
export async function collectOnce(runs: readonly Run[], dir: SweepDir, queue: Queue): Promise<{ stored: RunResult[]; states: QueueState[]; overheadSeconds: number }> {
  const stored: RunResult[] = [];
  const states: QueueState[] = [];
  let overheadSeconds = 0;
  for (const run of runs) {
    if (dir.isDone(run.key)) {
      states.push({ key: run.key, state: 'done' });
      continue;
    }
    const state = await queue.getJobState(run.key);
    if (state === 'completed') {
      const job = await queue.getJob(run.key);
      if (job?.returnvalue) {
        const rv = job.returnvalue as JobReturn;
        stored.push(storeReturn(dir, run.key, run.config, rv));
        overheadSeconds += Math.max(0, rv.jobSeconds - rv.childSeconds);
        states.push({ key: run.key, state: 'done' });
        continue;
      }
      // completed without a result (removed or trimmed by another client): resubmitting does not rerun it
      const reason = 'the queue has the job completed but without its result; remove the job (or use another --queue-name) to rerun it';
      dir.writeFailure({ key: run.key, reason, at: new Date().toISOString() });
      states.push({ key: run.key, state: 'failed', reason });
      continue;
    }
    if (state === 'failed') {
      const job = await queue.getJob(run.key);
      const reason = oneLine(job?.failedReason ?? 'unknown reason');
      dir.writeFailure({ key: run.key, reason, at: new Date().toISOString() });
      states.push({ key: run.key, state, reason, attempts: job?.attemptsMade });
      continue;
    }
    states.push({ key: run.key, state: state === 'unknown' ? 'not submitted' : state });
  }
  return { stored, states, overheadSeconds };
}

/** Submit the runs and wait until each is stored in DIR or has failed for good. */
export async function runRemote(runs: readonly Run[], dir: SweepDir, o: RemoteOptions): Promise<RemoteOutcome> {
  const progress = o.progress ?? new SweepProgress('sweep');
  const skipped = runs.filter((r) => dir.isDone(r.key)).length;
  let childSeconds = 0;
  let workerOverheadSeconds = 0;
  return withQueue(o.url, o.queueName, async (queue) => {
    await submitRuns(runs, dir, queue);
    for (;;) {
      const { stored, states, overheadSeconds } = await collectOnce(runs, dir, queue);
      childSeconds += stored.reduce((a, s) => a + s.childSeconds, 0);
      workerOverheadSeconds += overheadSeconds;
      const count = (st: string) => states.filter((s) => s.state === st).length;
      const counts: SweepCounts = {
        total: runs.length, skipped, done: count('done'), running: count('active'), failed: count('failed'),
        waiting: count('waiting') + count('delayed') + count('prioritized'),
      };
      if (counts.done + counts.failed === counts.total) {
        progress.end(counts);
        const failures = states.filter((s) => s.state === 'failed').map((s) => ({ key: s.key, reason: s.reason ?? '' }));
        return { counts, failures, childSeconds, workerOverheadSeconds, seconds: progress.elapsed() };
      }
      progress.update(counts);
      await new Promise((r) => setTimeout(r, (o.pollSeconds ?? 1) * 1000));
    }
  });
}

/** Open the queue at URL, run fn with it, and close it and its connection whatever happens. */
export async function withQueue<T>(url: string, queueName: string | undefined, fn: (q: Queue) => Promise<T>): Promise<T> {
  const connection = connect(url);
  const queue = new Queue(queueName ?? DEFAULT_QUEUE_NAME, { connection });
  try {
    return await fn(queue);
  } finally {
    await queue.close();
    await connection.quit().catch(() => undefined);
  }
}

