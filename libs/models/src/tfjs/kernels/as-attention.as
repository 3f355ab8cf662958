// Grouped-query attention with RoPE over a packed batch: the forward kernel (AssemblyScript; see
// llama-kernels.as). Pointers are byte offsets into tfjs's memory.
import { allowed4, exp4, f32At, hmax, hsum, i32At } from './as-simd';

/**
 * Scratch bytes the attention kernel needs for rows of length T and head dim hd:
 * K of one kv head, rotated and transposed [hd, Tp]; the query splatted [hd] v128; scores [Tp];
 * segments of the row [Tp].
 */
export function attentionScratch(T: i32, hd: i32): i32 {
  const Tp = (T + 3) & ~3;
  return (hd * Tp + hd * 4 + Tp + Tp) * 4 + 16;
}

/**
 * Grouped-query attention with RoPE, for a packed batch, one (row, kv head) at a time.
 *   qkv [B·T, (nh + 2·nkv)·hd]: the fused projection, before RoPE (q heads, then k heads, then v heads)
 *   pos, seg [B·T] int32: RoPE positions and segments (-1 padding, 0 prompt, c + 1 candidate c)
 *   cosT, sinT [maxSeq, hd]: rotate_half tables (sinT signed: -sin then +sin)
 *   need [B·T] int32 or 0: when given, only queries with need[r] != 0 are computed
 *   out [B·T, nh·hd]; padding (and unneeded) queries get zeros.
 * Query i attends key j iff j <= i, seg[j] != -1 and (seg[j] == 0 or seg[j] == seg[i]).
 */
export function attention(
  qkv: usize, pos: usize, seg: usize, cosT: usize, sinT: usize, out: usize, scratch: usize,
  B: i32, T: i32, nh: i32, nkv: i32, hd: i32, scale: f32, need: usize,
): void {
  const Tp = (T + 3) & ~3;
  const half = hd >> 1;
  const g = nh / nkv;
  const stride = (nh + 2 * nkv) * hd;
  const hd4 = hd & ~3;
  // scratch layout (16-byte aligned)
  const kt: usize = (scratch + 15) & ~(<usize>15);
  const qs: usize = kt + (<usize>(hd * Tp) << 2); // hd v128 splats
  const sc: usize = qs + (<usize>(hd * 4) << 2); // scores / probabilities [Tp]
  const sg: usize = sc + (<usize>Tp << 2); // segments of the row [Tp]
  const lane = i32x4(0, 1, 2, 3);
  const negInf = f32x4.splat(-Infinity);
  for (let b = 0; b < B; b++) {
    const row0 = b * T;
    for (let j = 0; j < Tp; j++) store<i32>(sg + (<usize>j << 2), j < T ? i32At(seg, row0 + j) : -1);
    for (let kv = 0; kv < nkv; kv++) {
      // rotate this kv head's keys into kt, transposed: kt[d·Tp + j]
      for (let j = 0; j < Tp; j++) {
        if (j >= T) {
          for (let d = 0; d < hd; d++) store<f32>(kt + (<usize>(d * Tp + j) << 2), 0);
          continue;
        }
        const src = qkv + (<usize>((row0 + j) * stride + (nh + kv) * hd) << 2);
        const p = i32At(pos, row0 + j) * hd;
        for (let d = 0; d < hd; d++) {
          const partner = d < half ? d + half : d - half;
          const v = f32At(src, d) * f32At(cosT, p + d) + f32At(src, partner) * f32At(sinT, p + d);
          store<f32>(kt + (<usize>(d * Tp + j) << 2), v);
        }
      }
      const vbase = qkv + (<usize>((nh + nkv + kv) * hd) << 2);
      for (let hh = 0; hh < g; hh++) {
        const h = kv * g + hh;
        for (let i = 0; i < T; i++) {
          const si = i32At(sg, i);
          const po = out + (<usize>((row0 + i) * nh * hd + h * hd) << 2);
          if (si == -1 || (need != 0 && i32At(need, row0 + i) == 0)) {
            for (let d = 0; d < hd; d++) store<f32>(po + (<usize>d << 2), 0);
            continue;
          }
          // rotated, scaled query, splatted once for the dot products
          const src = qkv + (<usize>((row0 + i) * stride + h * hd) << 2);
          const p = i32At(pos, row0 + i) * hd;
          for (let d = 0; d < hd; d++) {
            const partner = d < half ? d + half : d - half;
            const v = (f32At(src, d) * f32At(cosT, p + d) + f32At(src, partner) * f32At(sinT, p + d)) * scale;
            v128.store(qs + (<usize>d << 4), f32x4.splat(v));
          }
          // scores of keys 0..i, eight then four at a time; masked lanes = -inf
          const n4 = (i + 4) & ~3;
          const iv = i32x4.splat(i);
          const siv = i32x4.splat(si);
          let mx = negInf;
          let j0 = 0;
          for (; j0 + 8 <= n4; j0 += 8) {
            // two key chunks and even/odd d: four independent accumulation chains
            let a0 = f32x4.splat(0);
            let a1 = f32x4.splat(0);
            let b0 = f32x4.splat(0);
            let b1 = f32x4.splat(0);
            let d = 0;
            for (; d + 2 <= hd; d += 2) {
              const q0 = v128.load(qs + (<usize>d << 4));
              const q1 = v128.load(qs + (<usize>d << 4), 16);
              const k0 = kt + (<usize>(d * Tp + j0) << 2);
              const k1 = k0 + (<usize>Tp << 2);
              a0 = f32x4.add(a0, f32x4.mul(q0, v128.load(k0)));
              a1 = f32x4.add(a1, f32x4.mul(q0, v128.load(k0, 16)));
              b0 = f32x4.add(b0, f32x4.mul(q1, v128.load(k1)));
              b1 = f32x4.add(b1, f32x4.mul(q1, v128.load(k1, 16)));
            }
            a0 = f32x4.add(a0, b0);
            a1 = f32x4.add(a1, b1);
            a0 = v128.bitselect(a0, negInf, allowed4(sg, j0, lane, iv, siv));
            a1 = v128.bitselect(a1, negInf, allowed4(sg, j0 + 4, lane, iv, siv));
            v128.store(sc + (<usize>j0 << 2), a0);
            v128.store(sc + (<usize>j0 << 2), a1, 16);
            mx = f32x4.max(mx, f32x4.max(a0, a1));
          }
          for (; j0 < n4; j0 += 4) {
            let acc = f32x4.splat(0);
            for (let d = 0; d < hd; d++) {
              acc = f32x4.add(acc, f32x4.mul(v128.load(qs + (<usize>d << 4)), v128.load(kt + (<usize>(d * Tp + j0) << 2))));
            }
            acc = v128.bitselect(acc, negInf, allowed4(sg, j0, lane, iv, siv));
            v128.store(sc + (<usize>j0 << 2), acc);
            mx = f32x4.max(mx, acc);
          }
          const m = f32x4.splat(hmax(mx));
          let sum = f32x4.splat(0);
          for (let j = 0; j < n4; j += 4) {
            const s = v128.load(sc + (<usize>j << 2));
            const e = v128.and(exp4(f32x4.sub(s, m)), f32x4.gt(s, negInf));
            v128.store(sc + (<usize>j << 2), e);
            sum = f32x4.add(sum, e);
          }
          const inv = f32x4.splat(<f32>1.0 / hsum(sum));
          // out = Σ_j p_j · v_j / Σ p, several output chunks per pass over the keys
          const vstep = <usize>stride << 2;
          const v0 = vbase + (<usize>(row0 * stride) << 2);
          let d0 = 0;
          for (; d0 + 16 <= hd4; d0 += 16) {
            let a0 = f32x4.splat(0);
            let a1 = f32x4.splat(0);
            let a2 = f32x4.splat(0);
            let a3 = f32x4.splat(0);
            let pv = v0 + (<usize>d0 << 2);
            for (let j = 0; j <= i; j++) {
              const pj = f32x4.splat(f32At(sc, j));
              a0 = f32x4.add(a0, f32x4.mul(pj, v128.load(pv)));
              a1 = f32x4.add(a1, f32x4.mul(pj, v128.load(pv, 16)));
              a2 = f32x4.add(a2, f32x4.mul(pj, v128.load(pv, 32)));
              a3 = f32x4.add(a3, f32x4.mul(pj, v128.load(pv, 48)));
              pv += vstep;
            }
            const o = po + (<usize>d0 << 2);
            v128.store(o, f32x4.mul(a0, inv));
            v128.store(o, f32x4.mul(a1, inv), 16);
            v128.store(o, f32x4.mul(a2, inv), 32);
            v128.store(o, f32x4.mul(a3, inv), 48);
          }
          for (; d0 + 8 <= hd4; d0 += 8) {
            // two output chunks, keys two at a time: four chains
            let a0 = f32x4.splat(0);
            let a1 = f32x4.splat(0);
            let b0 = f32x4.splat(0);
            let b1 = f32x4.splat(0);
            let pv = v0 + (<usize>d0 << 2);
            let j = 0;
            for (; j + 1 <= i; j += 2) {
              const p0 = f32x4.splat(f32At(sc, j));
              const p1 = f32x4.splat(f32At(sc, j + 1));
              a0 = f32x4.add(a0, f32x4.mul(p0, v128.load(pv)));
              a1 = f32x4.add(a1, f32x4.mul(p0, v128.load(pv, 16)));
              b0 = f32x4.add(b0, f32x4.mul(p1, v128.load(pv + vstep)));
              b1 = f32x4.add(b1, f32x4.mul(p1, v128.load(pv + vstep, 16)));
              pv += vstep << 1;
            }
            if (j == i) {
              const p0 = f32x4.splat(f32At(sc, j));
              a0 = f32x4.add(a0, f32x4.mul(p0, v128.load(pv)));
              a1 = f32x4.add(a1, f32x4.mul(p0, v128.load(pv, 16)));
            }
            const o = po + (<usize>d0 << 2);
            v128.store(o, f32x4.mul(f32x4.add(a0, b0), inv));
            v128.store(o, f32x4.mul(f32x4.add(a1, b1), inv), 16);
          }
          for (; d0 < hd4; d0 += 4) {
            let acc = f32x4.splat(0);
            let pv = v0 + (<usize>d0 << 2);
            for (let j = 0; j <= i; j++) {
              acc = f32x4.add(acc, f32x4.mul(f32x4.splat(f32At(sc, j)), v128.load(pv)));
              pv += vstep;
            }
            v128.store(po + (<usize>d0 << 2), f32x4.mul(acc, inv));
          }
          const invs = f32x4.extract_lane(inv, 0);
          for (let d = hd4; d < hd; d++) {
            let acc: f32 = 0;
            for (let j = 0; j <= i; j++) acc += f32At(sc, j) * f32At(vbase, (row0 + j) * stride + d);
            store<f32>(po + (<usize>d << 2), acc * invs);
          }
        }
      }
    }
  }
}
