// applyNoiseArrays on several threads: a pool of node:worker_threads, each with its own instance of the
// WebAssembly SIMD noise kernel, that splits a pass's (block, element range) work between them. Weights
// on SharedArrayBuffers are updated in place by the threads; weights on plain ArrayBuffers (which the
// threads cannot reach: ONNX Runtime takes no shared inputs) get the noise sums from the threads through
// a shared buffer and the update on the calling thread. The noise is counter-based and the update is element-wise, so any
// split gives the bits of one thread (tests check it against applyNoiseArrays and applyNoiseMany).
// The threads are unref'd while idle: a pool never keeps the process alive, and close() is optional.
//
// Threads cost memory (each is a V8 isolate: 10+ MiB of RSS; viaSums adds 2 × 8 MiB of shared sums) and
// every split pass pays a hand-off (messages out and back, wake-ups: tens to hundreds of µs). A small
// model gains nothing from them: stories260K's whole pass is ~0.7 ms on one thread, and its fine-tuning
// must peak within 1.25× of inference (tests/finetune-memory.test.ts). So:
// - a pass is split only when its elements to update reach minParallel (default 2^20, a few ms of noise
//   on one thread); smaller passes run on the calling thread with applyNoiseArrays' arithmetic (same bits);
// - the threads (and the compiled kernel they share) start on the first pass that is split, not in
//   create(), and the shared sums on the first split pass over plain ArrayBuffers: a pool that never
//   splits a pass never starts a thread nor allocates those buffers.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { combineWeights } from './noise';
import { applyNoiseRange, checkArrayUpdates, sharedFloat32Array, type ArrayNoiseUpdate } from './noise-arrays';
import { noiseKeys } from './noise-ref';
import { NoiseWasm } from './noise-wasm';
import { NOISE_WORKER_SOURCE } from './noise-worker';

export interface NoisePoolOptions {
  /**
   * Passes with fewer elements to update (all items with terms or keep ≠ 1) run on the calling thread
   * (default DEFAULT_MIN_PARALLEL): the hand-off costs more than it saves. 0 splits every pass (tests).
   */
  minParallel?: number;
}

/** Elements per pass from which a pass is split across the threads: 2^20, a few ms of noise on one thread. */
export const DEFAULT_MIN_PARALLEL = 1 << 20;

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
 * 16 (whole groups of the kernel in either stream). Returns, per part, [item, start, n, ...] of its non-empty ranges.
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
      const to = p === parts - 1 ? n : Math.min(n, Math.max(from, Math.round(((total * (p + 1)) / parts - c0) / cost[i] / 16) * 16));
      if (to > from) out[p].push(i, from, to - from);
      from = to;
    }
    c0 += n * cost[i];
  });
  return out;
}

export class NoisePool {
  /** the threads, started by the first split pass (start()); empty before and on a one-thread pool */
  private readonly workers: Worker[] = [];
  private readonly jobs = new Map<number, Job>();
  /** two shared buffers of SUM_BATCH floats for viaSums, allocated on first use */
  private sums: [Float32Array, Float32Array] | undefined;
  private queue: Promise<void> = Promise.resolve();
  private broken = '';
  private closing = false;
  private nextId = 1;

  private constructor(
    /** threads to start on the first split pass (1: never) */
    private readonly size: number,
    private minParallel: number,
    /** why the pool runs on the calling thread only ('' when it has threads or was asked for 1 thread) */
    readonly note: string,
    /** the kernel's bytes, compiled when the threads start (undefined for a one-thread pool) */
    private readonly bytes?: Uint8Array,
  ) {}

  /**
   * A pool of `threads` threads (default: the cores), started on the first pass that is split (see
   * NoisePoolOptions.minParallel). threads 1, or a runtime without WebAssembly SIMD, gives a pool that
   * works on the calling thread (same bits; see note).
   */
  static create(threads = defaultThreads(), opts: NoisePoolOptions = {}): NoisePool {
    checkThreads(threads);
    const minParallel = checkMinParallel(opts.minParallel ?? DEFAULT_MIN_PARALLEL);
    if (threads === 1) return new NoisePool(1, minParallel, '');
    const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = NoiseWasm.bytes();
    if (!wa || !wa.validate(bytes)) return new NoisePool(1, minParallel, 'no WebAssembly SIMD: one thread');
    return new NoisePool(threads, minParallel, '', bytes);
  }

  /** Threads that share the split passes (1 when it runs on the calling thread), started or not yet. */
  get threads(): number {
    return this.size;
  }

  /** Whether the threads are running (a split pass has run). */
  get started(): boolean {
    return this.workers.length > 0;
  }

  /**
   * Change the threshold of NoisePoolOptions.minParallel for later passes (e.g. 0 on sharedNoisePool(n)
   * so that tests split small passes). Returns the pool.
   */
  setMinParallel(minParallel: number): this {
    this.minParallel = checkMinParallel(minParallel);
    return this;
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
    if (this.size < 2 || elements === 0 || elements < this.minParallel) {
      // applyNoiseArrays' arithmetic on this thread: the bits of any split
      for (const it of work) applyNoiseRange(it, 0, it.data.length);
      return;
    }
    this.start();
    const shared = work.filter((it) => it.data.buffer instanceof SharedArrayBuffer);
    if (shared.length > 0) {
      const msg = shared.map((it) => ({ data: it.data, keys: keysOf(it), keep: it.keep ?? 1, first: 0, sumOnly: false, stream: it.stream ?? 1 }));
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
      const msg = batches[b].map((p, i) => ({ data: pieces[i].data, keys: p.keys, keep: 1, first: p.first, sumOnly: true, stream: p.it.stream ?? 1 }));
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

  /** Start the threads (once, on the first split pass), each with an instance of the compiled kernel. */
  private start(): void {
    if (this.workers.length > 0) return;
    const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly!;
    const module = new wa.Module(this.bytes!);
    for (let i = 0; i < this.size; i++) {
      // execArgv []: the worker is plain JS and needs no loader (and inherited flags such as --input-type break it)
      const w = new Worker(NOISE_WORKER_SOURCE, { eval: true, workerData: { module }, execArgv: [] });
      w.unref();
      w.on('message', (m: { id: number; error?: string }) => this.done(m.id, m.error ? `noise pool: thread ${i}: ${m.error}` : ''));
      w.on('error', (e: Error) => this.fail(`noise pool: thread ${i} failed: ${String(e.message).split('\n')[0]}`));
      w.on('exit', (code) => {
        if (!this.closing) this.fail(`noise pool: thread ${i} exited with code ${code}`);
      });
      this.workers.push(w);
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

function checkMinParallel(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`NoisePool: minParallel must be an integer >= 0, got ${n}`);
  return n;
}

/** The kernel keys and coefficient of each term: [k0, k1, coef, ...]. */
function keysOf(it: ArrayNoiseUpdate): number[] {
  return it.terms.flatMap((t) => [...noiseKeys(t.seed, it.block), t.coef]);
}

const shared = new Map<number, NoisePool>();

/**
 * One pool per thread count for the whole process, default threshold (its threads start on the first
 * split pass and idle unref'd between passes).
 */
export function sharedNoisePool(threads = defaultThreads()): NoisePool {
  let pool = shared.get(checkThreads(threads));
  if (!pool) {
    pool = NoisePool.create(threads);
    shared.set(threads, pool);
  }
  return pool;
}
