// Scalar JavaScript implementation of the noise, used when WebAssembly SIMD is unavailable.
// Stream 1: the same operations as noise-ref.ts (the specification), restructured for speed: no
// allocation per pair, the hash and trig polynomials inlined, both samples of a pair written at once.
// Stream 2: the reference's normalQuad, once per quad of four samples.
import { logf, noiseKeys, normalQuad, type NoiseStream } from './noise-ref';

const f = Math.fround;

// float32 constants of noise-ref.ts
const S0 = f(-1.9515295891e-4), S1 = f(8.3321608736e-3), S2 = f(-1.6666654611e-1);
const C0 = f(2.443315711809948e-5), C1 = f(-1.388731625493765e-3), C2 = f(4.166664568298827e-2);
const Y_SCALE = f(Math.PI / 2 ** 23);
const U_SCALE = f(2 ** -24);

// The pair computed last: (even, odd) = (z[2p], z[2p + 1]).
let zEven = 0;
let zOdd = 0;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function pair(p: number, k0: number, k1: number): void {
  const c = (2 * p) >>> 0;
  const a = fmix((fmix((c ^ k0) >>> 0) + k1) >>> 0);
  const b = fmix((fmix(((c + 1) ^ k0) >>> 0) + k1) >>> 0);
  const l = logf(f(((a >>> 8) + 1) * U_SCALE)); // u1 = ((a >>> 8) + 1) / 2^24: exact, at most 24 significant bits
  const r2 = f(-2 * l);
  const r = f(Math.sqrt(r2 > 0 ? r2 : 0));
  // angle
  const t = f((((b >>> 8) & 0x3fffff) - 0x200000) * Y_SCALE);
  const t2 = f(t * t);
  const s = f(f(f(f(f(f(f(S0 * t2) + S1) * t2) + S2) * t2) * t) + t);
  const k = f(f(f(f(f(f(f(f(C0 * t2) + C1) * t2) + C2) * t2) * t2) - f(0.5 * t2)) + 1);
  switch (b >>> 30) {
    case 0: zEven = f(r * k); zOdd = f(r * s); break;
    case 1: zEven = f(r * -s); zOdd = f(r * k); break;
    case 2: zEven = f(r * -k); zOdd = f(r * -s); break;
    default: zEven = f(r * s); zOdd = f(r * -k); break;
  }
}

/** noiseJs for stream 2: quad by quad. */
function quadsJs(out: Float32Array, k0: number, k1: number, start: number, coef: number, acc: boolean): void {
  const a = f(coef);
  let q: number[] = [];
  for (let i = 0; i < out.length; i++) {
    const k = start + i;
    if (i === 0 || k % 4 === 0) q = normalQuad(Math.floor(k / 4), k0, k1);
    out[i] = acc ? f(out[i] + f(a * q[k % 4])) : q[k % 4];
  }
}

/**
 * out[i] = z(seed, block, start + i) of `stream` when acc is false, else
 * out[i] = f32(out[i] + f32(f32(coef) · z)), as noise-ref.ts computes them.
 */
export function noiseJs(out: Float32Array, seed: number, block: number, start: number, coef: number, acc: boolean, stream: NoiseStream = 1): void {
  const [k0, k1] = noiseKeys(seed, block);
  if (stream === 2) return quadsJs(out, k0, k1, start, coef, acc);
  const a = f(coef);
  const n = out.length;
  let i = 0;
  let p = Math.floor(start / 2);
  if (n > 0 && start % 2 === 1) {
    pair(p++, k0, k1);
    out[0] = acc ? f(out[0] + f(a * zOdd)) : zOdd;
    i = 1;
  }
  for (; i + 1 < n; i += 2, p++) {
    pair(p, k0, k1);
    if (acc) {
      out[i] = f(out[i] + f(a * zEven));
      out[i + 1] = f(out[i + 1] + f(a * zOdd));
    } else {
      out[i] = zEven;
      out[i + 1] = zOdd;
    }
  }
  if (i < n) {
    pair(p, k0, k1);
    out[i] = acc ? f(out[i] + f(a * zEven)) : zEven;
  }
}
