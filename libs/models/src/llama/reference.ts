// A slow, obviously-correct float64 forward pass over a checkpoint in HF layout: the oracle the tests
// compare the tfjs model against. One sequence at a time, plain loops, no tfjs.
import type { Checkpoint } from '../checkpoint';
import { EMBED_NAME, FINAL_NORM_NAME, LM_HEAD_NAME, layerPrefix } from './names';

/**
 * Logits [T][V] of one row. `positions[t]` is the RoPE position of token t; `allowed(i, j)` says whether
 * query i may attend key j (default causal).
 */
export function referenceLogits(
  ckpt: Checkpoint,
  tokens: number[],
  positions: number[] = tokens.map((_, i) => i),
  allowed: (i: number, j: number) => boolean = (i, j) => j <= i,
  /** sees each layer's keys (after RoPE) and values, [T][nkv·hd] (prefix tuning's KV-cache test) */
  capture?: (layer: number, keys: number[][], values: number[][]) => void,
): number[][] {
  const c = ckpt.config;
  const hd = c.dim / c.nHeads;
  const g = c.nHeads / c.nKvHeads;
  const W = (name: string) => {
    const t = ckpt.tensors.get(name);
    if (!t) throw new Error(`reference: missing ${name}`);
    return t;
  };
  // y = W x for W [out, in] (HF layout), plus the optional bias
  const lin = (name: string, x: number[]): number[] => {
    const w = W(`${name}.weight`);
    const [out, inp] = w.shape;
    const bias = ckpt.tensors.get(`${name}.bias`);
    const y = new Array<number>(out).fill(0);
    for (let o = 0; o < out; o++) {
      let s = bias ? bias.data[o] : 0;
      for (let i = 0; i < inp; i++) s += w.data[o * inp + i] * x[i];
      y[o] = s;
    }
    return y;
  };
  const norm = (x: number[], name: string) => {
    const w = W(name).data;
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    const r = 1 / Math.sqrt(ms + c.normEps);
    return x.map((v, i) => v * r * w[i]);
  };
  const rope = (v: number[], heads: number, pos: number) => {
    const out = v.slice();
    const half = hd / 2;
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const a = pos * Math.pow(c.ropeTheta, (-2 * i) / hd);
        const x1 = v[h * hd + i];
        const x2 = v[h * hd + i + half];
        out[h * hd + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
        out[h * hd + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
      }
    return out;
  };
  const emb = W(EMBED_NAME).data;
  let xs = tokens.map((t) => Array.from(emb.subarray(t * c.dim, (t + 1) * c.dim)));
  const T = tokens.length;
  for (let l = 0; l < c.nLayers; l++) {
    const p = layerPrefix(l);
    const hs = xs.map((x) => norm(x, `${p}.input_layernorm.weight`));
    const q = hs.map((h, t) => rope(lin(`${p}.self_attn.q_proj`, h), c.nHeads, positions[t]));
    const k = hs.map((h, t) => rope(lin(`${p}.self_attn.k_proj`, h), c.nKvHeads, positions[t]));
    const v = hs.map((h) => lin(`${p}.self_attn.v_proj`, h));
    capture?.(l, k, v);
    const att = xs.map(() => new Array<number>(c.nHeads * hd).fill(0));
    for (let i = 0; i < T; i++)
      for (let h = 0; h < c.nHeads; h++) {
        const kv = Math.floor(h / g);
        const js: number[] = [];
        const sc: number[] = [];
        for (let j = 0; j < T; j++) {
          if (!allowed(i, j)) continue;
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[i][h * hd + d] * k[j][kv * hd + d];
          js.push(j);
          sc.push(s / Math.sqrt(hd));
        }
        const m = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        js.forEach((j, n) => {
          for (let d = 0; d < hd; d++) att[i][h * hd + d] += (e[n] / z) * v[j][kv * hd + d];
        });
      }
    xs = xs.map((x, t) => {
      const o = lin(`${p}.self_attn.o_proj`, att[t]);
      const x1 = x.map((val, i) => val + o[i]);
      const h2 = norm(x1, `${p}.post_attention_layernorm.weight`);
      const gate = lin(`${p}.mlp.gate_proj`, h2);
      const up = lin(`${p}.mlp.up_proj`, h2);
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]);
      const d = lin(`${p}.mlp.down_proj`, act);
      return x1.map((val, i) => val + d[i]);
    });
  }
  const head = c.tiedEmbeddings ? W(EMBED_NAME) : W(LM_HEAD_NAME);
  return xs.map((x) => {
    const h = norm(x, FINAL_NORM_NAME);
    const out = new Array<number>(c.vocabSize).fill(0);
    for (let o = 0; o < c.vocabSize; o++) {
      let s = 0;
      for (let i = 0; i < c.dim; i++) s += head.data[o * c.dim + i] * h[i];
      out[o] = s;
    }
    return out;
  });
}

/** log-softmax of one logits row, in float64. */
export function logSoftmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const z = Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) + m;
  return row.map((v) => v - z);
}
