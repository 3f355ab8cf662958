// IEEE half ↔ single conversions, bit-exact with numpy's astype (which gguf-py uses): half → single
// is exact (NaN payloads kept, not quieted); single → half rounds to nearest, ties to even.

/** float32 bit patterns of all 65,536 halves, built on first use */
let table: Uint32Array | undefined;

/** The float32 bit pattern of every half, indexed by its 16 bits. */
export function f16BitsTable(): Uint32Array {
  if (table) return table;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let frac = h & 0x3ff;
    if (exp === 31) t[h] = sign | 0x7f800000 | (frac << 13);
    else if (exp !== 0) t[h] = sign | ((exp + 112) << 23) | (frac << 13);
    else if (frac === 0) t[h] = sign;
    else {
      // subnormal half: normalise (the value frac × 2^-24 is a normal float32)
      let e = 113;
      while ((frac & 0x400) === 0) {
        frac <<= 1;
        e--;
      }
      t[h] = sign | (e << 23) | ((frac & 0x3ff) << 13);
    }
  }
  return (table = t);
}

/** The half values as float32 numbers (same memory as f16BitsTable). */
export function f16Table(): Float32Array {
  return new Float32Array(f16BitsTable().buffer);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The half (16 bits) nearest to the float32 nearest to `x`, ties to even; overflow gives ±inf. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  return f32BitsToF16Bits(u32[0]);
}

/** The half nearest to the float32 with bit pattern `bits` (what f32ToF16Bits does after the cast). */
export function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const e = (bits >>> 23) & 0xff;
  const m = bits & 0x7fffff;
  if (e === 255) {
    if (m === 0) return sign | 0x7c00;
    // NaN: keep the top of the payload, and keep it a NaN (numpy's rule)
    const h = 0x7c00 | (m >>> 13);
    return sign | (h === 0x7c00 ? 0x7c01 : h);
  }
  if (e >= 143) return sign | 0x7c00; // ≥ 2^16: beyond the largest half even after rounding
  if (e >= 113) {
    // normal half: drop 13 mantissa bits, round half to even (a carry may reach the exponent, even inf)
    let h = ((e - 112) << 10) | (m >>> 13);
    const rest = m & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
    return sign | h;
  }
  if (e < 102) return sign; // below 2^-25: rounds to ±0
  // subnormal half: the value in units of 2^-24 is (1.m) × 2^(e-126)
  const full = m | 0x800000;
  const shift = 126 - e;
  let h = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (h & 1) === 1)) h++;
  return sign | h;
}
