// llama2.c checkpoints → Checkpoint (Hugging Face names, [out, in], rotate_half q/k rows).
// legacy: 7 × int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len;
//   vocab_size < 0 means a separate classifier), then fp32 tok_embeddings, rms_att, wq, wk, wv, wo,
//   rms_ffn, w1, w2, w3, rms_final, freq_cis_real, freq_cis_imag (skipped), wcls when not shared.
// version 1: uint32 magic "ak42", int32 version, the 7 ints, uint8 shared_classifier, zero-padded to
//   256 bytes; then all norms first (attention ×L, ffn ×L, final), tok_embeddings, wq×L … w3×L, wcls.
import type { Checkpoint, CheckpointFormat, HostTensor } from '../checkpoint';
import type { ModelConfig } from '../types';
import { FileReader, withFile } from './file-reader';
import { configProblem } from '../config';
import { headSize, validateCheckpoint } from './layout';
import { permuteRotaryToHf } from './rotary';

export const LLAMA2C_MAGIC = 0x616b3432; // "ak42" read as a little-endian uint32
const LEGACY_HEADER = 28;
const V1_HEADER = 256;

type Part = 'att_norm' | 'ffn_norm' | 'final_norm' | 'tok' | 'wq' | 'wk' | 'wv' | 'wo' | 'w1' | 'w2' | 'w3' | 'freq' | 'wcls';
interface Segment {
  part: Part;
  /** tensors in this segment (n_layers for per-layer weights) */
  count: number;
  shape: number[];
}

function describeHeader(c: ModelConfig): string {
  return `dim ${c.dim}, hidden_dim ${c.hiddenDim}, n_layers ${c.nLayers}, n_heads ${c.nHeads}, n_kv_heads ${c.nKvHeads}, vocab_size ${c.vocabSize}, max_seq_len ${c.maxSeqLen}, ${c.tiedEmbeddings ? 'shared' : 'separate'} classifier`;
}

function layout(c: ModelConfig, format: 'llama2c-legacy' | 'llama2c-v1'): Segment[] {
  const hs = headSize(c);
  const q = c.nHeads * hs;
  const kv = c.nKvHeads * hs;
  const L = c.nLayers;
  const s = (part: Part, count: number, ...shape: number[]): Segment => ({ part, count, shape });
  const matrices = [s('wq', L, q, c.dim), s('wk', L, kv, c.dim), s('wv', L, kv, c.dim), s('wo', L, c.dim, q)];
  const ffn = [s('w1', L, c.hiddenDim, c.dim), s('w2', L, c.dim, c.hiddenDim), s('w3', L, c.hiddenDim, c.dim)];
  const cls = c.tiedEmbeddings ? [] : [s('wcls', 1, c.vocabSize, c.dim)];
  if (format === 'llama2c-v1')
    return [s('att_norm', L, c.dim), s('ffn_norm', L, c.dim), s('final_norm', 1, c.dim), s('tok', 1, c.vocabSize, c.dim), ...matrices, ...ffn, ...cls];
  return [
    s('tok', 1, c.vocabSize, c.dim),
    s('att_norm', L, c.dim),
    ...matrices,
    s('ffn_norm', L, c.dim),
    ...ffn,
    s('final_norm', 1, c.dim),
    // the RoPE tables llama2.c used to store: cos and sin, [max_seq_len, head_size / 2] each
    s('freq', 2, c.maxSeqLen, hs / 2),
    ...cls,
  ];
}

function segmentBytes(seg: Segment): number {
  return seg.count * seg.shape.reduce((a, b) => a * b, 1) * 4;
}

function hfName(part: Part, layer: number): string | undefined {
  const p = `model.layers.${layer}`;
  switch (part) {
    case 'att_norm': return `${p}.input_layernorm.weight`;
    case 'ffn_norm': return `${p}.post_attention_layernorm.weight`;
    case 'final_norm': return 'model.norm.weight';
    case 'tok': return 'model.embed_tokens.weight';
    case 'wq': return `${p}.self_attn.q_proj.weight`;
    case 'wk': return `${p}.self_attn.k_proj.weight`;
    case 'wv': return `${p}.self_attn.v_proj.weight`;
    case 'wo': return `${p}.self_attn.o_proj.weight`;
    case 'w1': return `${p}.mlp.gate_proj.weight`;
    case 'w2': return `${p}.mlp.down_proj.weight`;
    case 'w3': return `${p}.mlp.up_proj.weight`;
    case 'wcls': return 'lm_head.weight';
    case 'freq': return undefined;
  }
}

/** Size check and tensor reads shared by both versions. */
function readBody(r: FileReader, config: ModelConfig, format: 'llama2c-legacy' | 'llama2c-v1', headerBytes: number): Checkpoint {
  const segments = layout(config, format);
  const expected = headerBytes + segments.reduce((a, s) => a + segmentBytes(s), 0);
  if (r.size < expected)
    throw new Error(`${r.file}: truncated llama2.c checkpoint: its header (${describeHeader(config)}) implies ${expected} bytes, the file has ${r.size}`);
  if (r.size > expected)
    throw new Error(`${r.file}: llama2.c header sizes do not match the file: the header (${describeHeader(config)}) implies ${expected} bytes, the file has ${r.size}`);
  const tensors = new Map<string, HostTensor>();
  let off = headerBytes;
  for (const seg of segments) {
    const n = seg.shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < seg.count; i++, off += n * 4) {
      const name = hfName(seg.part, i);
      if (name === undefined) continue;
      let data = r.f32(off, n);
      // llama2.c keeps Meta's interleaved RoPE rows; the Checkpoint convention is HF's rotate_half
      if (seg.part === 'wq') data = permuteRotaryToHf(data, config.nHeads, seg.shape[0], seg.shape[1]);
      if (seg.part === 'wk') data = permuteRotaryToHf(data, config.nKvHeads, seg.shape[0], seg.shape[1]);
      tensors.set(name, { shape: seg.shape.slice(), data });
    }
  }
  const ckpt: Checkpoint = { family: 'llama', config, tensors, format, source: r.file };
  validateCheckpoint(ckpt);
  return ckpt;
}

function configFrom(ints: Int32Array, shared: boolean): ModelConfig {
  return {
    dim: ints[0],
    hiddenDim: ints[1],
    nLayers: ints[2],
    nHeads: ints[3],
    nKvHeads: ints[4],
    vocabSize: Math.abs(ints[5]),
    maxSeqLen: ints[6],
    normEps: 1e-5, // llama2.c's RMSNorm epsilon and RoPE base are fixed in run.c
    ropeTheta: 10000,
    tiedEmbeddings: shared,
  };
}

function readLegacy(r: FileReader): Checkpoint {
  if (r.size < LEGACY_HEADER)
    throw new Error(`${r.file}: truncated llama2.c checkpoint: ${r.size} bytes, the header alone needs ${LEGACY_HEADER}`);
  const ints = new Int32Array(r.bytes(0, LEGACY_HEADER).buffer);
  const config = configFrom(ints, ints[5] > 0);
  const problem = configProblem(config);
  if (problem) {
    const magic = new DataView(ints.buffer).getUint32(0, true);
    throw new Error(
      `${r.file}: not a llama2.c checkpoint: wrong magic 0x${magic.toString(16).padStart(8, '0')} (version-1 files start with 0x${LLAMA2C_MAGIC.toString(16)} "ak42") and as a legacy header ${problem}`,
    );
  }
  return readBody(r, config, 'llama2c-legacy', LEGACY_HEADER);
}

function readV1(r: FileReader): Checkpoint {
  if (r.size < V1_HEADER) throw new Error(`${r.file}: truncated llama2.c checkpoint: ${r.size} bytes, the version-1 header alone needs ${V1_HEADER}`);
  const head = r.bytes(0, V1_HEADER);
  const view = new DataView(head.buffer);
  const magic = view.getUint32(0, true);
  if (magic !== LLAMA2C_MAGIC)
    throw new Error(`${r.file}: wrong magic 0x${magic.toString(16).padStart(8, '0')} (expected 0x${LLAMA2C_MAGIC.toString(16)} "ak42" of a llama2.c version-1 checkpoint)`);
  const version = view.getInt32(4, true);
  if (version !== 1)
    throw new Error(`${r.file}: unsupported llama2.c checkpoint version ${version} (zotune reads version 1${version === 2 ? '; version 2 is the int8-quantized export' : ''} and the legacy format)`);
  const ints = new Int32Array(head.buffer, 8, 7);
  const flag = head[36];
  if (flag > 1) throw new Error(`${r.file}: bad llama2.c version-1 header: shared_classifier flag is ${flag} (expected 0 or 1)`);
  if (ints[5] <= 0) throw new Error(`${r.file}: bad llama2.c version-1 header: vocab_size ${ints[5]} (expected > 0)`);
  const config = configFrom(ints, flag === 1);
  const problem = configProblem(config);
  if (problem) throw new Error(`${r.file}: bad llama2.c version-1 header: ${problem}`);
  return readBody(r, config, 'llama2c-v1', V1_HEADER);
}

/** Read a llama2.c checkpoint, legacy or version 1 (told apart by the magic). */
export function readLlama2c(file: string): Checkpoint {
  return withFile(file, (r) => {
    const magic = r.size >= 4 ? new DataView(r.bytes(0, 4).buffer).getUint32(0, true) : -1;
    return magic === LLAMA2C_MAGIC ? readV1(r) : readLegacy(r);
  });
}

/** Read a llama2.c version-1 checkpoint; anything else (legacy files included) is refused. */
export function readLlama2cV1(file: string): Checkpoint {
  return withFile(file, readV1);
}

/** Read a llama2.c legacy checkpoint. */
export function readLlama2cLegacy(file: string): Checkpoint {
  return withFile(file, readLegacy);
}

export type Llama2cFormat = Extract<CheckpointFormat, 'llama2c-legacy' | 'llama2c-v1'>;
