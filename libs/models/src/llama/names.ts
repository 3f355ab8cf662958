// Hugging Face parameter names of LlamaForCausalLM, in the order HF's modules define them. This order
// is the stable block order of the tfjs model (Block.index = noise block id), whatever the file format.
import { configProblem } from '../config';
import type { BlockKind, ModelConfig } from '../types';

/** The linear projections of one decoder layer, in HF module order. */
export const LAYER_LINEARS = [
  'self_attn.q_proj',
  'self_attn.k_proj',
  'self_attn.v_proj',
  'self_attn.o_proj',
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
] as const;
export type LayerLinear = (typeof LAYER_LINEARS)[number];

/** The RMSNorm weights of one decoder layer, in HF module order. */
export const LAYER_NORMS = ['input_layernorm', 'post_attention_layernorm'] as const;
export type LayerNorm = (typeof LAYER_NORMS)[number];

export const EMBED_NAME = 'model.embed_tokens.weight';
export const FINAL_NORM_NAME = 'model.norm.weight';
export const LM_HEAD_NAME = 'lm_head.weight';

export const layerPrefix = (l: number): string => `model.layers.${l}`;

/** One expected tensor: its HF name, its HF shape ([out, in] for linears) and its block kind. */
export interface TensorSpec {
  name: string;
  /** shape in the checkpoint (Hugging Face layout) */
  hfShape: number[];
  kind: BlockKind;
}

export function headDim(config: ModelConfig): number {
  return config.dim / config.nHeads;
}

/** [out, in] of a layer linear, in HF layout. */
export function linearShape(config: ModelConfig, which: LayerLinear): [number, number] {
  const hd = headDim(config);
  switch (which) {
    case 'self_attn.q_proj':
      return [config.nHeads * hd, config.dim];
    case 'self_attn.k_proj':
    case 'self_attn.v_proj':
      return [config.nKvHeads * hd, config.dim];
    case 'self_attn.o_proj':
      return [config.dim, config.nHeads * hd];
    case 'mlp.gate_proj':
    case 'mlp.up_proj':
      return [config.hiddenDim, config.dim];
    case 'mlp.down_proj':
      return [config.dim, config.hiddenDim];
  }
}

/**
 * Every tensor of the model in block order. `hasBias(name)` says whether an optional linear bias
 * (HF attention_bias / mlp_bias) is present; LLaMA checkpoints have none.
 */
export function tensorSpecs(config: ModelConfig, hasBias: (name: string) => boolean = () => false): TensorSpec[] {
  const specs: TensorSpec[] = [{ name: EMBED_NAME, hfShape: [config.vocabSize, config.dim], kind: 'embedding' }];
  for (let l = 0; l < config.nLayers; l++) {
    const p = layerPrefix(l);
    for (const lin of LAYER_LINEARS) {
      const shape = linearShape(config, lin);
      specs.push({ name: `${p}.${lin}.weight`, hfShape: shape, kind: 'matrix' });
      if (hasBias(`${p}.${lin}.bias`)) specs.push({ name: `${p}.${lin}.bias`, hfShape: [shape[0]], kind: 'bias' });
    }
    for (const norm of LAYER_NORMS) specs.push({ name: `${p}.${norm}.weight`, hfShape: [config.dim], kind: 'norm' });
  }
  specs.push({ name: FINAL_NORM_NAME, hfShape: [config.dim], kind: 'norm' });
  if (!config.tiedEmbeddings) specs.push({ name: LM_HEAD_NAME, hfShape: [config.vocabSize, config.dim], kind: 'matrix' });
  return specs;
}

/** Throws a one-line error naming the field when the config cannot describe a LLaMA model. */
export function validateModelConfig(config: ModelConfig, source = 'config'): void {
  const problem = configProblem(config);
  if (problem) throw new Error(`${source}: bad model config: ${problem}`);
}
