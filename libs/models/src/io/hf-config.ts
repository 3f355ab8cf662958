// Hugging Face config.json ↔ ModelConfig, for every family (libs/models/src/families/arch.ts): the
// family comes from model_type (or architectures); architecture fields are required, the rest take
// transformers' defaults. Features a family's forward does not implement (rope_scaling, sliding
// windows, OPT's project_in/out, another activation, ...) are refused by name, never ignored.
import { ARCHITECTURES } from '../families/arch';
import type { Family, ModelConfig } from '../types';
import { configProblem } from '../config';

type Raw = Record<string, unknown>;

export interface HfConfigExtras {
  bosTokenId?: number;
  eosTokenId?: number;
}

const FAMILY_OF_ARCH = new Map(Object.entries(ARCHITECTURES).map(([f, a]) => [a, f as Family]));

/** The family a config.json describes, from model_type, else architectures; one line naming the field otherwise. */
function detectFamily(o: Raw, file: string): Family {
  const archs = Array.isArray(o.architectures) ? o.architectures : [];
  const expected = `expected one of ${Object.values(ARCHITECTURES).join(', ')}`;
  if (o.model_type !== undefined) {
    const f = o.model_type as Family;
    if (typeof o.model_type !== 'string' || !(o.model_type in ARCHITECTURES))
      throw new Error(`${file}: model_type ${JSON.stringify(o.model_type)} is not supported (expected one of ${Object.keys(ARCHITECTURES).map((k) => JSON.stringify(k)).join(', ')})`);
    const other = archs.find((a) => typeof a === 'string' && a !== ARCHITECTURES[f]);
    if (other !== undefined) throw new Error(`${file}: architectures ${JSON.stringify(other)} is not supported for model_type ${JSON.stringify(f)} (expected ${JSON.stringify(ARCHITECTURES[f])})`);
    return f;
  }
  for (const a of archs) if (typeof a === 'string' && FAMILY_OF_ARCH.has(a)) return FAMILY_OF_ARCH.get(a)!;
  throw new Error(`${file}: architectures ${JSON.stringify(o.architectures ?? null)} is not supported and model_type is missing (${expected})`);
}

export function parseHfConfig(raw: unknown, file: string): ModelConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: expected a JSON object`);
  const o = raw as Raw;
  const family = detectFamily(o, file);
  const config = family === 'opt' ? parseOpt(o, file, fields(o, file)) : family === 'gpt2' ? parseGpt2(o, file, fields(o, file)) : parseLlamaLike(o, file, family, fields(o, file));
  const problem = configProblem(config);
  if (problem) throw new Error(`${file}: ${problem}`);
  return config;
}

interface Fields {
  int(key: string, dflt?: number): number;
  num(key: string, dflt: number): number;
  /** refuse `key` unless absent or one of `ok` */
  only(key: string, ok: unknown[], why?: string): void;
  bool(key: string, dflt: boolean): boolean;
}

function fields(o: Raw, file: string): Fields {
  return {
    int(key, dflt) {
      const v = o[key] ?? dflt;
      if (v === undefined) throw new Error(`${file}: field "${key}" is missing (expected a positive integer)`);
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${file}: field "${key}" is ${JSON.stringify(v)} (expected a positive integer)`);
      return v;
    },
    num(key, dflt) {
      const v = o[key] ?? dflt;
      if (typeof v !== 'number' || !(v > 0)) throw new Error(`${file}: field "${key}" is ${JSON.stringify(v)} (expected a positive number)`);
      return v;
    },
    only(key, ok, why) {
      if (o[key] !== undefined && !ok.includes(o[key]))
        throw new Error(`${file}: field "${key}" is ${JSON.stringify(o[key])} (${why ?? 'not supported'}; expected ${ok.map((v) => JSON.stringify(v)).join(' or ')})`);
    },
    bool(key, dflt) {
      const v = o[key] ?? dflt;
      if (typeof v !== 'boolean') throw new Error(`${file}: field "${key}" is ${JSON.stringify(v)} (expected true or false)`);
      return v;
    },
  };
}

function parseLlamaLike(o: Raw, file: string, family: 'llama' | 'qwen2', f: Fields): ModelConfig {
  const { int, num } = f;
  f.only('hidden_act', ['silu']);
  f.only('rope_scaling', [null]);
  for (const k of ['attention_bias', 'mlp_bias']) f.only(k, [false], 'biases are not supported');
  // Qwen2's sliding-window attention is not implemented (its default, off, is the full causal mask)
  if (family === 'qwen2') f.only('use_sliding_window', [false], 'sliding-window attention is not supported');
  const tied = f.bool('tie_word_embeddings', false);
  const nHeads = int('num_attention_heads');
  const config: ModelConfig = {
    ...(family === 'llama' ? {} : { family }),
    dim: int('hidden_size'),
    hiddenDim: int('intermediate_size'),
    nLayers: int('num_hidden_layers'),
    nHeads,
    nKvHeads: int('num_key_value_heads', nHeads),
    vocabSize: int('vocab_size'),
    maxSeqLen: int('max_position_embeddings', 2048),
    normEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    tiedEmbeddings: tied,
  };
  if (o.head_dim !== undefined && o.head_dim !== null && o.head_dim !== config.dim / nHeads)
    throw new Error(`${file}: field "head_dim" is ${JSON.stringify(o.head_dim)} (only hidden_size / num_attention_heads = ${config.dim / nHeads} is supported)`);
  return config;
}

/** OPTConfig: LayerNorm eps is nn.LayerNorm's 1e-5; positions are learned with offset 2. */
function parseOpt(o: Raw, file: string, f: Fields): ModelConfig {
  const dim = f.int('hidden_size');
  if (o.word_embed_proj_dim !== undefined && o.word_embed_proj_dim !== null && o.word_embed_proj_dim !== dim)
    throw new Error(`${file}: field "word_embed_proj_dim" is ${JSON.stringify(o.word_embed_proj_dim)} (project_in/project_out are not supported; expected hidden_size ${dim})`);
  f.only('activation_function', ['relu']);
  f.only('enable_bias', [true]);
  f.only('layer_norm_elementwise_affine', [true]);
  f.only('_remove_final_layer_norm', [false]);
  const nHeads = f.int('num_attention_heads');
  return {
    family: 'opt',
    dim,
    hiddenDim: f.int('ffn_dim'),
    nLayers: f.int('num_hidden_layers'),
    nHeads,
    nKvHeads: nHeads,
    vocabSize: f.int('vocab_size'),
    maxSeqLen: f.int('max_position_embeddings', 2048),
    normEps: 1e-5,
    ropeTheta: 10000,
    tiedEmbeddings: f.bool('tie_word_embeddings', true),
    preNorm: f.bool('do_layer_norm_before', true),
  };
}

/** GPT2Config: n_inner null means 4 · n_embd. */
function parseGpt2(o: Raw, file: string, f: Fields): ModelConfig {
  const dim = f.int('n_embd');
  f.only('activation_function', ['gelu_new']);
  f.only('scale_attn_weights', [true]);
  f.only('scale_attn_by_inverse_layer_idx', [false]);
  f.only('add_cross_attention', [false]);
  const nHeads = f.int('n_head');
  return {
    family: 'gpt2',
    dim,
    hiddenDim: o.n_inner === null || o.n_inner === undefined ? 4 * dim : f.int('n_inner'),
    nLayers: f.int('n_layer'),
    nHeads,
    nKvHeads: nHeads,
    vocabSize: f.int('vocab_size'),
    maxSeqLen: f.int('n_positions', 1024),
    normEps: f.num('layer_norm_epsilon', 1e-5),
    ropeTheta: 10000,
    tiedEmbeddings: f.bool('tie_word_embeddings', true),
  };
}

/** config.json of the config's family that transformers loads as is. */
export function toHfConfig(c: ModelConfig, extras: HfConfigExtras = {}): Record<string, unknown> {
  const tokens = { bos_token_id: extras.bosTokenId ?? 1, eos_token_id: extras.eosTokenId ?? 2, torch_dtype: 'float32' };
  const heads = { num_attention_heads: c.nHeads, num_hidden_layers: c.nLayers, vocab_size: c.vocabSize, tie_word_embeddings: c.tiedEmbeddings };
  if (c.family === 'opt')
    return {
      architectures: [ARCHITECTURES.opt],
      model_type: 'opt',
      hidden_size: c.dim,
      word_embed_proj_dim: c.dim,
      ffn_dim: c.hiddenDim,
      ...heads,
      max_position_embeddings: c.maxSeqLen,
      do_layer_norm_before: c.preNorm ?? true,
      activation_function: 'relu',
      enable_bias: true,
      layer_norm_elementwise_affine: true,
      ...tokens,
    };
  if (c.family === 'gpt2')
    return {
      architectures: [ARCHITECTURES.gpt2],
      model_type: 'gpt2',
      n_embd: c.dim,
      n_inner: c.hiddenDim,
      n_layer: c.nLayers,
      n_head: c.nHeads,
      vocab_size: c.vocabSize,
      n_positions: c.maxSeqLen,
      layer_norm_epsilon: c.normEps,
      activation_function: 'gelu_new',
      scale_attn_weights: true,
      tie_word_embeddings: c.tiedEmbeddings,
      ...tokens,
    };
  if (c.family === 'qwen2')
    return {
      architectures: [ARCHITECTURES.qwen2],
      model_type: 'qwen2',
      hidden_size: c.dim,
      intermediate_size: c.hiddenDim,
      ...heads,
      num_key_value_heads: c.nKvHeads,
      max_position_embeddings: c.maxSeqLen,
      rms_norm_eps: c.normEps,
      rope_theta: c.ropeTheta,
      rope_scaling: null,
      use_sliding_window: false,
      hidden_act: 'silu',
      ...tokens,
    };
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.dim / c.nHeads,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.tiedEmbeddings,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: extras.bosTokenId ?? 1,
    eos_token_id: extras.eosTokenId ?? 2,
    torch_dtype: 'float32',
  };
}
