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
// with the float64 reference forward over the model's weights (a few tokens: cheap). A family
// without a reference forward gets each layer's k_proj / v_proj of the tokens' embeddings after
// the layer's input norm (the layer's input approximated by the embedding).
import { blockValues, referenceLogits, toCheckpoint, type AnyModel, type AttentionPrefix, type Block } from '@zotune/models';
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

export function createPrefix(model: AnyModel, config: PrefixConfig): Adapter {
  if (typeof model.setPrefix !== 'function') throw new Error(`the ${model.family} model has no prefix support in its attention`);
  const P = config.tokens;
  const byName = new Map(model.blocks.map((b) => [b.name, b]));
  const keyProj = model.blocks.filter((b) => b.kind === 'matrix' && /\.k_proj\.weight$/.test(b.name));
  const { nLayers, normEps } = model.config;
  if (keyProj.length !== nLayers) throw new Error(`expected one *.k_proj.weight per layer (${nLayers}), the model has ${keyProj.length}`);
  const embed = model.blocks.find((b) => b.kind === 'embedding');
  if (!embed) throw new Error('the model has no embedding block to initialise the prefixes from');
  const [vocab, dim] = embed.shape;
  const ids = prefixInitTokens(config.initSeed, P, vocab);
  const table = blockValues(embed);

  const blocks: Block[] = [];
  const layout: FileLayout[] = [];
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  // LLaMA: the real keys and values of the tokens at positions −P … −1 ([layer] → [P][nkv·hd])
  const real: { k: number[][][]; v: number[][][] } = { k: [], v: [] };
  if (model.family === 'llama')
    referenceLogits(toCheckpoint(model), ids, ids.map((_, i) => i - P), undefined, (l, k, v) => {
      real.k[l] = k;
      real.v[l] = v;
    });
  for (const [l, k] of keyProj.entries()) {
    const attn = k.name.replace(/k_proj\.weight$/, ''); // model.layers.3.self_attn.
    const layer = attn.replace(/self_attn\.$/, ''); // model.layers.3.
    const v = byName.get(`${attn}v_proj.weight`);
    if (!v) throw new Error(`${attn}v_proj.weight is missing`);
    // the layer's input norm of the tokens' embeddings (RMSNorm; its weight when the layer has one)
    const norm = byName.get(`${layer}input_layernorm.weight`);
    const nw = norm ? blockValues(norm) : undefined;
    const x = new Float64Array(P * dim);
    ids.forEach((t, p) => {
      let ms = 0;
      for (let i = 0; i < dim; i++) ms += table[t * dim + i] ** 2;
      const r = 1 / Math.sqrt(ms / dim + normEps);
      for (let i = 0; i < dim; i++) x[p * dim + i] = table[t * dim + i] * r * (nw ? nw[i] : 1);
    });
    const init: [string, Block, Float32Array[], number[][] | undefined][] = [['prefix_key', k, keys, real.k[l]], ['prefix_value', v, values, real.v[l]]];
    for (const [what, proj, into, act] of init) {
      const [din, dout] = proj.shape;
      const bias = byName.get(proj.name.replace(/weight$/, 'bias'));
      const b = adapterBlock(`${attn}${what}`, [P, dout], blocks.length);
      b.data!.set(act ? act.flat() : project(x, P, din, blockValues(proj), dout, bias && blockValues(bias)));
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
