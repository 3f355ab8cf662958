// A checkpoint as read from disk, before any tfjs tensor exists: config plus named fp32 arrays in
// Hugging Face naming and layout ([out, in] for linear weights). Readers produce it, writers consume it,
// the tfjs model is built from it.
import type { Family, LlamaConfig } from './types';

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type CheckpointFormat = 'llama2c-legacy' | 'llama2c-v1' | 'hf-safetensors' | 'gguf';

export interface Checkpoint {
  family: Family;
  config: LlamaConfig;
  /** Hugging Face names (model.embed_tokens.weight, model.layers.0.self_attn.q_proj.weight, ...,
   *  model.norm.weight, lm_head.weight when not tied) → fp32 data in Hugging Face layout */
  tensors: Map<string, HostTensor>;
  format: CheckpointFormat;
  /** the file or directory it came from */
  source: string;
}
