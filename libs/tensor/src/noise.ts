// zotune's Gaussian noise z(seed, block, k) (ALGORITHMS.md §1), fast: the WebAssembly SIMD kernel when
// the runtime has SIMD, else the scalar JavaScript port. Both equal noise-ref.ts bit for bit. Every
// function takes the noise stream last (NoiseStream, default 1: the stream of trajectory format
// versions 1–3; a ZO run passes its version's stream).
import { noiseJs } from './noise-js';
import { checkNoiseStream, type NoiseStream } from './noise-ref';
import { NoiseWasm } from './noise-wasm';

export type NoiseImplementation = 'wasm-simd' | 'js';

/** One term of a noise sum: coef · z(seed, block, ·). */
export interface NoiseTerm {
  /** step/candidate seed, a uint32 */
  seed: number;
  /** multiplier, rounded to float32 before use */
  coef: number;
}

let wasm: NoiseWasm | null | undefined;
let wasmError = '';
let forced: NoiseImplementation | undefined;
let jsScratch = new Float32Array(0);

function kernel(): NoiseWasm | null {
  if (forced === 'js') return null;
  if (wasm === undefined) {
    try {
      wasm = NoiseWasm.load();
    } catch (e) {
      wasm = null;
      wasmError = e instanceof Error ? e.message : String(e);
    }
  }
  return wasm;
}

/** The implementation in use: 'wasm-simd', or 'js' (with the reason when SIMD failed to load). */
export function noiseImplementation(): string {
  if (kernel()) return 'wasm-simd';
  return forced === 'js' ? 'js' : `js (${wasmError})`;
}

/**
 * Choose the implementation ('auto' = wasm-simd when available). For tests and benchmarks: both give
 * the same bits. Returns noiseImplementation(). Throws when 'wasm-simd' is asked for and unavailable.
 */
export function useNoiseImplementation(choice: NoiseImplementation | 'auto'): string {
  forced = choice === 'js' ? 'js' : undefined;
  if (choice === 'wasm-simd' && !kernel()) throw new Error(`noise: wasm-simd unavailable (${wasmError})`);
  return noiseImplementation();
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`noise: ${name} must be an integer in [0, 2^32), got ${v}`);
}

/**
 * Check one block's noise update (applyNoiseMany, applyNoiseArrays, NoisePool.apply): block and seeds
 * uint32, coefficients and keep finite, stream 1 or 2. `where` names the item in the one-line error.
 */
export function checkNoiseUpdate(where: string, block: number, terms: readonly NoiseTerm[], keep: number, stream: number = 1): void {
  checkNoiseStream(stream, `${where}.stream`);
  if (!Number.isFinite(keep)) throw new Error(`${where}: keep must be finite, got ${keep}`);
  if (!Number.isInteger(block) || block < 0 || block > 0xffffffff) throw new Error(`${where}.block must be a uint32, got ${block}`);
  terms.forEach((t, k) => {
    if (!Number.isInteger(t.seed) || t.seed < 0 || t.seed > 0xffffffff) throw new Error(`${where}.terms[${k}].seed must be a uint32, got ${t.seed}`);
    if (!Number.isFinite(t.coef)) throw new Error(`${where}.terms[${k}].coef must be finite, got ${t.coef}`);
  });
}

function checkRange(start: number, n: number): void {
  if (!Number.isInteger(start) || start < 0 || start + n > 2 ** 32)
    throw new Error(`noise: start must be an integer >= 0 with start + length <= 2^32, got start ${start}, length ${n}`);
}

/** out[i] = z(seed, block, start + i) of `stream`. */
export function normalFill(out: Float32Array, seed: number, block: number, start = 0, stream: NoiseStream = 1): void {
  checkU32('seed', seed);
  checkU32('block', block);
  checkRange(start, out.length);
  checkNoiseStream(stream);
  const k = kernel();
  if (k) k.apply(out, seed, block, start, 0, false, stream);
  else noiseJs(out, seed, block, start, 0, false, stream);
}

/** out[i] = f32(out[i] + f32(f32(coef) · z(seed, block, start + i))) of `stream`. */
export function normalAccumulate(out: Float32Array, seed: number, block: number, coef: number, start = 0, stream: NoiseStream = 1): void {
  checkU32('seed', seed);
  checkU32('block', block);
  checkRange(start, out.length);
  checkNoiseStream(stream);
  if (!Number.isFinite(coef)) throw new Error(`noise: coef must be finite, got ${coef}`);
  const k = kernel();
  if (k) k.apply(out, seed, block, start, coef, true, stream);
  else noiseJs(out, seed, block, start, coef, true, stream);
}

/**
 * S[i] = Σ_t f32(coef_t · z(seed_t, block, start + i)) of `stream`, i < n, summed from +0 in the order of `terms`
 * (each addition rounded to float32). Written into `scratch` when given (at least n floats; the
 * returned array is its first n), else into an internal buffer that grows as needed and is reused:
 * the result is then valid only until the next call of this function.
 */
export function noiseSum(n: number, block: number, terms: readonly NoiseTerm[], start = 0, scratch?: Float32Array, stream: NoiseStream = 1): Float32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`noise: n must be an integer >= 0, got ${n}`);
  checkU32('block', block);
  checkRange(start, n);
  checkNoiseStream(stream);
  terms.forEach((t, i) => {
    checkU32(`terms[${i}].seed`, t.seed);
    if (!Number.isFinite(t.coef)) throw new Error(`noise: terms[${i}].coef must be finite, got ${t.coef}`);
  });
  if (scratch && scratch.length < n) throw new Error(`noise: scratch holds ${scratch.length} floats, ${n} needed`);
  const k = kernel();
  if (k && !scratch) return k.sum(n, block, terms, start, stream); // in the kernel's memory: no copy
  let out: Float32Array;
  if (scratch) out = scratch.subarray(0, n);
  else {
    if (jsScratch.length < n) jsScratch = new Float32Array(n);
    out = jsScratch.subarray(0, n);
  }
  out.fill(0);
  for (const t of terms) {
    if (k) k.apply(out, t.seed, block, start, t.coef, true, stream);
    else noiseJs(out, t.seed, block, start, t.coef, true, stream);
  }
  return out;
}

let jsOut = new Float32Array(0);

/**
 * applyNoise's update of weights w by a sum s (noiseSum's result, or any array of w.length):
 * out[i] = f32(f32(f32(keep)·w[i]) + s[i]); s null: out[i] = f32(f32(keep)·w[i]); keep = 1 skips the
 * multiply. float32 arithmetic lane by lane, so equal to tfjs's mul and add bit for bit. The result is
 * in an internal buffer (the SIMD kernel's memory, which may hold s): valid until the next call of
 * this function or of noiseSum.
 */
export function combineWeights(w: Float32Array, s: Float32Array | null, keep = 1): Float32Array {
  if (!Number.isFinite(keep)) throw new Error(`noise: keep must be finite, got ${keep}`);
  if (s !== null && s.length !== w.length) throw new Error(`noise: ${s.length} sums for ${w.length} weights`);
  const k = kernel();
  if (k) return k.combine(w, s, keep);
  if (jsOut.length < w.length) jsOut = new Float32Array(w.length);
  const out = jsOut.subarray(0, w.length);
  const f = Math.fround;
  const kf = f(keep);
  if (keep === 1 && s) for (let i = 0; i < w.length; i++) out[i] = w[i] + s[i]; // a Float32Array store rounds to float32
  else if (s) for (let i = 0; i < w.length; i++) out[i] = f(kf * w[i]) + s[i];
  else if (keep !== 1) for (let i = 0; i < w.length; i++) out[i] = kf * w[i];
  else out.set(w);
  return out;
}
