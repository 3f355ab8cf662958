// The gradient of the attention kernel with respect to its qkv input (AssemblyScript; see
// llama-kernels.as). It recomputes the probabilities: the forward saves nothing.
import { allowed4, exp4, f32At, hmax, hsum, i32At, rot1, unrot1 } from './as-simd';

/** Scratch bytes of attentionBackward: Kt, Vt [hd, Tp]; Kr, dK, dV [Tp, hd]; 3 × hd v128; p, dS, segments [Tp]. */
export function attentionBackwardScratch(T: i32, hd: i32): i32 {
  const Tp = (T + 3) & ~3;
  return (2 * hd * Tp + 3 * Tp * hd + 3 * hd * 4 + 3 * Tp) * 4 + 16;
}

/**
 * Gradient of attention() with respect to its qkv input: dqkv [B·T, (nh + 2·nkv)·hd] from
 * dout [B·T, nh·hd]. Recomputes the probabilities (nothing is saved by the forward). Every element of
 * dqkv is written (padding rows get zeros); `need` as in attention().
 */
export function attentionBackward(
  qkv: usize, pos: usize, seg: usize, cosT: usize, sinT: usize, dout: usize, dqkv: usize, scratch: usize,
  B: i32, T: i32, nh: i32, nkv: i32, hd: i32, scale: f32, need: usize,
): void {
  const Tp = (T + 3) & ~3;
  const half = hd >> 1;
  const g = nh / nkv;
  const stride = (nh + 2 * nkv) * hd;
  const hd4 = hd & ~3;
  const kt: usize = (scratch + 15) & ~(<usize>15);
  const vt: usize = kt + (<usize>(hd * Tp) << 2);
  const kr: usize = vt + (<usize>(hd * Tp) << 2); // rotated keys, rows [Tp][hd]
  const dk: usize = kr + (<usize>(Tp * hd) << 2); // ∂/∂(rotated key) rows
  const dv: usize = dk + (<usize>(Tp * hd) << 2);
  const qs: usize = dv + (<usize>(Tp * hd) << 2); // rotated scaled query, splatted [hd] v128
  const ds: usize = qs + (<usize>(hd * 4) << 2); // dout row, splatted [hd] v128
  const tmp: usize = ds + (<usize>(hd * 4) << 2); // rotated scaled query [hd], then dq before un-rotation
  const pr: usize = tmp + (<usize>(hd * 4) << 2); // probabilities [Tp]
  const dsc: usize = pr + (<usize>Tp << 2); // dP, then dS [Tp]
  const sg: usize = dsc + (<usize>Tp << 2);
  const lane = i32x4(0, 1, 2, 3);
  const negInf = f32x4.splat(-Infinity);
  for (let b = 0; b < B; b++) {
    const row0 = b * T;
    for (let j = 0; j < Tp; j++) store<i32>(sg + (<usize>j << 2), j < T ? i32At(seg, row0 + j) : -1);
    for (let kv = 0; kv < nkv; kv++) {
      for (let j = 0; j < Tp; j++) {
        const inRow = j < T;
        const ksrc = qkv + (<usize>((row0 + (inRow ? j : 0)) * stride + (nh + kv) * hd) << 2);
        const vsrc = ksrc + (<usize>(nkv * hd) << 2);
        const p = inRow ? i32At(pos, row0 + j) * hd : 0;
        for (let d = 0; d < hd; d++) {
          const k = inRow ? rot1(ksrc, d, half, cosT, sinT, p) : <f32>0;
          store<f32>(kt + (<usize>(d * Tp + j) << 2), k);
          store<f32>(kr + (<usize>(j * hd + d) << 2), k);
          store<f32>(vt + (<usize>(d * Tp + j) << 2), inRow ? f32At(vsrc, d) : <f32>0);
          store<f32>(dk + (<usize>(j * hd + d) << 2), 0);
          store<f32>(dv + (<usize>(j * hd + d) << 2), 0);
        }
      }
      for (let hh = 0; hh < g; hh++) {
        const h = kv * g + hh;
        for (let i = 0; i < T; i++) {
          const si = i32At(sg, i);
          const dqo = dqkv + (<usize>((row0 + i) * stride + h * hd) << 2);
          if (si == -1 || (need != 0 && i32At(need, row0 + i) == 0)) {
            for (let d = 0; d < hd; d++) store<f32>(dqo + (<usize>d << 2), 0);
            continue;
          }
          const src = qkv + (<usize>((row0 + i) * stride + h * hd) << 2);
          const doi = dout + (<usize>((row0 + i) * nh * hd + h * hd) << 2);
          const p = i32At(pos, row0 + i) * hd;
          for (let d = 0; d < hd; d++) {
            const q = rot1(src, d, half, cosT, sinT, p) * scale;
            store<f32>(tmp + (<usize>d << 2), q);
            v128.store(qs + (<usize>d << 4), f32x4.splat(q));
            v128.store(ds + (<usize>d << 4), f32x4.splat(f32At(doi, d)));
          }
          // probabilities (as in the forward) and dP = dO · v_j
          const n4 = (i + 4) & ~3;
          const iv = i32x4.splat(i);
          const siv = i32x4.splat(si);
          let mx = negInf;
          for (let j0 = 0; j0 < n4; j0 += 4) {
            let s = f32x4.splat(0);
            let dp = f32x4.splat(0);
            for (let d = 0; d < hd; d++) {
              const o = <usize>(d * Tp + j0) << 2;
              s = f32x4.add(s, f32x4.mul(v128.load(qs + (<usize>d << 4)), v128.load(kt + o)));
              dp = f32x4.add(dp, f32x4.mul(v128.load(ds + (<usize>d << 4)), v128.load(vt + o)));
            }
            s = v128.bitselect(s, negInf, allowed4(sg, j0, lane, iv, siv));
            v128.store(pr + (<usize>j0 << 2), s);
            v128.store(dsc + (<usize>j0 << 2), dp);
            mx = f32x4.max(mx, s);
          }
          const m = f32x4.splat(hmax(mx));
          let sum = f32x4.splat(0);
          for (let j0 = 0; j0 < n4; j0 += 4) {
            const s = v128.load(pr + (<usize>j0 << 2));
            const e = v128.and(exp4(f32x4.sub(s, m)), f32x4.gt(s, negInf));
            v128.store(pr + (<usize>j0 << 2), e);
            sum = f32x4.add(sum, e);
          }
          const inv = f32x4.splat(<f32>1.0 / hsum(sum));
          // normalise p; D = Σ p·dP; dS = p·(dP − D)
          let dd = f32x4.splat(0);
          for (let j0 = 0; j0 < n4; j0 += 4) {
            const pj = f32x4.mul(v128.load(pr + (<usize>j0 << 2)), inv);
            v128.store(pr + (<usize>j0 << 2), pj);
            dd = f32x4.add(dd, f32x4.mul(pj, v128.load(dsc + (<usize>j0 << 2))));
          }
          const D = f32x4.splat(hsum(dd));
          for (let j0 = 0; j0 < n4; j0 += 4) {
            const o = <usize>j0 << 2;
            v128.store(dsc + o, f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(dsc + o), D)));
          }
          // dq̂ = Σ_j dS_j k̂_j; dk̂_j += dS_j q̂; dv_j += p_j dO (vectors over d)
          for (let d0 = 0; d0 < hd4; d0 += 4) {
            const od = <usize>d0 << 2;
            const qv = v128.load(tmp + od);
            const dov = v128.load(doi + od);
            let acc = f32x4.splat(0);
            for (let j = 0; j <= i; j++) {
              const rj = <usize>(j * hd) << 2;
              const sj = f32x4.splat(f32At(dsc, j));
              acc = f32x4.add(acc, f32x4.mul(sj, v128.load(kr + rj + od)));
              v128.store(dk + rj + od, f32x4.add(v128.load(dk + rj + od), f32x4.mul(sj, qv)));
              v128.store(dv + rj + od, f32x4.add(v128.load(dv + rj + od), f32x4.mul(f32x4.splat(f32At(pr, j)), dov)));
            }
            v128.store(qs + od, acc); // qs is free now: it holds dq̂ before un-rotation
          }
          for (let d = hd4; d < hd; d++) {
            const qd = f32At(tmp, d);
            const dod = f32At(doi, d);
            let acc: f32 = 0;
            for (let j = 0; j <= i; j++) {
              const r = <usize>(j * hd + d) << 2;
              const sj = f32At(dsc, j);
              acc += sj * load<f32>(kr + r);
              store<f32>(dk + r, load<f32>(dk + r) + sj * qd);
              store<f32>(dv + r, load<f32>(dv + r) + f32At(pr, j) * dod);
            }
            store<f32>(qs + (<usize>d << 2), acc);
          }
          // ∂q = scale · Rᵀ dq̂
          for (let d = 0; d < hd; d++) store<f32>(dqo + (<usize>d << 2), unrot1(qs, d, half, cosT, sinT, p) * scale);
        }
      }
      // ∂k_j = Rᵀ dk̂_j, ∂v_j = dv_j
      for (let j = 0; j < T; j++) {
        const dko = dqkv + (<usize>((row0 + j) * stride + (nh + kv) * hd) << 2);
        const dvo = dko + (<usize>(nkv * hd) << 2);
        const p = i32At(pos, row0 + j) * hd;
        const rj = dk + (<usize>(j * hd) << 2);
        for (let d = 0; d < hd; d++) {
          store<f32>(dko + (<usize>d << 2), unrot1(rj, d, half, cosT, sinT, p));
          store<f32>(dvo + (<usize>d << 2), f32At(dv, j * hd + d));
        }
      }
    }
  }
}
