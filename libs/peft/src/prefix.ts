// Prefix tuning under ZO (Li & Liang 2021, as MeZO runs it): per layer, P trainable keys and values
// [P, nKvHeads·headDim] that every position attends to besides the causal keys. The only model
// change is the attention's optional prefix (Model.setPrefix, one place per engine).
//
// Positions: the tokens keep theirs (0, 1, …) and the prefix keys get no RoPE: they stand for keys
// already rotated, as in a KV cache. HF's past_key_values prefix shifts the tokens to P, P+1, …
// instead; since RoPE is a rotation, that is the same model with the prefix keys rotated by a fixed
// orthogonal map, and an orthogonal map leaves N(0, I) perturbations N(0, I): ZO behaves the same.
//
// Init from real tokens (MeZO's init_by_real_act): P token ids drawn from the recorded seed, and each
// layer's prefix = the keys and values those tokens have in the base model when they come right
// before the input, i.e. at positions −P … −1 (RoPE of a negative position is the inverse
// rotation): HF's past_key_values of a P-token random text, in our positions. LLaMA computes them
// with the tfjs forward of a copy of the model's weights (TfjsModel.prefixKeysValues; a few tokens,
// whichever engine runs the model). The other
// families (walked through their Arch) get each layer's key and value projections (their own
// linears, or their columns of GPT-2's fused c_attn) of the tokens' embeddings after the layer's
// input norm when the family norms first (the layer's input approximated by the embedding).
import { archOf, blockValues, createTfjsModel, type Model, type AttentionPrefix, type Block } from '@zotune/models';
import { deriveSeed } from '@zotune/tensor';
import { adapterBlock, adapterParts, type Adapter, type FileLayout } from './adapter';
import type { PrefixConfig } from './config';

/** The init's P token ids in [0, vocab), from the seed. */
export function prefixInitTokens(seed: number, tokens: number, vocab: number): number[] {
  return Array.from({ length: tokens }, (_, i) => deriveSeed(seed, i) % vocab);
}

/** y [P, out] = x [P, in] · W [in, out] (+ bias [out]). */
function project(x: Float64Array, P: number, din: number, w: Float32Array, dout: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(P * dout);
  const acc = new Float64Array(dout);
  for (let p = 0; p < P; p++) {
    if (bias) for (let o = 0; o < dout; o++) acc[o] = bias[o];
    else acc.fill(0);
    for (let i = 0; i < din; i++) {
      const xi = x[p * din + i];
      for (let o = 0; o < dout; o++) acc[o] += xi * w[i * dout + o];
    }
    y.set(acc, p * dout);
  }
  return y;
}

/** Columns [from, from + n) of a row-major [rows, cols] matrix. */
function columns(w: Float32Array, rows: number, cols: number, from: number, n: number): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) out.set(w.subarray(r * cols + from, r * cols + from + n), r * n);
  return out;
}

export function createPrefix(model: Model, config: PrefixConfig): Adapter {
  if (typeof model.setPrefix !== 'function') throw new Error(`the ${model.family} model has no prefix support in its attention`);
  const P = config.tokens;
  const byName = new Map(model.blocks.map((b) => [b.name, b]));
  const arch = archOf(model.config, (name) => byName.has(name));
  const { nHeads, nKvHeads, normEps, dim } = model.config;
  const hd = dim / nHeads;
  const embed = byName.get(arch.embed)!;
  const vocab = embed.shape[0];
  const ids = prefixInitTokens(config.initSeed, P, vocab);
  const table = blockValues(embed);
  const values_ = (name: string | undefined) => (name ? blockValues(byName.get(name)!) : undefined);

  const blocks: Block[] = [];
  const layout: FileLayout[] = [];
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  // LLaMA: the real keys and values of the tokens at positions −P … −1 ([layer] → [P, nkv·hd])
  let real: { keys: Float32Array[]; values: Float32Array[] } = { keys: [], values: [] };
  if (model.family === 'llama') {
    const copy = createTfjsModel(model.toCheckpoint());
    try {
      real = copy.prefixKeysValues(ids);
    } finally {
      copy.dispose();
    }
  }
  for (const [l, layer] of arch.layers.entries()) {
    // the attention module's name: model.layers.3.self_attn. / transformer.h.3.attn.
    const attn = layer.qkv[layer.qkv.length === 1 ? 0 : 1].w.replace(/[^.]+\.weight$/, '');
    // the attention's input for the tokens' embeddings: the layer's input norm (pre-norm), else the embeddings
    const nw = values_(layer.ln1.w);
    const nb = values_(layer.ln1.b);
    const x = new Float64Array(P * dim);
    ids.forEach((t, p) => {
      const e = table.subarray(t * dim, (t + 1) * dim);
      if (!arch.preNorm) return e.forEach((v, i) => (x[p * dim + i] = v));
      let mean = 0;
      if (arch.norm === 'layer') for (let i = 0; i < dim; i++) mean += e[i] / dim;
      let ms = 0;
      for (let i = 0; i < dim; i++) ms += (e[i] - mean) ** 2 / dim;
      const r = 1 / Math.sqrt(ms + normEps);
      for (let i = 0; i < dim; i++) x[p * dim + i] = (e[i] - mean) * r * (nw ? nw[i] : 1) + (nb ? nb[i] : 0);
    });
    // k and v projections [dim, nkv·hd] (+ bias): their own linears, or their columns of a fused q|k|v
    const kv = nKvHeads * hd;
    const proj = (which: 1 | 2): [Float32Array, Float32Array | undefined] => {
      if (layer.qkv.length === 3) return [values_(layer.qkv[which].w)!, values_(layer.qkv[which].b)];
      const fused = layer.qkv[0];
      const from = nHeads * hd + (which - 1) * kv;
      const w = values_(fused.w)!;
      const b = values_(fused.b);
      return [columns(w, dim, w.length / dim, from, kv), b?.slice(from, from + kv)];
    };
    const init: [string, 1 | 2, Float32Array[], Float32Array | undefined][] = [['prefix_key', 1, keys, real.keys[l]], ['prefix_value', 2, values, real.values[l]]];
    for (const [what, which, into, act] of init) {
      const b = adapterBlock(`${attn}${what}`, [P, kv], blocks.length);
      if (act) b.data!.set(act);
      else {
        const [w, bias] = proj(which);
        b.data!.set(project(x, P, dim, w, kv, bias));
      }
      blocks.push(b);
      layout.push({ name: b.name, transpose: false });
      into.push(b.data!);
    }
  }
  const prefix: AttentionPrefix = { tokens: P, keys, values };
  model.setPrefix(prefix);
  const sync = () => {}; // the model reads the prefix arrays themselves at every forward
  return {
    ...adapterParts(config, blocks, layout, model, sync),
    merged() {
      throw new Error('--merge: prefix tuning has no merged form (the prefixes are extra keys and values, not a change of the weights)');
    },
    dispose() {
      model.setPrefix?.(undefined);
    },
  };
}
