// Fused kernels of the LLaMA model for tfjs's wasm backend, in AssemblyScript with wasm SIMD (`.as`
// keeps these files out of the TypeScript build). The module imports tfjs's own memory, so every
// pointer is a byte offset of a tfjs tensor (or of scratch malloc'd from tfjs's heap): no copies in or
// out. It holds no data segment and never grows the memory: nothing may use a lookup table (no
// Mathf.exp, no constant arrays). This is the entry; attention is in as-attention.as and
// as-attention-grad.as, the SIMD helpers in as-simd.as.
// Build: node libs/models/src/tfjs/kernels/build-kernels.mjs → llama-kernels.generated.ts.

import { exp4, f32At, hsum, i32At } from './as-simd';

export { attention, attentionScratch } from './as-attention';
export { attentionBackward, attentionBackwardScratch } from './as-attention-grad';

// ---- row gather (embedding lookup) ----

/** out[i] = table[ids[i]] for n rows of dim floats (ids already range-checked by the caller). */
export function gatherRows(table: usize, ids: usize, out: usize, n: i32, dim: i32): void {
  const bytes = <usize>dim << 2;
  for (let i = 0; i < n; i++) memory.copy(out + <usize>i * bytes, table + <usize>i32At(ids, i) * bytes, bytes);
}

// ---- 2-D transpose ----

/** out [cols, rows] = x [rows, cols]ᵀ, in 8 × 8 tiles (wider tiles thrash L1 sets when rows·4 is a multiple of 4 KiB). */
export function transpose2d(x: usize, out: usize, rows: i32, cols: i32): void {
  for (let r0 = 0; r0 < rows; r0 += 8) {
    const r1 = min(rows, r0 + 8);
    for (let c0 = 0; c0 < cols; c0 += 8) {
      const c1 = min(cols, c0 + 8);
      for (let r = r0; r < r1; r++) {
        const src = x + (<usize>(r * cols) << 2);
        for (let c = c0; c < c1; c++) store<f32>(out + (<usize>(c * rows + r) << 2), f32At(src, c));
      }
    }
  }
}

// ---- RMSNorm ----

/** out[r] = x[r] · rsqrt(mean(x[r]²) + eps) · w, for `rows` rows of `dim` floats. */
export function rmsnorm(x: usize, w: usize, out: usize, rows: i32, dim: i32, eps: f32): void {
  const d4 = dim & ~3;
  for (let r = 0; r < rows; r++) {
    const px = x + (<usize>(r * dim) << 2);
    const po = out + (<usize>(r * dim) << 2);
    let acc = f32x4.splat(0);
    for (let d = 0; d < d4; d += 4) {
      const v = v128.load(px + (<usize>d << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let ss = hsum(acc);
    for (let d = d4; d < dim; d++) ss += f32At(px, d) * f32At(px, d);
    const inv = <f32>1.0 / Mathf.sqrt(ss / <f32>dim + eps);
    const s = f32x4.splat(inv);
    for (let d = 0; d < d4; d += 4) {
      const o = (<usize>d << 2);
      v128.store(po + o, f32x4.mul(f32x4.mul(v128.load(px + o), s), v128.load(w + o)));
    }
    for (let d = d4; d < dim; d++) store<f32>(po + (<usize>d << 2), f32At(px, d) * inv * f32At(w, d));
  }
}

// ---- SwiGLU ----

/**
 * out[r, j] = silu(g[r, j]) · u[r, j] where g and u are rows of `gu` [rows, 2·hidden] (gate first,
 * then up), out [rows, hidden].
 */
export function swiglu(gu: usize, out: usize, rows: i32, hidden: i32): void {
  const h4 = hidden & ~3;
  const one = f32x4.splat(1);
  for (let r = 0; r < rows; r++) {
    const pg = gu + (<usize>(r * 2 * hidden) << 2);
    const pu = pg + (<usize>hidden << 2);
    const po = out + (<usize>(r * hidden) << 2);
    for (let j = 0; j < h4; j += 4) {
      const o = <usize>j << 2;
      const g = v128.load(pg + o);
      const sig = f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(g))));
      v128.store(po + o, f32x4.mul(f32x4.mul(g, sig), v128.load(pu + o)));
    }
    for (let j = h4; j < hidden; j++) {
      // the vector exp on one lane: Mathf.exp would bring a lookup table (a data segment) into tfjs's memory
      const g = f32At(pg, j);
      const e = f32x4.extract_lane(exp4(f32x4.splat(-g)), 0);
      store<f32>(po + (<usize>j << 2), (g / (<f32>1.0 + e)) * f32At(pu, j));
    }
  }
}
