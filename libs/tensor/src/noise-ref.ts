// Reference (scalar, readable) implementation of zotune's counter-based Gaussian noise.
// It is the specification: every fast path (WebAssembly SIMD, workers, GPU) must produce the same
// float32 bits. Only f32 +, -, *, /, sqrt and integer ops are used, each rounded with Math.fround,
// so a float32 SIMD kernel without fused multiply-add reproduces it exactly.
//
// z(seed, block, k): element k of block `block` under step/candidate seed `seed` (all uint32), in one
// of two streams (NoiseStream; both keyed by noiseKeys(seed, block) = (k0, k1)):
//
// Stream 1 (trajectory format versions 1–3; the default of every function here):
// pair p = k >> 1 draws two 32-bit hashes a = H(2p), b = H(2p + 1) keyed by (seed, block);
// Box–Muller: r = sqrt(-2 ln u1), u1 = ((a >>> 8) + 1) / 2^24 in (0, 1];
// angle θ = q·π/2 + y with q = b >>> 30 (quadrant) and y uniform in [-π/4, π/4) from b's bits 8..29;
// z[2p] = r cos θ, z[2p + 1] = r sin θ.
//
// Stream 2 (trajectory format version 4): Box–Muller in four dimensions, four samples per counter,
// one logarithm per four samples instead of two and five hash rounds instead of eight. Quad c = k >> 2:
// h = fmix32(c ^ k0), w_i = fmix32(h + k1 + (i + 1)·0x9e3779b9) for i = 0..3 (each w_i is hash32's two
// rounds, none of them stream 1's word of the same counter); u1, u2, t = ((w_0|1|2 >>> 8) + 1) / 2^24 in (0, 1]; r = sqrt(-2 ln(u1·u2)), so r² ~ χ²₄;
// the direction on the 3-sphere in Hopf coordinates: cos²η = 1 − t, sin²η = t (uniform: Beta(1, 1)),
// θ1 from w_3 and θ2 from v = w_0's, w_1's and w_2's low bytes (<< 24, 16, 8) as stream 1's θ from b;
// z[4c .. 4c + 3] = r·cos η·(cos θ1, sin θ1), r·sin η·(cos θ2, sin θ2): exactly N(0, I₄) in real
// arithmetic. |z| ≤ sqrt(96 ln 2) ≈ 8.2 (stream 1: sqrt(48 ln 2) ≈ 5.8). The logarithm evaluates
// Cephes logf's polynomial in Estrin's order (logfEstrin), shorter dependency chains for SIMD.

const f = Math.fround;

/** murmur3's 32-bit finaliser: a bijection of uint32 with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The two per-(seed, block) hash keys. For a fixed seed, distinct blocks always get distinct keys. */
export function noiseKeys(seed: number, block: number): [number, number] {
  const k0 = fmix32(Math.imul(seed >>> 0, 0x9e3779b1) ^ fmix32((block + 0x85ebca77) >>> 0));
  const k1 = fmix32(k0 ^ 0x27d4eb2f);
  return [k0, k1];
}

/** Keyed hash of counter c: two finaliser rounds. */
export function hash32(c: number, k0: number, k1: number): number {
  return fmix32((fmix32((c ^ k0) >>> 0) + k1) >>> 0);
}

/** Derive a child seed: run → step → candidate. deriveSeed(run, step, candidate). */
export function deriveSeed(parent: number, ...path: number[]): number {
  let s = parent >>> 0;
  for (const i of path) s = fmix32((fmix32((s ^ 0x632be5ab) >>> 0) + Math.imul(i + 1, 0x9e3779b9)) >>> 0);
  return s;
}

// float32 constants (rounded once, here).
const SQRTHF = f(0.70710677);
const LOG_P = [7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1].map(f);
const LOG_Q1 = f(-2.12194440e-4);
const LOG_Q2 = f(0.693359375);
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(f);
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(f);
const Y_SCALE = f(Math.PI / 2 ** 23); // (π/2) / 2^22: maps a 22-bit signed integer to [-π/4, π/4)
const U_SCALE = f(2 ** -24);

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/**
 * Cephes logf's frame around a polynomial: x = 2^e·(1 + m) with 1 + m in [√½, √2), then
 * ln x = m − z/2 + m·z·P(m) + e·ln 2 (z = m², ln 2 = Q2 − Q1 split for accuracy), P evaluated by `poly`.
 */
function logFrame(x: number, poly: (m: number, z: number) => number): number {
  f32buf[0] = x;
  const bits = u32buf[0];
  let e = ((bits >>> 23) & 0xff) - 126;
  u32buf[0] = (bits & 0x7fffff) | 0x3f000000; // mantissa in [0.5, 1)
  let m = f32buf[0];
  if (m < SQRTHF) {
    e -= 1;
    m = f(f(m + m) - 1);
  } else {
    m = f(m - 1);
  }
  const ef = f(e);
  const z = f(m * m);
  let y = f(f(poly(m, z) * m) * z);
  y = f(y + f(LOG_Q1 * ef));
  y = f(y - f(f(0.5) * z));
  let r = f(m + y);
  r = f(r + f(LOG_Q2 * ef));
  return r;
}

/** P(m) by Horner's rule, P0 first (logf). */
function hornerLog(m: number): number {
  let p = LOG_P[0];
  for (let i = 1; i < LOG_P.length; i++) p = f(f(p * m) + LOG_P[i]);
  return p;
}

/** P(m) in Estrin's order: ((P0·m + P1)·z + (P2·m + P3))·z² + ((P4·m + P5)·z + (P6·m + P7)), then ·m + P8. */
function estrinLog(m: number, z: number): number {
  const P = LOG_P;
  const z2 = f(z * z);
  const a0 = f(f(P[0] * m) + P[1]);
  const a1 = f(f(P[2] * m) + P[3]);
  const a2 = f(f(P[4] * m) + P[5]);
  const a3 = f(f(P[6] * m) + P[7]);
  const p = f(f(f(f(a0 * z) + a1) * z2) + f(f(a2 * z) + a3));
  return f(f(p * m) + P[8]);
}

/** Natural log of a positive normal float32 (Cephes logf), in float32 arithmetic. */
export function logf(x: number): number {
  return logFrame(x, hornerLog);
}

/**
 * logf with its polynomial in Estrin's order (estrinLog; stream 2): shorter dependency chains for SIMD,
 * within 2 ulp of ln like logf, other bits.
 */
export function logfEstrin(x: number): number {
  return logFrame(x, estrinLog);
}

/**
 * (cos θ, sin θ) of an angle word b: θ = q·π/2 + y, q = b >>> 30, y = (bits 8..29 of b − 2^21)·(π/2)/2^22
 * in [-π/4, π/4), sin and cos of y by Cephes's float32 polynomials. Both streams use it.
 */
export function angleOf(b: number): [number, number] {
  const q = b >>> 30;
  const y = f(f(((b >>> 8) & 0x3fffff) - 0x200000) * Y_SCALE);
  const y2 = f(y * y);
  const s = f(f(f(f(f(f(f(SIN_P[0] * y2) + SIN_P[1]) * y2) + SIN_P[2]) * y2) * y) + y);
  const c = f(f(f(f(f(f(f(f(COS_P[0] * y2) + COS_P[1]) * y2) + COS_P[2]) * y2) * y2) - f(f(0.5) * y2)) + 1);
  switch (q) {
    case 0: return [c, s];
    case 1: return [-s, c];
    case 2: return [-c, -s];
    default: return [s, -c];
  }
}

/** The pair (z[2p], z[2p+1]) for keys (k0, k1). */
export function normalPair(p: number, k0: number, k1: number): [number, number] {
  const a = hash32((2 * p) >>> 0, k0, k1);
  const b = hash32((2 * p + 1) >>> 0, k0, k1);
  const u1 = f(((a >>> 8) + 1) * U_SCALE);
  const l = logf(u1);
  const r2 = f(f(-2) * l);
  const r = f(Math.sqrt(r2 > 0 ? r2 : 0));
  const [cs, sn] = angleOf(b);
  return [f(r * cs), f(r * sn)];
}

/** Stream 2's outer key increment: w_i = fmix32(h + k1 + (i + 1)·QUAD_KEY_STEP). */
export const QUAD_KEY_STEP = 0x9e3779b9;

/**
 * Stream 2's four hash words of quad c: h = fmix32(c ^ k0), w_i = fmix32(h + k1 + (i + 1)·QUAD_KEY_STEP),
 * each two rounds like hash32. The offsets start at 1, not 0, so that no word is hash32(c, k0, k1), the
 * word of stream 1's counter c under the same keys: the two streams of one (seed, block) share no words.
 */
export function quadWords(c: number, k0: number, k1: number): [number, number, number, number] {
  const h = fmix32((c ^ k0) >>> 0);
  const w = (i: number) => fmix32((h + k1 + Math.imul(i + 1, QUAD_KEY_STEP)) >>> 0);
  return [w(0), w(1), w(2), w(3)];
}

/** Stream 2: the quad (z[4c], …, z[4c + 3]) for keys (k0, k1). */
export function normalQuad(c: number, k0: number, k1: number): [number, number, number, number] {
  const w = quadWords(c, k0, k1);
  const u = (x: number) => f(((x >>> 8) + 1) * U_SCALE); // (0, 1], exact
  const l = logfEstrin(f(u(w[0]) * u(w[1])));
  const r2 = f(f(-2) * l);
  const r = f(Math.sqrt(r2 > 0 ? r2 : 0));
  const t = u(w[2]);
  const ra = f(r * f(Math.sqrt(f(1 - t)))); // r·cos η
  const rb = f(r * f(Math.sqrt(t))); // r·sin η
  const v = ((w[0] << 24) | ((w[1] & 0xff) << 16) | ((w[2] & 0xff) << 8)) >>> 0;
  const [c1, s1] = angleOf(w[3]);
  const [c2, s2] = angleOf(v);
  return [f(ra * c1), f(ra * s1), f(rb * c2), f(rb * s2)];
}

/** The noise streams: 1 for trajectory format versions 1–3, 2 from version 4 (see the top of this file). */
export type NoiseStream = 1 | 2;
export const NOISE_STREAMS: readonly NoiseStream[] = [1, 2];

/** Check a stream argument; `where` names it in the one-line error. */
export function checkNoiseStream(stream: number, where = 'noise: stream'): NoiseStream {
  if (stream !== 1 && stream !== 2) throw new Error(`${where} must be 1 or 2, got ${stream}`);
  return stream;
}

/** z(k) of one stream under keys (k0, k1), sample by sample (the reference's slow, plain loop). */
function sampleRef(stream: NoiseStream, k: number, k0: number, k1: number): number {
  if (stream === 1) return normalPair(Math.floor(k / 2), k0, k1)[k & 1];
  return normalQuad(Math.floor(k / 4), k0, k1)[k & 3];
}

/** out[i] = z(seed, block, start + i) of `stream`: the scalar reference. */
export function normalFillRef(out: Float32Array, seed: number, block: number, start = 0, stream: NoiseStream = 1): void {
  checkNoiseStream(stream);
  const [k0, k1] = noiseKeys(seed, block);
  for (let i = 0; i < out.length; i++) out[i] = sampleRef(stream, start + i, k0, k1);
}

/** out[i] = f32(out[i] + f32(f32(coef) · z(seed, block, start + i))): the reference of normalAccumulate. */
export function normalAccumulateRef(out: Float32Array, seed: number, block: number, coef: number, start = 0, stream: NoiseStream = 1): void {
  checkNoiseStream(stream);
  const [k0, k1] = noiseKeys(seed, block);
  const a = f(coef);
  for (let i = 0; i < out.length; i++) out[i] = f(out[i] + f(a * sampleRef(stream, start + i, k0, k1)));
}
