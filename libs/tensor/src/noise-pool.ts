// applyNoiseArrays on several threads: a pool of node:worker_threads, each with its own instance of the
// WebAssembly SIMD noise kernel, that splits a pass's (block, element range) work between them. Weights
// on SharedArrayBuffers are updated in place by the threads; weights on plain ArrayBuffers (which the
// threads cannot reach: ONNX Runtime takes no shared inputs) get the noise sums from the threads through
// a shared buffer and the update on the calling thread. The noise is counter-based and the update is element-wise, so any
// split gives the bits of one thread (tests check it against applyNoiseArrays and applyNoiseMany).
// The threads are unref'd while idle: a pool never keeps the process alive, and close() is optional.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { combineWeights } from './noise';
import { applyNoiseRange, checkArrayUpdates, sharedFloat32Array, type ArrayNoiseUpdate } from './noise-arrays';
import { noiseKeys } from './noise-ref';
import { NoiseWasm } from './noise-wasm';
import { NOISE_WORKER_SOURCE } from './noise-worker';

export interface NoisePoolOptions {
  /** passes with fewer elements to update run on the calling thread (default 2^15): the hand-off costs more */
  minParallel?: number;
}

/** Elements per batch of noise sums for weights on plain ArrayBuffers (two buffers: 2 × 8 MiB). */
const SUM_BATCH = 1 << 21;
/** Elements per combineWeights call on this thread: stays in L2. */
const CHUNK = 1 << 16;

/** The WebAssembly JS API members used here (the project's TypeScript libs do not declare them). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
}

interface Job {
  id: number;
  left: number;
  error: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** The default thread count: the cores this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/** Check a thread count (a flag or config value): an integer in [1, 256]. */
export function checkThreads(threads: number, where = 'threads'): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new Error(`${where} must be an integer in [1, 256], got ${threads}`);
  return threads;
}

/**
 * Cut each item into `parts` element ranges of about equal cost (elements × (terms + 1)) at multiples of
 * 8 (whole groups of the kernel). Returns, per part, [item, start, n, ...] of its non-empty ranges.
 */
export function splitWork(items: readonly Pick<ArrayNoiseUpdate, 'data' | 'terms'>[], parts: number): number[][] {
  const cost = items.map((it) => it.terms.length + 1);
  const total = items.reduce((s, it, i) => s + it.data.length * cost[i], 0);
  const out: number[][] = Array.from({ length: parts }, () => []);
  let c0 = 0; // cost before item i
  items.forEach((it, i) => {
    const n = it.data.length;
    let from = 0;
    for (let p = 0; p < parts; p++) {
      const to = p === parts - 1 ? n : Math.min(n, Math.max(from, Math.round(((total * (p + 1)) / parts - c0) / cost[i] / 8) * 8));
      if (to > from) out[p].push(i, from, to - from);
      from = to;
    }
    c0 += n * cost[i];
  });
  return out;
}

export class NoisePool {
  private readonly jobs = new Map<number, Job>();
  /** two shared buffers of SUM_BATCH floats for viaSums, allocated on first use */
  private sums: [Float32Array, Float32Array] | undefined;
  private queue: Promise<void> = Promise.resolve();
  private broken = '';
  private closing = false;
  private nextId = 1;

  private constructor(
    private readonly workers: Worker[],
    private readonly minParallel: number,
    /** why the pool runs on the calling thread only ('' when it has workers or was asked for 1 thread) */
    readonly note: string,
  ) {
    workers.forEach((w, i) => {
      w.unref();
      w.on('message', (m: { id: number; error?: string }) => this.done(m.id, m.error ? `noise pool: thread ${i}: ${m.error}` : ''));
      w.on('error', (e: Error) => this.fail(`noise pool: thread ${i} failed: ${String(e.message).split('\n')[0]}`));
      w.on('exit', (code) => {
        if (!this.closing) this.fail(`noise pool: thread ${i} exited with code ${code}`);
      });
    });
  }

  /**
   * A pool of `threads` threads (default: the cores). threads 1, or a runtime without WebAssembly
   * SIMD, gives a pool that works on the calling thread (same bits; see note).
   */
  static create(threads = defaultThreads(), opts: NoisePoolOptions = {}): NoisePool {
    checkThreads(threads);
    const minParallel = opts.minParallel ?? 1 << 15;
    if (threads === 1) return new NoisePool([], minParallel, '');
    const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = NoiseWasm.bytes();
    if (!wa || !wa.validate(bytes)) return new NoisePool([], minParallel, 'no WebAssembly SIMD: one thread');
    const module = new wa.Module(bytes);
    // execArgv []: the worker is plain JS and needs no loader (and inherited flags such as --input-type break it)
    const workers = Array.from({ length: threads }, () => new Worker(NOISE_WORKER_SOURCE, { eval: true, workerData: { module }, execArgv: [] }));
    return new NoisePool(workers, minParallel, '');
  }

  /** Threads that share the work (1 when it runs on the calling thread). */
  get threads(): number {
    return Math.max(1, this.workers.length);
  }

  /**
   * applyNoiseArrays(items) split across the threads; resolves when every weight is updated. Items are
   * checked before any weight changes. Calls run one after another in call order.
   */
  apply(items: readonly ArrayNoiseUpdate[]): Promise<void> {
    const run = this.queue.then(() => this.run(items));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stop the threads (pending and later apply calls fail). */
  async close(): Promise<void> {
    this.closing = true;
    this.fail('noise pool: closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private async run(items: readonly ArrayNoiseUpdate[]): Promise<void> {
    checkArrayUpdates(items, 'NoisePool.apply');
    if (this.broken) throw new Error(this.broken);
    const work = items.filter((it) => it.terms.length > 0 || (it.keep ?? 1) !== 1);
    const elements = work.reduce((s, it) => s + it.data.length, 0);
    if (this.workers.length < 2 || elements < this.minParallel) {
      for (const it of work) applyNoiseRange(it, 0, it.data.length);
      return;
    }
    const shared = work.filter((it) => it.data.buffer instanceof SharedArrayBuffer);
    if (shared.length > 0) {
      const msg = shared.map((it) => ({ data: it.data, keys: keysOf(it), keep: it.keep ?? 1, first: 0, sumOnly: false }));
      await this.post(msg, splitWork(shared, this.workers.length));
    }
    const plain = work.filter((it) => !(it.data.buffer instanceof SharedArrayBuffer));
    for (const it of plain) if (it.terms.length === 0) applyNoiseRange(it, 0, it.data.length); // keep only: no noise
    await this.viaSums(plain.filter((it) => it.terms.length > 0));
  }

  /**
   * Items whose weights the threads cannot reach (plain ArrayBuffers, e.g. ONNX Runtime's inputs): the
   * threads write the noise sums S of a batch of at most SUM_BATCH elements into a shared buffer, and
   * this thread applies data ← f32(f32(keep·data) + S) (combineWeights) while they fill the other buffer.
   */
  private async viaSums(items: readonly ArrayNoiseUpdate[]): Promise<void> {
    if (items.length === 0) return;
    this.sums ??= [sharedFloat32Array(SUM_BATCH), sharedFloat32Array(SUM_BATCH)];
    const batches: { it: ArrayNoiseUpdate; keys: number[]; first: number; n: number; at: number }[][] = [[]];
    let used = 0;
    for (const it of items) {
      const keys = keysOf(it);
      for (let first = 0; first < it.data.length; ) {
        if (used === SUM_BATCH) {
          batches.push([]);
          used = 0;
        }
        const n = Math.min(it.data.length - first, SUM_BATCH - used);
        batches[batches.length - 1].push({ it, keys, first, n, at: used });
        used += n;
        first += n;
      }
    }
    const start = (b: number) => {
      const out = this.sums![b % 2];
      const pieces = batches[b].map((p) => ({ data: out.subarray(p.at, p.at + p.n), terms: p.it.terms }));
      const msg = batches[b].map((p, i) => ({ data: pieces[i].data, keys: p.keys, keep: 1, first: p.first, sumOnly: true }));
      return this.post(msg, splitWork(pieces, this.workers.length));
    };
    let next = start(0);
    for (let b = 0; b < batches.length; b++) {
      await next;
      if (b + 1 < batches.length) next = start(b + 1);
      const out = this.sums[b % 2];
      for (const p of batches[b]) {
        for (let a = 0; a < p.n; a += CHUNK) {
          const c = Math.min(CHUNK, p.n - a);
          const w = p.it.data.subarray(p.first + a, p.first + a + c);
          w.set(combineWeights(w, out.subarray(p.at + a, p.at + a + c), p.it.keep ?? 1));
        }
      }
    }
  }

  /** Send each thread its ranges of the message items; resolves when every busy thread is done. */
  private post(items: object[], parts: number[][]): Promise<void> {
    const id = this.nextId++;
    const busy = this.workers.filter((_, p) => parts[p].length > 0);
    return new Promise<void>((resolve, reject) => {
      this.jobs.set(id, { id, left: busy.length, error: '', resolve, reject });
      for (const w of busy) w.ref(); // an awaited pass keeps the process alive
      this.workers.forEach((w, p) => {
        if (parts[p].length > 0) w.postMessage({ id, items, ranges: parts[p] });
      });
    }).finally(() => {
      this.jobs.delete(id);
      if (this.jobs.size === 0) for (const w of this.workers) w.unref();
    });
  }

  private done(id: number, error: string): void {
    const job = this.jobs.get(id);
    if (!job) return;
    if (error && !job.error) job.error = error;
    if (--job.left > 0) return;
    if (job.error) job.reject(new Error(job.error));
    else job.resolve();
  }

  private fail(message: string): void {
    if (!this.broken) this.broken = message;
    for (const job of this.jobs.values()) job.reject(new Error(this.broken));
  }
}

/** The kernel keys and coefficient of each term: [k0, k1, coef, ...]. */
function keysOf(it: ArrayNoiseUpdate): number[] {
  return it.terms.flatMap((t) => [...noiseKeys(t.seed, it.block), t.coef]);
}

const shared = new Map<number, NoisePool>();

/** One pool per thread count for the whole process (its threads idle unref'd between passes). */
export function sharedNoisePool(threads = defaultThreads()): NoisePool {
  let pool = shared.get(checkThreads(threads));
  if (!pool) {
    pool = NoisePool.create(threads);
    shared.set(threads, pool);
  }
  return pool;
}
