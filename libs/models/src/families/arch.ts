// One description of each family's architecture, consumed by everything that walks a model: the
// blocks (Hugging Face names, kinds, shapes and whether the file stores a matrix [out, in] or
// [in, out]), the tfjs forward (DecoderModel) and the ONNX graph builder (libs/ort). A family is
// written once here; both engines follow the same roles in the same order of operations.
//
//   family  positions         norm            attention               FFN             head
//   llama   RoPE              RMSNorm, pre    q, k, v, o (GQA)        SwiGLU          tied or lm_head
//   qwen2   RoPE (rope_theta) RMSNorm, pre    q, k, v with bias; o    SwiGLU          tied or lm_head
//   opt     learned, offset 2 LayerNorm+bias, q, k, v, out_proj       ReLU fc1/fc2    tied (or lm_head)
//                             pre or post     with biases             with biases
//   gpt2    learned           LayerNorm+bias, fused c_attn (Conv1D    gelu_new        tied (or lm_head)
//                             pre             [in, out]) q|k|v; bias  c_fc/c_proj
import { configProblem } from '../config';
import { tensorSpecs } from '../llama/names';
import type { BlockKind, Family, ModelConfig } from '../types';

/** The Hugging Face architecture name of each family (config.json `architectures[0]`). */
export const ARCHITECTURES: Record<Family, string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  opt: 'OPTForCausalLM',
  gpt2: 'GPT2LMHeadModel',
};

/** One tensor of a checkpoint. */
export interface ArchTensor {
  name: string;
  /** shape in the file (Hugging Face layout) */
  hfShape: number[];
  kind: BlockKind;
  /** a matrix the file stores [out, in] (nn.Linear) and the block keeps [in, out]; false for Conv1D and tables */
  transpose: boolean;
}

/** A weight and its optional bias (a linear, or a norm: LayerNorm has a bias, RMSNorm none). */
export interface Param {
  w: string;
  b?: string;
}

export interface LayerArch {
  /** the norm before attention (pre-norm) or after the attention residual (post-norm) */
  ln1: Param;
  /** the norm before the FFN (pre-norm) or after the FFN residual (post-norm) */
  ln2: Param;
  /** q, k, v projections, or one fused projection whose output splits q | k | v (GPT-2's c_attn) */
  qkv: Param[];
  o: Param;
  /** SwiGLU's gate (llama, qwen2); absent for a plain activation */
  gate?: Param;
  up: Param;
  down: Param;
}

export interface Arch {
  family: Family;
  norm: 'rms' | 'layer';
  act: 'swiglu' | 'relu' | 'gelu_new';
  /** norm before each sublayer (x + f(norm(x))) or after each residual (norm(x + f(x))) */
  preNorm: boolean;
  positions: 'rope' | 'learned';
  /** the learned position table (positions = 'learned') */
  posEmbed?: string;
  /** row of position p in posEmbed: p + posOffset (OPT: 2) */
  posOffset: number;
  /** the token table [V, dim] */
  embed: string;
  layers: LayerArch[];
  finalNorm?: Param;
  /** the untied classifier [V, dim]; absent when tied to `embed` */
  head?: string;
  tensors: ArchTensor[];
}

const has = (specs: ArchTensor[], name: string) => specs.some((s) => s.name === name);
const param = (specs: ArchTensor[], p: string): Param => ({ w: `${p}.weight`, b: has(specs, `${p}.bias`) ? `${p}.bias` : undefined });

function llamaLike(c: ModelConfig, family: 'llama' | 'qwen2', hasBias: (name: string) => boolean): Arch {
  // qwen2: biases on q, k, v (always); llama: optional linear biases when the checkpoint has them
  const bias = family === 'qwen2' ? (n: string) => /\.self_attn\.[qkv]_proj\.bias$/.test(n) : hasBias;
  const tensors: ArchTensor[] = tensorSpecs(c, bias).map((s) => ({ ...s, transpose: s.kind === 'matrix' }));
  const layers: LayerArch[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}`;
    const lin = (n: string) => param(tensors, `${p}.${n}`);
    layers.push({
      ln1: lin('input_layernorm'),
      ln2: lin('post_attention_layernorm'),
      qkv: [lin('self_attn.q_proj'), lin('self_attn.k_proj'), lin('self_attn.v_proj')],
      o: lin('self_attn.o_proj'),
      gate: lin('mlp.gate_proj'),
      up: lin('mlp.up_proj'),
      down: lin('mlp.down_proj'),
    });
  }
  return {
    family,
    norm: 'rms',
    act: 'swiglu',
    preNorm: true,
    positions: 'rope',
    posOffset: 0,
    embed: 'model.embed_tokens.weight',
    layers,
    finalNorm: { w: 'model.norm.weight' },
    head: c.tiedEmbeddings ? undefined : 'lm_head.weight',
    tensors,
  };
}

function opt(c: ModelConfig): Arch {
  const d = 'model.decoder';
  const { dim: D, hiddenDim: F } = c;
  const tensors: ArchTensor[] = [
    { name: `${d}.embed_tokens.weight`, hfShape: [c.vocabSize, D], kind: 'embedding', transpose: false },
    { name: `${d}.embed_positions.weight`, hfShape: [c.maxSeqLen + 2, D], kind: 'position', transpose: false },
  ];
  const linear = (name: string, out: number, inp: number) =>
    tensors.push({ name: `${name}.weight`, hfShape: [out, inp], kind: 'matrix', transpose: true }, { name: `${name}.bias`, hfShape: [out], kind: 'bias', transpose: false });
  const norm = (name: string) => tensors.push({ name: `${name}.weight`, hfShape: [D], kind: 'norm', transpose: false }, { name: `${name}.bias`, hfShape: [D], kind: 'bias', transpose: false });
  const layers: LayerArch[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `${d}.layers.${l}`;
    // HF module order: k, v, q, out_proj, self_attn_layer_norm, fc1, fc2, final_layer_norm
    for (const n of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) linear(`${p}.self_attn.${n}`, D, D);
    norm(`${p}.self_attn_layer_norm`);
    linear(`${p}.fc1`, F, D);
    linear(`${p}.fc2`, D, F);
    norm(`${p}.final_layer_norm`);
    const lp = (n: string) => param(tensors, `${p}.${n}`);
    layers.push({
      ln1: lp('self_attn_layer_norm'),
      ln2: lp('final_layer_norm'),
      qkv: [lp('self_attn.q_proj'), lp('self_attn.k_proj'), lp('self_attn.v_proj')],
      o: lp('self_attn.out_proj'),
      up: lp('fc1'),
      down: lp('fc2'),
    });
  }
  const preNorm = c.preNorm ?? true;
  // HF OPTDecoder has a final LayerNorm only when do_layer_norm_before (and not _remove_final_layer_norm)
  if (preNorm) norm(`${d}.final_layer_norm`);
  if (!c.tiedEmbeddings) tensors.push({ name: 'lm_head.weight', hfShape: [c.vocabSize, D], kind: 'matrix', transpose: true });
  return {
    family: 'opt',
    norm: 'layer',
    act: 'relu',
    preNorm,
    positions: 'learned',
    posEmbed: `${d}.embed_positions.weight`,
    posOffset: 2,
    embed: `${d}.embed_tokens.weight`,
    layers,
    finalNorm: preNorm ? param(tensors, `${d}.final_layer_norm`) : undefined,
    head: c.tiedEmbeddings ? undefined : 'lm_head.weight',
    tensors,
  };
}

function gpt2(c: ModelConfig): Arch {
  const { dim: D, hiddenDim: I } = c;
  const tensors: ArchTensor[] = [
    { name: 'transformer.wte.weight', hfShape: [c.vocabSize, D], kind: 'embedding', transpose: false },
    { name: 'transformer.wpe.weight', hfShape: [c.maxSeqLen, D], kind: 'position', transpose: false },
  ];
  // Conv1D stores [in, out]: the block's own layout, no transpose
  const conv = (name: string, inp: number, out: number) =>
    tensors.push({ name: `${name}.weight`, hfShape: [inp, out], kind: 'matrix', transpose: false }, { name: `${name}.bias`, hfShape: [out], kind: 'bias', transpose: false });
  const norm = (name: string) => tensors.push({ name: `${name}.weight`, hfShape: [D], kind: 'norm', transpose: false }, { name: `${name}.bias`, hfShape: [D], kind: 'bias', transpose: false });
  const layers: LayerArch[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `transformer.h.${l}`;
    norm(`${p}.ln_1`);
    conv(`${p}.attn.c_attn`, D, 3 * D);
    conv(`${p}.attn.c_proj`, D, D);
    norm(`${p}.ln_2`);
    conv(`${p}.mlp.c_fc`, D, I);
    conv(`${p}.mlp.c_proj`, I, D);
    const lp = (n: string) => param(tensors, `${p}.${n}`);
    layers.push({ ln1: lp('ln_1'), ln2: lp('ln_2'), qkv: [lp('attn.c_attn')], o: lp('attn.c_proj'), up: lp('mlp.c_fc'), down: lp('mlp.c_proj') });
  }
  norm('transformer.ln_f');
  if (!c.tiedEmbeddings) tensors.push({ name: 'lm_head.weight', hfShape: [c.vocabSize, D], kind: 'matrix', transpose: true });
  return {
    family: 'gpt2',
    norm: 'layer',
    act: 'gelu_new',
    preNorm: true,
    positions: 'learned',
    posEmbed: 'transformer.wpe.weight',
    posOffset: 0,
    embed: 'transformer.wte.weight',
    layers,
    finalNorm: param(tensors, 'transformer.ln_f'),
    head: c.tiedEmbeddings ? undefined : 'lm_head.weight',
    tensors,
  };
}

/** The family of a config (absent: llama). */
export const familyOf = (c: ModelConfig): Family => c.family ?? 'llama';

/**
 * The architecture of a config. `hasBias(name)` says which optional LLaMA linear biases a checkpoint
 * has (the other families' biases are fixed by their architecture).
 */
export function archOf(c: ModelConfig, hasBias: (name: string) => boolean = () => false): Arch {
  const problem = configProblem(c);
  if (problem) throw new Error(`bad model config: ${problem}`);
  const f = familyOf(c);
  switch (f) {
    case 'llama':
    case 'qwen2':
      return llamaLike(c, f, hasBias);
    case 'opt':
      return opt(c);
    case 'gpt2':
      return gpt2(c);
  }
}
