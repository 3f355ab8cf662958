// GGUF files (llama.cpp, Ollama) ↔ Checkpoint. A GGUF holds llama.cpp's names and layouts; this maps
// them onto the family's Hugging Face names and layouts, as transformers' GGUF loader does:
//
//   GGUF (llama, qwen2)              Hugging Face                                   note
//   token_embd.weight                model.embed_tokens.weight
//   blk.L.attn_norm.weight           model.layers.L.input_layernorm.weight
//   blk.L.attn_{q,k,v}.{weight,bias} model.layers.L.self_attn.{q,k,v}_proj.*       llama: q, k rows permuted (below)
//   blk.L.attn_output.weight         model.layers.L.self_attn.o_proj.weight
//   blk.L.ffn_norm.weight            model.layers.L.post_attention_layernorm.weight
//   blk.L.ffn_{gate,up,down}.weight  model.layers.L.mlp.{gate,up,down}_proj.weight
//   output_norm.weight               model.norm.weight
//   output.weight                    lm_head.weight                                 absent: tied
//
//   GGUF (gpt2)                      Hugging Face
//   token_embd / position_embd       transformer.wte / transformer.wpe
//   blk.L.attn_norm, ffn_norm        transformer.h.L.ln_1, ln_2 (weight and bias)
//   blk.L.attn_qkv, attn_output      transformer.h.L.attn.c_attn, c_proj            weights transposed: Conv1D is [in, out]
//   blk.L.ffn_up, ffn_down           transformer.h.L.mlp.c_fc, c_proj               likewise
//   output_norm / output             transformer.ln_f / lm_head
//
// llama.cpp's converter permutes the rows of LLaMA's q_proj and k_proj so that its RoPE can rotate
// adjacent pairs (x[2i], x[2i+1]) where Hugging Face rotates halves (x[i], x[i + d/2]): within each
// head of size d, Hugging Face row p·d/2 + i is stored at GGUF row 2i + p. Reading undoes it, writing
// redoes it (k uses the KV heads). Qwen2 is converted without the permutation (its RoPE is NeoX-style
// in llama.cpp too).
import { closeSync, openSync, readSync } from 'node:fs';
import { GGUF_OUT_TYPES, type GgufFile, type GgufKv, type GgufOutType, type GgufTensorOut, ggufValues, readGguf, readTensorF32, writeGguf } from '@zotune/gguf';
import { tokenizerFromGguf, type Tokenizer } from '@zotune/tokenizers';
import type { Checkpoint, HostTensor } from '../checkpoint';
import { archOf } from '../families/arch';
import type { Family, ModelConfig } from '../types';
import { configProblem } from '../config';
import { validateCheckpoint } from './layout';

/** The GGUF `general.architecture` values we read, and the family each maps onto. */
const FAMILY_OF_GGUF: Record<string, Family> = { llama: 'llama', qwen2: 'qwen2', gpt2: 'gpt2' };

/** True when `path` starts with the GGUF magic (the extension alone is not trusted). */
export function isGgufFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === 'GGUF';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function kv(file: GgufFile, key: string): unknown {
  return file.metadata.get(key)?.value;
}

function intKey(file: GgufFile, key: string, dflt?: number): number {
  const raw = kv(file, key) ?? dflt;
  if (raw === undefined) throw new Error(`${file.path}: metadata ${key} is missing (expected a positive integer)`);
  const v = typeof raw === 'bigint' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${file.path}: metadata ${key} is ${JSON.stringify(typeof raw === 'bigint' ? String(raw) : raw)} (expected a positive integer)`);
  return v;
}

function numKey(file: GgufFile, key: string, dflt?: number): number {
  const v = kv(file, key) ?? dflt;
  if (typeof v !== 'number' || !(v > 0)) throw new Error(`${file.path}: metadata ${key} is ${JSON.stringify(v ?? null)} (expected a positive number)`);
  return v;
}

/** The model family of a GGUF, from general.architecture; one line naming it otherwise. */
export function ggufFamily(file: GgufFile): Family {
  const a = kv(file, 'general.architecture');
  if (typeof a !== 'string') throw new Error(`${file.path}: metadata general.architecture is missing (expected a string such as "llama")`);
  const f = FAMILY_OF_GGUF[a];
  if (!f) throw new Error(`${file.path}: architecture "${a}" is not supported (supported: ${Object.keys(FAMILY_OF_GGUF).join(', ')})`);
  return f;
}

/** The model config from the `<arch>.*` metadata keys. Features our forward lacks are refused by key. */
export function ggufConfig(file: GgufFile): ModelConfig {
  const family = ggufFamily(file);
  const a = kv(file, 'general.architecture') as string;
  const k = (s: string) => `${a}.${s}`;
  const names = new Set(file.tensors.map((t) => t.name));
  const embd = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embd) throw new Error(`${file.path}: tensor token_embd.weight is missing`);
  const expert = kv(file, k('expert_count'));
  if (expert !== undefined && Number(expert) > 0) throw new Error(`${file.path}: metadata ${k('expert_count')} is ${String(expert)} (mixture-of-experts models are not supported)`);
  for (const key of [k('attention.head_count'), k('attention.head_count_kv')])
    if (Array.isArray(kv(file, key))) throw new Error(`${file.path}: metadata ${key} is per layer (expected one number: layers of different shapes are not supported)`);
  const nHeads = intKey(file, k('attention.head_count'));
  const dim = intKey(file, k('embedding_length'));
  const common = {
    dim,
    hiddenDim: intKey(file, k('feed_forward_length')),
    nLayers: intKey(file, k('block_count')),
    nHeads,
    // the token table's rows; llama.cpp writes <arch>.vocab_size only sometimes
    vocabSize: intKey(file, k('vocab_size'), embd.dims[1]),
    maxSeqLen: intKey(file, k('context_length'), 2048),
    tiedEmbeddings: !names.has('output.weight'),
  };
  let config: ModelConfig;
  if (family === 'gpt2') {
    config = { family, ...common, nKvHeads: nHeads, normEps: numKey(file, k('attention.layer_norm_epsilon'), 1e-5), ropeTheta: 10000 };
  } else {
    const scaling = kv(file, k('rope.scaling.type'));
    if (scaling !== undefined && scaling !== 'none') throw new Error(`${file.path}: metadata ${k('rope.scaling.type')} is ${JSON.stringify(scaling)} (RoPE scaling is not supported; expected "none")`);
    if (names.has('rope_freqs.weight')) throw new Error(`${file.path}: tensor rope_freqs.weight (RoPE frequency factors) is not supported`);
    const headDim = dim / nHeads;
    for (const key of [k('rope.dimension_count'), k('attention.key_length'), k('attention.value_length')]) {
      const v = kv(file, key);
      if (v !== undefined && Number(v) !== headDim) throw new Error(`${file.path}: metadata ${key} is ${String(v)} (only embedding_length / head_count = ${headDim} is supported)`);
    }
    config = {
      ...(family === 'llama' ? {} : { family }),
      ...common,
      nKvHeads: intKey(file, k('attention.head_count_kv'), nHeads),
      normEps: numKey(file, k('attention.layer_norm_rms_epsilon'), 1e-5),
      ropeTheta: numKey(file, k('rope.freq_base'), 10000),
    };
  }
  const problem = configProblem(config);
  if (problem) throw new Error(`${file.path}: bad model config: ${problem}`);
  return config;
}

/** GGUF name → Hugging Face name for a family (undefined: not a tensor of that family). */
function hfName(family: Family, gguf: string): string | undefined {
  const top: Record<string, string> =
    family === 'gpt2'
      ? {
          'token_embd.weight': 'transformer.wte.weight',
          'position_embd.weight': 'transformer.wpe.weight',
          'output_norm.weight': 'transformer.ln_f.weight',
          'output_norm.bias': 'transformer.ln_f.bias',
          'output.weight': 'lm_head.weight',
        }
      : { 'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight' };
  if (top[gguf]) return top[gguf];
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(gguf);
  if (!m) return undefined;
  const [, l, part, wb] = m;
  const layer: Record<string, string> =
    family === 'gpt2'
      ? { attn_norm: 'ln_1', attn_qkv: 'attn.c_attn', attn_output: 'attn.c_proj', ffn_norm: 'ln_2', ffn_up: 'mlp.c_fc', ffn_down: 'mlp.c_proj' }
      : {
          attn_norm: 'input_layernorm',
          attn_q: 'self_attn.q_proj',
          attn_k: 'self_attn.k_proj',
          attn_v: 'self_attn.v_proj',
          attn_output: 'self_attn.o_proj',
          ffn_norm: 'post_attention_layernorm',
          ffn_gate: 'mlp.gate_proj',
          ffn_up: 'mlp.up_proj',
          ffn_down: 'mlp.down_proj',
        };
  if (!layer[part]) return undefined;
  return family === 'gpt2' ? `transformer.h.${l}.${layer[part]}.${wb}` : `model.layers.${l}.${layer[part]}.${wb}`;
}

/** Hugging Face name → GGUF name (the inverse of hfName, over a config's tensors). */
function ggufNames(config: ModelConfig): Map<string, string> {
  const family = config.family ?? 'llama';
  const out = new Map<string, string>();
  const candidates = ['token_embd.weight', 'position_embd.weight', 'output_norm.weight', 'output_norm.bias', 'output.weight'];
  const parts = ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_qkv', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down'];
  for (let l = 0; l < config.nLayers; l++) for (const p of parts) for (const wb of ['weight', 'bias']) candidates.push(`blk.${l}.${p}.${wb}`);
  for (const g of candidates) {
    const h = hfName(family, g);
    if (h) out.set(h, g);
  }
  return out;
}

/**
 * llama.cpp's row permutation of q_proj / k_proj ([heads·d, in], row-major), or its inverse.
 * Hugging Face row h·d + p·d/2 + i ↔ GGUF row h·d + 2i + p (p ∈ {0, 1}, i < d/2).
 */
export function permuteRope(w: Float32Array, heads: number, cols: number, direction: 'to-hf' | 'to-gguf'): Float32Array {
  const rows = w.length / cols;
  const d = rows / heads;
  if (!Number.isInteger(d) || d % 2 !== 0) throw new Error(`permuteRope: ${rows} rows do not split into ${heads} heads of even size`);
  const out = new Float32Array(w.length);
  const half = d / 2;
  for (let h = 0; h < heads; h++)
    for (let p = 0; p < 2; p++)
      for (let i = 0; i < half; i++) {
        const hf = h * d + p * half + i;
        const gg = h * d + 2 * i + p;
        const [from, to] = direction === 'to-hf' ? [gg, hf] : [hf, gg];
        out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
      }
  return out;
}

/** [rows, cols] row-major → [cols, rows] row-major. */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** Whether the family's GGUF stores this Hugging Face tensor transposed (GPT-2's Conv1D weights). */
function storedTransposed(family: Family, hf: string): boolean {
  return family === 'gpt2' && /\.(c_attn|c_proj|c_fc)\.weight$/.test(hf);
}

/** Which heads count permutes this tensor's rows (llama q and k), else undefined. */
function ropeHeads(config: ModelConfig, hf: string): number | undefined {
  if ((config.family ?? 'llama') !== 'llama') return undefined;
  if (/\.self_attn\.q_proj\.weight$/.test(hf)) return config.nHeads;
  if (/\.self_attn\.k_proj\.weight$/.test(hf)) return config.nKvHeads;
  return undefined;
}

/** Read a GGUF model: config from its metadata, every tensor dequantized to fp32 in Hugging Face layout. */
export function readGgufCheckpoint(path: string, file: GgufFile = readGguf(path)): Checkpoint {
  const config = ggufConfig(file);
  const family = config.family ?? 'llama';
  const specs = new Map(archOf(config).tensors.map((s) => [s.name, s]));
  const tensors = new Map<string, HostTensor>();
  for (const info of file.tensors) {
    const hf = hfName(family, info.name);
    if (hf === undefined || !specs.has(hf)) throw new Error(`${path}: tensor ${info.name} is not part of a ${family} model as zotune implements it`);
    const spec = specs.get(hf)!;
    // ggml dims run fastest-first: the row-major shape is their reverse
    const shape = [...info.dims].reverse();
    const transposed = storedTransposed(family, hf);
    const want = transposed ? [...spec.hfShape].reverse() : spec.hfShape;
    if (shape.length !== want.length || shape.some((d, i) => d !== want[i]))
      throw new Error(`${path}: tensor ${info.name} has shape [${shape}], the metadata implies [${want}]`);
    let data = readTensorF32(file, info.name);
    const heads = ropeHeads(config, hf);
    if (heads !== undefined) data = permuteRope(data, heads, shape[1], 'to-hf');
    if (transposed) data = transpose(data, shape[0], shape[1]);
    tensors.set(hf, { shape: [...spec.hfShape], data });
  }
  // in the family's order (the file's order is llama.cpp's), so blocks come out as from any other reader
  const ordered = new Map<string, HostTensor>();
  for (const name of specs.keys()) if (tensors.has(name)) ordered.set(name, tensors.get(name)!);
  const ckpt: Checkpoint = { family, config, tensors: ordered, format: 'gguf', source: path };
  validateCheckpoint(ckpt);
  return ckpt;
}

/** The tokenizer a GGUF carries in its metadata. */
export function readGgufTokenizer(path: string, file: GgufFile = readGguf(path)): Tokenizer {
  return tokenizerFromGguf(ggufValues(file), path);
}


export interface WriteGgufOptions {
  /** tensor type of the matrices and tables (1-D norms and biases stay F32, as llama.cpp keeps them) */
  type?: GgufOutType;
  /** the GGUF the model came from (a path or the file read): its tokenizer and general.* metadata are carried over */
  source?: string | GgufFile;
  /** general.name of the written file */
  name?: string;
}

/** Metadata keys recomputed on write (the rest of a source GGUF's metadata is carried over as is). */
const RECOMPUTED = /^(GGUF\.|general\.(file_type|alignment|quantization_version|architecture)$)/;

/**
 * Write a checkpoint as a GGUF that llama.cpp and transformers read: the family's architecture keys,
 * the tensors under llama.cpp's names and layouts (q/k permuted back for llama), the tokenizer from
 * `opts.source`. Atomic (the writer renames a complete temp file into place).
 */
export function writeGgufCheckpoint(path: string, ckpt: Checkpoint, opts: WriteGgufOptions = {}): void {
  validateCheckpoint(ckpt);
  const c = ckpt.config;
  const family = c.family ?? 'llama';
  const out = GGUF_OUT_TYPES[opts.type ?? 'f32'];
  const a = family;
  const meta = new Map<string, GgufKv>();
  const u32 = (value: number): GgufKv => ({ type: 'u32', value });
  const f32 = (value: number): GgufKv => ({ type: 'f32', value });
  const str = (value: string): GgufKv => ({ type: 'string', value });
  meta.set('general.architecture', str(a));
  const source = typeof opts.source === 'string' ? readGguf(opts.source) : opts.source;
  if (source) for (const [key, v] of source.metadata) if (!RECOMPUTED.test(key) && !key.startsWith(`${a}.`)) meta.set(key, v);
  if (opts.name !== undefined) meta.set('general.name', str(opts.name));
  meta.set('general.file_type', u32(out.fileType));
  meta.set(`${a}.context_length`, u32(c.maxSeqLen));
  meta.set(`${a}.embedding_length`, u32(c.dim));
  meta.set(`${a}.feed_forward_length`, u32(c.hiddenDim));
  meta.set(`${a}.block_count`, u32(c.nLayers));
  meta.set(`${a}.attention.head_count`, u32(c.nHeads));
  if (family === 'gpt2') meta.set(`${a}.attention.layer_norm_epsilon`, f32(c.normEps));
  else {
    meta.set(`${a}.attention.head_count_kv`, u32(c.nKvHeads));
    meta.set(`${a}.attention.layer_norm_rms_epsilon`, f32(c.normEps));
    meta.set(`${a}.rope.freq_base`, f32(c.ropeTheta));
    meta.set(`${a}.rope.dimension_count`, u32(c.dim / c.nHeads));
  }
  meta.set(`${a}.vocab_size`, u32(c.vocabSize));
  if (opts.type === 'q8_0') meta.set('general.quantization_version', u32(2));
  const names = ggufNames(c);
  const tensors: GgufTensorOut[] = [];
  for (const spec of archOf(c).tensors) {
    const t = ckpt.tensors.get(spec.name)!;
    const g = names.get(spec.name);
    if (g === undefined) throw new Error(`${path}: tensor ${spec.name} has no GGUF name for ${family}`);
    let data = t.data;
    let shape = t.shape;
    if (storedTransposed(family, spec.name)) {
      data = transpose(data, shape[0], shape[1]);
      shape = [shape[1], shape[0]];
    }
    const heads = ropeHeads(c, spec.name);
    if (heads !== undefined) data = permuteRope(data, heads, shape[1], 'to-gguf');
    // Q8_0 packs rows in blocks of 32; 1-D tensors and rows that do not divide stay F32 (as llama.cpp does)
    const type = shape.length === 1 ? 'F32' : out.type === 'Q8_0' && shape[shape.length - 1] % 32 !== 0 ? 'F16' : out.type;
    tensors.push({ name: g, dims: [...shape].reverse(), type, data });
  }
  writeGguf(path, meta, tensors);
}
