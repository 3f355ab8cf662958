// Dequantizers of the ggml block formats to fp32, bit-exact with gguf-py's numpy code
// (gguf/quants.py), which computes every step in float32. Each step here is one float32 operation:
// a product or sum of two float32 values is exact in a double, so Math.fround (or a store into a
// Float32Array) of it is the correctly rounded float32 result numpy gives.
//
// Block layouts (ggml-common.h; d, dmin, m are fp16; "ne" = elements per block):
//   Q4_0  ne 32   d | qs[16]                   x = d·(q−8),  q nibble j (low) / j+16 (high)
//   Q4_1  ne 32   d m | qs[16]                 x = d·q + m
//   Q5_0  ne 32   d | qh u32 | qs[16]          x = d·(q−16), q = nibble | bit j of qh << 4
//   Q5_1  ne 32   d m | qh u32 | qs[16]        x = d·q + m
//   Q8_0  ne 32   d | qs int8[32]              x = q·d
//   Q2_K  ne 256  scales[16] | qs[64] | d dmin                  16 sub-blocks of 16, 2-bit q
//   Q3_K  ne 256  hmask[32] | qs[64] | scales[12] | d           16 sub-blocks of 16, 3-bit q, 6-bit signed scales
//   Q4_K  ne 256  d dmin | scales[12] | qs[128]                 8 sub-blocks of 32, 6-bit scales and mins
//   Q5_K  ne 256  d dmin | scales[12] | qh[32] | qs[128]
//   Q6_K  ne 256  ql[128] | qh[64] | scales int8[16] | d        16 sub-blocks of 16, 6-bit q
import { f16BitsTable, f16Table } from './f16';
import { type GgmlType, ggmlTypeInfo } from './types';

const fround = Math.fround;

/** Dequantize `nElements` values of `type` held in `bytes` (exactly nElements / blockSize blocks). */
export function dequantize(type: GgmlType, bytes: Uint8Array, nElements: number): Float32Array {
  const { blockSize, typeSize } = ggmlTypeInfo(type);
  if (!Number.isSafeInteger(nElements) || nElements < 0 || nElements % blockSize !== 0)
    throw new Error(`dequantize ${type}: ${nElements} elements is not a whole number of ${blockSize}-element blocks`);
  const nb = nElements / blockSize;
  if (bytes.length !== nb * typeSize)
    throw new Error(`dequantize ${type}: ${nElements} elements need ${nb * typeSize} bytes, got ${bytes.length}`);
  const out = new Float32Array(nElements);
  const b = bytes;
  switch (type) {
    case 'F32':
      new Uint8Array(out.buffer).set(b);
      break;
    case 'F16': {
      const t = f16BitsTable();
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < nElements; i++) bits[i] = t[b[2 * i] | (b[2 * i + 1] << 8)];
      break;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < nElements; i++) bits[i] = ((b[2 * i] | (b[2 * i + 1] << 8)) << 16) >>> 0;
      break;
    }
    case 'Q8_0':
      q8_0(b, nb, out);
      break;
    case 'Q4_0':
      q4_0(b, nb, out);
      break;
    case 'Q4_1':
      q4_1(b, nb, out);
      break;
    case 'Q5_0':
      q5_0(b, nb, out);
      break;
    case 'Q5_1':
      q5_1(b, nb, out);
      break;
    case 'Q2_K':
      q2_k(b, nb, out);
      break;
    case 'Q3_K':
      q3_k(b, nb, out);
      break;
    case 'Q4_K':
      q4_k(b, nb, out);
      break;
    case 'Q5_K':
      q5_k(b, nb, out);
      break;
    case 'Q6_K':
      q6_k(b, nb, out);
      break;
  }
  return out;
}

/** the fp16 at b[p], b[p+1] (little-endian) as a number */
function half(h: Float32Array, b: Uint8Array, p: number): number {
  return h[b[p] | (b[p + 1] << 8)];
}

function q8_0(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 34, o += 32) {
    const d = half(h, b, p);
    for (let j = 0; j < 32; j++) out[o + j] = ((b[p + 2 + j] << 24) >> 24) * d;
  }
}

function q4_0(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 18, o += 32) {
    const d = half(h, b, p);
    for (let j = 0; j < 16; j++) {
      const q = b[p + 2 + j];
      out[o + j] = d * ((q & 15) - 8);
      out[o + j + 16] = d * ((q >> 4) - 8);
    }
  }
}

function q4_1(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 20, o += 32) {
    const d = half(h, b, p);
    const m = half(h, b, p + 2);
    for (let j = 0; j < 16; j++) {
      const q = b[p + 4 + j];
      out[o + j] = fround(d * (q & 15)) + m;
      out[o + j + 16] = fround(d * (q >> 4)) + m;
    }
  }
}

function q5_0(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 22, o += 32) {
    const d = half(h, b, p);
    const qh = b[p + 2] | (b[p + 3] << 8) | (b[p + 4] << 16) | (b[p + 5] << 24);
    for (let j = 0; j < 16; j++) {
      const q = b[p + 6 + j];
      out[o + j] = d * (((q & 15) | (((qh >>> j) & 1) << 4)) - 16);
      out[o + j + 16] = d * (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
    }
  }
}

function q5_1(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 24, o += 32) {
    const d = half(h, b, p);
    const m = half(h, b, p + 2);
    const qh = b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24);
    for (let j = 0; j < 16; j++) {
      const q = b[p + 8 + j];
      out[o + j] = fround(d * ((q & 15) | (((qh >>> j) & 1) << 4))) + m;
      out[o + j + 16] = fround(d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4))) + m;
    }
  }
}

// per-sub-block scales of the current K-quant block (float32 values)
const sA = new Float64Array(16);
const sB = new Float64Array(16);

function q2_k(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 84, o += 256) {
    const d = half(h, b, p + 80);
    const dmin = half(h, b, p + 82);
    for (let j = 0; j < 16; j++) {
      sA[j] = fround(d * (b[p + j] & 15));
      sB[j] = fround(dmin * (b[p + j] >> 4));
    }
    // element h·128 + s·32 + l holds bits 2s..2s+1 of qs[h·32 + l]
    for (let hh = 0; hh < 2; hh++)
      for (let s = 0; s < 4; s++)
        for (let l = 0; l < 32; l++) {
          const idx = hh * 128 + s * 32 + l;
          const q = (b[p + 16 + hh * 32 + l] >> (2 * s)) & 3;
          out[o + idx] = fround(sA[idx >> 4] * q) - sB[idx >> 4];
        }
  }
}

function q3_k(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 110, o += 256) {
    const d = half(h, b, p + 108);
    const sc = p + 96;
    for (let j = 0; j < 16; j++) {
      const lo = j < 8 ? b[sc + j] & 15 : b[sc + j - 8] >> 4;
      const hi = (b[sc + 8 + (j & 3)] >> (2 * (j >> 2))) & 3;
      sA[j] = fround(d * ((lo | (hi << 4)) - 32));
    }
    // low 2 bits as Q2_K; the third bit is bit (h·4 + s) of hmask[l], and a clear bit means −4
    for (let hh = 0; hh < 2; hh++)
      for (let s = 0; s < 4; s++)
        for (let l = 0; l < 32; l++) {
          const idx = hh * 128 + s * 32 + l;
          const ql = (b[p + 32 + hh * 32 + l] >> (2 * s)) & 3;
          const hb = (b[p + l] >> (hh * 4 + s)) & 1;
          out[o + idx] = sA[idx >> 4] * (hb ? ql : ql - 4);
        }
  }
}

/** the 8 six-bit scales (into sA) and mins (into sB) of a Q4_K/Q5_K block, times d and dmin */
function kScaleMin(b: Uint8Array, sc: number, d: number, dmin: number): void {
  for (let j = 0; j < 4; j++) {
    sA[j] = fround(d * (b[sc + j] & 63));
    sB[j] = fround(dmin * (b[sc + j + 4] & 63));
    sA[j + 4] = fround(d * ((b[sc + j + 8] & 15) | ((b[sc + j] >> 2) & 0x30)));
    sB[j + 4] = fround(dmin * ((b[sc + j + 8] >> 4) | ((b[sc + j + 4] >> 2) & 0x30)));
  }
}

function q4_k(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 144, o += 256) {
    kScaleMin(b, p + 4, half(h, b, p), half(h, b, p + 2));
    // sub-block 2c + s holds nibble s of qs[c·32 + l]
    for (let c = 0; c < 4; c++)
      for (let s = 0; s < 2; s++) {
        const sb = 2 * c + s;
        const ds = sA[sb];
        const dm = sB[sb];
        for (let l = 0; l < 32; l++) out[o + sb * 32 + l] = fround(ds * ((b[p + 16 + c * 32 + l] >> (4 * s)) & 15)) - dm;
      }
  }
}

function q5_k(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 176, o += 256) {
    kScaleMin(b, p + 4, half(h, b, p), half(h, b, p + 2));
    // as Q4_K, plus bit sb of qh[l] as the fifth bit
    for (let c = 0; c < 4; c++)
      for (let s = 0; s < 2; s++) {
        const sb = 2 * c + s;
        const ds = sA[sb];
        const dm = sB[sb];
        for (let l = 0; l < 32; l++) {
          const q = ((b[p + 48 + c * 32 + l] >> (4 * s)) & 15) | (((b[p + 16 + l] >> sb) & 1) << 4);
          out[o + sb * 32 + l] = fround(ds * q) - dm;
        }
      }
  }
}

function q6_k(b: Uint8Array, nb: number, out: Float32Array): void {
  const h = f16Table();
  for (let i = 0, p = 0, o = 0; i < nb; i++, p += 210, o += 256) {
    const d = half(h, b, p + 208);
    for (let j = 0; j < 16; j++) sA[j] = fround(d * ((b[p + 192 + j] << 24) >> 24));
    // half hh, element k (0..127): low 4 bits are nibble k>>6 of ql[hh·64 + (k&63)],
    // high 2 bits are bits 2·(k>>5) of qh[hh·32 + (k&31)]
    for (let hh = 0; hh < 2; hh++)
      for (let k = 0; k < 128; k++) {
        const lo = (b[p + hh * 64 + (k & 63)] >> (4 * (k >> 6))) & 15;
        const hi = (b[p + 128 + hh * 32 + (k & 31)] >> (2 * (k >> 5))) & 3;
        const idx = hh * 128 + k;
        out[o + idx] = sA[idx >> 4] * ((lo | (hi << 4)) - 32);
      }
  }
}
