// SIMD helpers shared by the LLaMA kernels (AssemblyScript; see llama-kernels.as).
// Nothing here may bring a data segment: no Mathf.exp (lookup tables), no constant arrays.

/** Sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/** exp on four lanes: Cephes expf (range reduction by ln 2, degree-6 polynomial), ~1 ulp. */
@inline export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.33654)), f32x4.splat(88.37626));
  const fx = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(0.693359375)));
  r = f32x4.add(r, f32x4.mul(fx, f32x4.splat(2.12194440e-4)));
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, r), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.mul(f32x4.mul(y, r), r), f32x4.add(r, f32x4.splat(1.0)));
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(fx), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2);
}

@inline export function f32At(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

@inline export function i32At(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2));
}


/** Lanes j0..j0+3 that query i (segment si) may attend: j <= i, not padding, prompt or own segment. */
@inline export function allowed4(sg: usize, j0: i32, lane: v128, iv: v128, siv: v128): v128 {
  const sj = v128.load(sg + (<usize>j0 << 2));
  const jv = i32x4.add(i32x4.splat(j0), lane);
  return v128.and(
    v128.and(i32x4.le_s(jv, iv), i32x4.ne(sj, i32x4.splat(-1))),
    v128.or(i32x4.eq(sj, i32x4.splat(0)), i32x4.eq(sj, siv)),
  );
}

/**
 * Scratch bytes the attention kernel needs for rows of length T and head dim hd:
 * K of one kv head, rotated and transposed [hd, Tp]; the query splatted [hd] v128; scores [Tp];
 * segments of the row [Tp].

/** x·cos + x[partner]·sinSigned at table row p (the forward rotation), one element. */
@inline export function rot1(src: usize, d: i32, half: i32, cosT: usize, sinT: usize, p: i32): f32 {
  const partner = d < half ? d + half : d - half;
  return f32At(src, d) * f32At(cosT, p + d) + f32At(src, partner) * f32At(sinT, p + d);
}

/** The transpose of rot1 (gradient of the rotation): g·cos − g[partner]·sinSigned. */
@inline export function unrot1(g: usize, d: i32, half: i32, cosT: usize, sinT: usize, p: i32): f32 {
  const partner = d < half ? d + half : d - half;
  return f32At(g, d) * f32At(cosT, p + d) - f32At(g, partner) * f32At(sinT, p + d);
}
