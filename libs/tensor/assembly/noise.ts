// WebAssembly SIMD kernel of zotune's counter-based Gaussian noise (AssemblyScript).
// It computes exactly what ../src/noise-ref.ts specifies: run() stream 1, four pairs (eight samples) at a
// time; runQuad() stream 2, four quads (sixteen samples) at a time:
// the same integer hashing (i32x4.mul keeps the low 32 bits, as Math.imul does) and the same float32
// operations in the same order. Wasm SIMD has no fused multiply-add, and f32 +, -, *, sqrt are
// correctly rounded, so every lane matches the scalar reference bit for bit.
// Build: `npm run build:wasm -w @zotune/tensor` (scripts/build-noise-wasm.mjs) regenerates
// ../src/noise-wasm.generated.ts; a test checks that the committed bytes come from this source.

// float32 constants of noise-ref.ts, as bit patterns so that no decimal parsing can differ.
function c(bits: u32): v128 {
  return f32x4.splat(reinterpret<f32>(bits));
}

/** murmur3's 32-bit finaliser on four lanes. */
function fmix(h: v128): v128 {
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(0x85ebca6b));
  h = v128.xor(h, i32x4.shr_u(h, 13));
  h = i32x4.mul(h, i32x4.splat(0xc2b2ae35));
  return v128.xor(h, i32x4.shr_u(h, 16));
}

/** Keyed hash of four counters (hash32 of the reference). */
function hash(ctr: v128, k0: v128, k1: v128): v128 {
  return fmix(i32x4.add(fmix(v128.xor(ctr, k0)), k1));
}

/**
 * Cephes logf on four positive normal floats, as in the reference (logFrame): the polynomial by
 * Horner's rule (logf, stream 1) or in Estrin's order (logfEstrin, stream 2). `estrin` is a constant
 * at every call, so the inlined copies keep one branch each.
 */
@inline function logFrame(x: v128, estrin: bool): v128 {
  let e = i32x4.sub(v128.and(i32x4.shr_u(x, 23), i32x4.splat(0xff)), i32x4.splat(126));
  let m = v128.or(v128.and(x, i32x4.splat(0x7fffff)), i32x4.splat(0x3f000000)); // mantissa in [0.5, 1)
  const small = f32x4.lt(m, c(0x3f3504f3)); // m < SQRTHF: all ones
  e = i32x4.add(e, small); // e -= 1 where small
  // small: (m + m) - 1; else (m + 0) - 1 = m - 1, both exactly as the reference rounds them
  m = f32x4.sub(f32x4.add(m, v128.and(m, small)), c(0x3f800000));
  const ef = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(m, m);
  let p: v128;
  if (estrin) {
    const a0 = f32x4.add(f32x4.mul(c(0x3d9021bb), m), c(0xbdebd1b8));
    const a1 = f32x4.add(f32x4.mul(c(0x3def251a), m), c(0xbdfe5d4f));
    const a2 = f32x4.add(f32x4.mul(c(0x3e11e9bf), m), c(0xbe2aae50));
    const a3 = f32x4.add(f32x4.mul(c(0x3e4cceac), m), c(0xbe7ffffc));
    p = f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(a0, z), a1), f32x4.mul(z, z)), f32x4.add(f32x4.mul(a2, z), a3));
  } else {
    p = c(0x3d9021bb);
    p = f32x4.add(f32x4.mul(p, m), c(0xbdebd1b8));
    p = f32x4.add(f32x4.mul(p, m), c(0x3def251a));
    p = f32x4.add(f32x4.mul(p, m), c(0xbdfe5d4f));
    p = f32x4.add(f32x4.mul(p, m), c(0x3e11e9bf));
    p = f32x4.add(f32x4.mul(p, m), c(0xbe2aae50));
    p = f32x4.add(f32x4.mul(p, m), c(0x3e4cceac));
    p = f32x4.add(f32x4.mul(p, m), c(0xbe7ffffc));
  }
  p = f32x4.add(f32x4.mul(p, m), c(0x3eaaaaaa));
  let y = f32x4.mul(f32x4.mul(p, m), z);
  y = f32x4.add(y, f32x4.mul(c(0xb95e8083), ef)); // LOG_Q1 · e
  y = f32x4.sub(y, f32x4.mul(c(0x3f000000), z)); // 0.5 · z
  const r = f32x4.add(m, y);
  return f32x4.add(r, f32x4.mul(c(0x3f318000), ef)); // LOG_Q2 · e
}

// cossin's two results (a function returns one value): module globals, written then read at once
let COS: v128 = i32x4.splat(0);
let SIN: v128 = i32x4.splat(0);

/**
 * (COS, SIN) = (cos θ, sin θ) of four angle words b (angleOf of the reference): y in [-π/4, π/4) from
 * b's bits 8..29, the quadrant q = b >>> 30 applied by swapping and negating.
 */
@inline function cossin(b: v128): void {
  const yi = i32x4.sub(v128.and(i32x4.shr_u(b, 8), i32x4.splat(0x3fffff)), i32x4.splat(0x200000));
  const y = f32x4.mul(f32x4.convert_i32x4_s(yi), c(0x34c90fdb));
  const y2 = f32x4.mul(y, y);
  let s = f32x4.add(f32x4.mul(c(0xb94ca1f9), y2), c(0x3c08839e));
  s = f32x4.add(f32x4.mul(s, y2), c(0xbe2aaaa3));
  s = f32x4.add(f32x4.mul(f32x4.mul(s, y2), y), y);
  let k = f32x4.add(f32x4.mul(c(0x37ccf5ce), y2), c(0xbab6061a));
  k = f32x4.add(f32x4.mul(k, y2), c(0x3d2aaaa5));
  k = f32x4.mul(f32x4.mul(k, y2), y2);
  k = f32x4.add(f32x4.sub(k, f32x4.mul(c(0x3f000000), y2)), c(0x3f800000));
  // q = 0: (sin, cos) = (s, k); 1: (k, -s); 2: (-s, -k); 3: (-k, s). Negation flips the sign bit.
  const odd = i32x4.shr_s(i32x4.shl(b, 1), 31); // bit 30 of b: q is odd
  const signBit = i32x4.splat(0x80000000);
  SIN = v128.xor(v128.bitselect(k, s, odd), v128.and(b, signBit)); // negated when q >= 2
  COS = v128.xor(v128.bitselect(s, k, odd), v128.and(v128.xor(b, i32x4.shl(b, 1)), signBit)); // q = 1, 2
}

/** A uniform in (0, 1] from the top 24 bits of four words: ((w >>> 8) + 1)·2^-24, exact. */
function uniform(w: v128): v128 {
  return f32x4.mul(f32x4.convert_i32x4_s(i32x4.add(i32x4.shr_u(w, 8), i32x4.splat(1))), c(0x33800000));
}

/** The update of four samples at `at`: out = z, or out = out + coef·z. */
function put(at: usize, z: v128, coef: v128, acc: bool): void {
  if (acc) v128.store(at, f32x4.add(v128.load(at), f32x4.mul(coef, z)));
  else v128.store(at, z);
}

/**
 * Samples of pairs pair0 .. pair0 + 4·groups − 1 under keys (k0, k1), 8·groups floats at ptr
 * (16-byte aligned): out = z when acc is false, out = out + coef·z (rounded as the reference) when true.
 */
export function run(k0: u32, k1: u32, pair0: u32, groups: i32, ptr: usize, coef: f32, acc: bool): void {
  const K0 = i32x4.splat(k0);
  const K1 = i32x4.splat(k1);
  const coefv = f32x4.splat(coef);
  const one = i32x4.splat(1);
  let ctr = i32x4.add(i32x4.splat(pair0 << 1), i32x4(0, 2, 4, 6)); // even counters 2p (mod 2^32)
  for (let g = 0; g < groups; g++) {
    const a = hash(ctr, K0, K1);
    const b = hash(i32x4.add(ctr, one), K0, K1);
    ctr = i32x4.add(ctr, i32x4.splat(8));

    // radius: u1 = ((a >>> 8) + 1) · 2^-24 in (0, 1], r = sqrt(max'(-2 ln u1, 0))
    const u1 = uniform(a);
    const r2 = f32x4.mul(c(0xc0000000), logFrame(u1, false));
    const r = f32x4.sqrt(v128.and(r2, f32x4.gt(r2, f32x4.splat(0)))); // r2 > 0 ? r2 : +0

    // angle: θ = q·π/2 + y from b (cossin)
    cossin(b);
    const even = f32x4.mul(r, COS); // z[2p]
    const oddv = f32x4.mul(r, SIN); // z[2p + 1]
    const lo = i32x4.shuffle(even, oddv, 0, 4, 1, 5);
    const hi = i32x4.shuffle(even, oddv, 2, 6, 3, 7);
    const at = ptr + (<usize>g << 5);
    put(at, lo, coefv, acc);
    put(at + 16, hi, coefv, acc);
  }
}

/**
 * Stream 2: samples of quads quad0 .. quad0 + 4·groups − 1 under keys (k0, k1), 16·groups floats at ptr
 * (16-byte aligned), stored or accumulated as run() does. Lane i holds quad quad0 + 4g + i; a 4 × 4
 * transpose puts each quad's four samples side by side.
 */
export function runQuad(k0: u32, k1: u32, quad0: u32, groups: i32, ptr: usize, coef: f32, acc: bool): void {
  const K0 = i32x4.splat(k0);
  const Ka = i32x4.splat(k1 + 0x9e3779b9); // k1 + (i + 1)·0x9e3779b9, i = 0..3 (quadWords)
  const Kb = i32x4.splat(k1 + 0x3c6ef372);
  const Kc = i32x4.splat(k1 + 0xdaa66d2b);
  const Kd = i32x4.splat(k1 + 0x78dde6e4);
  const coefv = f32x4.splat(coef);
  const m8 = i32x4.splat(0xff);
  let ctr = i32x4.add(i32x4.splat(quad0), i32x4(0, 1, 2, 3));
  for (let g = 0; g < groups; g++) {
    const h = fmix(v128.xor(ctr, K0));
    ctr = i32x4.add(ctr, i32x4.splat(4));
    const w0 = fmix(i32x4.add(h, Ka));
    const w1 = fmix(i32x4.add(h, Kb));
    const w2 = fmix(i32x4.add(h, Kc));
    const w3 = fmix(i32x4.add(h, Kd));
    // radius r = sqrt(max'(-2 ln(u1·u2), 0)) (χ²₄), split by t between the two planes
    const r2 = f32x4.mul(c(0xc0000000), logFrame(f32x4.mul(uniform(w0), uniform(w1)), true));
    const r = f32x4.sqrt(v128.and(r2, f32x4.gt(r2, f32x4.splat(0))));
    const t = uniform(w2);
    const ra = f32x4.mul(r, f32x4.sqrt(f32x4.sub(c(0x3f800000), t))); // r·cos η
    const rb = f32x4.mul(r, f32x4.sqrt(t)); // r·sin η
    cossin(w3);
    const x0 = f32x4.mul(ra, COS);
    const x1 = f32x4.mul(ra, SIN);
    cossin(v128.or(v128.or(i32x4.shl(w0, 24), i32x4.shl(v128.and(w1, m8), 16)), i32x4.shl(v128.and(w2, m8), 8)));
    const x2 = f32x4.mul(rb, COS);
    const x3 = f32x4.mul(rb, SIN);
    // transpose: row i = the quad of lane i, (x0, x1, x2, x3)[i]
    const t0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5);
    const t1 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
    const t2 = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
    const t3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
    const at = ptr + (<usize>g << 6);
    put(at, i32x4.shuffle(t0, t1, 0, 1, 4, 5), coefv, acc);
    put(at + 16, i32x4.shuffle(t0, t1, 2, 3, 6, 7), coefv, acc);
    put(at + 32, i32x4.shuffle(t2, t3, 0, 1, 4, 5), coefv, acc);
    put(at + 48, i32x4.shuffle(t2, t3, 2, 3, 6, 7), coefv, acc);
  }
}

/**
 * The weight update of applyNoise on n floats, in place at s: s = f32(keep · w) (mode 1), f32(w + s)
 * (mode 2) or f32(f32(keep · w) + s) (mode 3). Lane-wise IEEE float32 ·, + as tfjs's mul and add
 * compute them, so the result is bit-identical.
 */
export function combine(w: usize, s: usize, n: i32, keep: f32, mode: i32): void {
  const k = f32x4.splat(keep);
  const n4 = n & ~3;
  let i = 0;
  if (mode == 1) {
    for (; i < n4; i += 4) v128.store(s + (<usize>i << 2), f32x4.mul(k, v128.load(w + (<usize>i << 2))));
    for (; i < n; i++) store<f32>(s + (<usize>i << 2), keep * load<f32>(w + (<usize>i << 2)));
  } else if (mode == 2) {
    for (; i < n4; i += 4) {
      const at = <usize>i << 2;
      v128.store(s + at, f32x4.add(v128.load(w + at), v128.load(s + at)));
    }
    for (; i < n; i++) store<f32>(s + (<usize>i << 2), load<f32>(w + (<usize>i << 2)) + load<f32>(s + (<usize>i << 2)));
  } else if (mode == 3) {
    for (; i < n4; i += 4) {
      const at = <usize>i << 2;
      v128.store(s + at, f32x4.add(f32x4.mul(k, v128.load(w + at)), v128.load(s + at)));
    }
    for (; i < n; i++) store<f32>(s + (<usize>i << 2), keep * load<f32>(w + (<usize>i << 2)) + load<f32>(s + (<usize>i << 2)));
  }
}

/** First free byte after the module's static data: the JS side puts its buffer there. */
export function heapBase(): usize {
  return __heap_base;
}
