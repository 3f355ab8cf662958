// Loader and driver of the WebAssembly SIMD noise kernel (assembly/noise.ts, embedded as base64).
// The kernel writes whole groups of four counters (stream 1: four pairs, eight samples; stream 2: four
// quads, sixteen samples) into its own memory; this side handles arbitrary starts and lengths by
// chunking, copying in (accumulate) and out.
import { noiseKeys, type NoiseStream } from './noise-ref';
import { NOISE_WASM_BASE64 } from './noise-wasm.generated';

// The few WebAssembly JS API members used here (the project's TypeScript libs do not declare them).
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface KernelExports {
  memory: WasmMemory;
  /** stream 1: samples of pairs pair0 .. pair0 + 4·groups − 1 at ptr: stored (acc 0) or added times coef (acc 1) */
  run(k0: number, k1: number, pair0: number, groups: number, ptr: number, coef: number, acc: number): void;
  /** stream 2: the same for quads quad0 .. quad0 + 4·groups − 1 (16·groups samples) */
  runQuad(k0: number, k1: number, quad0: number, groups: number, ptr: number, coef: number, acc: number): void;
  /** s = keep·w (mode 1), w + s (mode 2) or keep·w + s (mode 3) on n floats, in float32, in place at s */
  combine(w: number, s: number, n: number, keep: number, mode: number): void;
  heapBase(): number;
}

/** Samples per chunk when the target array lives outside the kernel's memory (256 KiB: stays in L2). */
const CHUNK = 1 << 16;

/**
 * How the kernel lays out a stream: `per` samples per counter (sample k is number k % per of counter
 * ⌊k / per⌋), `group` samples per kernel iteration (four counters). noise-worker.ts has the same table.
 */
export const STREAM_LAYOUT: Record<NoiseStream, { per: number; group: number; fn: 'run' | 'runQuad' }> = {
  1: { per: 2, group: 8, fn: 'run' },
  2: { per: 4, group: 16, fn: 'runQuad' },
};

export class NoiseWasm {
  private heap: Float32Array;
  /** byte offset of the kernel's work buffer in its memory (16-byte aligned) */
  private readonly base: number;

  private constructor(private readonly ex: KernelExports) {
    this.base = (ex.heapBase() + 15) & ~15;
    this.heap = new Float32Array(ex.memory.buffer);
    this.reserve(NoiseWasm.sumBytes(CHUNK));
  }

  /** Compile the embedded kernel; throws when this runtime lacks WebAssembly SIMD. */
  static load(): NoiseWasm {
    const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wa) throw new Error('WebAssembly is not available');
    const bytes = NoiseWasm.bytes();
    if (!wa.validate(bytes)) throw new Error('this runtime rejects the kernel (no WebAssembly SIMD)');
    const instance = new wa.Instance(new wa.Module(bytes), {});
    return new NoiseWasm(instance.exports as unknown as KernelExports);
  }

  /** The kernel's .wasm bytes (noise-pool's workers instantiate the same module). */
  static bytes(): Uint8Array {
    return Uint8Array.from(atob(NOISE_WASM_BASE64), (ch) => ch.charCodeAt(0));
  }

  /** Bytes of the sum buffer for `samples` floats from any start, in either stream (whole groups). */
  private static sumBytes(samples: number): number {
    return Math.max(...Object.values(STREAM_LAYOUT).map((l) => Math.ceil((l.per - 1 + samples) / l.group) * l.group * 4));
  }

  /** Make room for `bytes` bytes after base. Growing detaches earlier views of the memory. */
  private reserve(bytes: number): void {
    const need = this.base + bytes;
    const have = this.ex.memory.buffer.byteLength;
    if (need > have) this.ex.memory.grow(Math.ceil((need - have) / 65536));
    if (this.heap.buffer !== this.ex.memory.buffer) this.heap = new Float32Array(this.ex.memory.buffer);
  }

  /** Kernel groups that cover k in [start, start + n) from the counter of `start`. */
  private static groups(stream: NoiseStream, start: number, n: number): number {
    const l = STREAM_LAYOUT[stream];
    return Math.ceil(((start % l.per) + n) / l.group);
  }

  /** Run the kernel over k in [start, start + n); sample `start` lands at float base/4 + start % per. */
  private runAt(stream: NoiseStream, k0: number, k1: number, start: number, n: number, coef: number, acc: boolean): void {
    const l = STREAM_LAYOUT[stream];
    this.ex[l.fn](k0, k1, Math.floor(start / l.per) >>> 0, NoiseWasm.groups(stream, start, n), this.base, coef, acc ? 1 : 0);
  }

  /** out[i] = z(start + i), or out[i] += coef·z (acc), for any Float32Array. */
  apply(out: Float32Array, seed: number, block: number, start: number, coef: number, acc: boolean, stream: NoiseStream = 1): void {
    const [k0, k1] = noiseKeys(seed, block);
    const first = this.base / 4;
    const per = STREAM_LAYOUT[stream].per;
    for (let i = 0; i < out.length; ) {
      const k = start + i;
      const off = k % per;
      const n = Math.min(out.length - i, CHUNK - off);
      if (acc) this.heap.set(out.subarray(i, i + n), first + off);
      this.runAt(stream, k0, k1, k, n, coef, acc);
      out.set(this.heap.subarray(first + off, first + off + n), i);
      i += n;
    }
  }

  /**
   * Σ_t f32(coef_t · z(seed_t, block, start + i)) for i < n in `stream`, summed from +0 in the order given, in the
   * kernel's own memory: the returned view is valid until the next call on this object.
   */
  sum(n: number, block: number, terms: readonly { seed: number; coef: number }[], start: number, stream: NoiseStream = 1): Float32Array {
    this.reserve(NoiseWasm.sumBytes(n));
    const l = STREAM_LAYOUT[stream];
    const first = this.base / 4 + (start % l.per);
    const view = this.heap.subarray(first, first + n);
    this.heap.fill(0, this.base / 4, this.base / 4 + NoiseWasm.groups(stream, start, n) * l.group);
    for (const t of terms) {
      const [k0, k1] = noiseKeys(t.seed, block);
      this.runAt(stream, k0, k1, start, n, t.coef, true);
    }
    return view;
  }

  /**
   * The new weights f32(f32(keep·w[i]) + s[i]) for i < w.length (s null: f32(keep·w[i]); keep = 1 skips
   * the multiply), computed over the sum buffer: s is used where it lies when it is sum(n, ·, ·, 0)'s
   * result, else copied in. The returned view is valid until the next call on this object. w is
   * staged in chunks, so it may live in any memory (tfjs's wasm heap, a JS array).
   */
  combine(w: Float32Array, s: Float32Array | null, keep: number): Float32Array {
    const n = w.length;
    if (s !== null && s.length !== n) throw new Error(`noise: combine got ${s.length} sums for ${n} weights`);
    const inPlace = s !== null && s.buffer === this.ex.memory.buffer && s.byteOffset === this.base;
    if (s !== null && !inPlace && s.buffer === this.ex.memory.buffer) s = s.slice(); // reserve may detach it
    if (w.buffer === this.ex.memory.buffer) w = w.slice(); // and the result overwrites the sum buffer
    const sumBytes = NoiseWasm.sumBytes(n);
    this.reserve(sumBytes + CHUNK * 4);
    const first = this.base / 4;
    const out = this.heap.subarray(first, first + n);
    if (s !== null && !inPlace) out.set(s);
    const mode = (keep !== 1 ? 1 : 0) | (s !== null ? 2 : 0);
    if (mode === 0) {
      out.set(w);
      return out;
    }
    const chunk = this.base + sumBytes; // w is staged here, CHUNK floats at a time
    for (let i = 0; i < n; i += CHUNK) {
      const c = Math.min(CHUNK, n - i);
      this.heap.set(w.subarray(i, i + c), chunk / 4);
      this.ex.combine(chunk, this.base + 4 * i, c, keep, mode);
    }
    return out;
  }
}
