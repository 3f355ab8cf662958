// Q8_0 quantization, bit-exact with gguf-py's quantize (which matches ggml's reference
// quantize_row_q8_0_ref): per block of 32, d = max|x| / 127 in float32, q = round-half-away(x · (1/d)),
// d stored as fp16. Every step is one float32 operation, emulated by Math.fround of the double result.
import { f32ToF16Bits } from './f16';

const fround = Math.fround;

/** Round half away from zero, as gguf-py's np_roundf computes it in float32. */
function roundf(v: number): number {
  const a = Math.abs(v);
  const fl = Math.floor(a);
  const r = fl + Math.floor(fround(2 * fround(a - fl)));
  return v < 0 ? -r : r;
}

/** Quantize blocks of 32 into `out` at `at` (34 bytes a block): values.length must be a multiple of 32. */
export function quantizeQ8_0Into(values: Float32Array, out: Uint8Array, at: number): void {
  const nb = values.length / 32;
  for (let i = 0; i < nb; i++) {
    const o = i * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const x = values[o + j];
      if (!Number.isFinite(x)) throw new Error(`quantizeQ8_0: value #${o + j} is ${x} (Q8_0 holds finite values only)`);
      const a = Math.abs(x);
      if (a > amax) amax = a;
    }
    const d = fround(amax / 127);
    const id = d === 0 ? 0 : fround(1 / d);
    const p = at + i * 34;
    const h = f32ToF16Bits(d);
    out[p] = h & 255;
    out[p + 1] = h >> 8;
    for (let j = 0; j < 32; j++) out[p + 2 + j] = roundf(fround(values[o + j] * id)) & 255;
  }
}

/** Quantize to Q8_0 blocks (34 bytes per 32 values). */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % 32 !== 0) throw new Error(`quantizeQ8_0: ${values.length} values is not a whole number of 32-value blocks`);
  const out = new Uint8Array((values.length / 32) * 34);
  quantizeQ8_0Into(values, out, 0);
  return out;
}
