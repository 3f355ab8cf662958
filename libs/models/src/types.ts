// Core model interfaces shared by every lib above models (tasks, zo, policy, meta).
import type * as tf from '@tensorflow/tfjs-core';
import type { PackedBatch, PlainBatch } from './batch';

/**
 * embedding: token table [vocab, hidden]; position: learned position table [positions, hidden] (OPT,
 * GPT-2); matrix: 2-D weight; norm: RMSNorm/LayerNorm weight; bias: additive vector (linear or LayerNorm).
 */
export type BlockKind = 'embedding' | 'position' | 'matrix' | 'norm' | 'bias';

/** The model families zotune loads (Hugging Face architectures in libs/models/src/families/arch.ts). */
export type Family = 'llama' | 'qwen2' | 'opt' | 'gpt2';

/** One trainable parameter tensor. Blocks come in a stable order; `index` is the noise block id j. */
export interface Block {
  /** Hugging Face name, e.g. model.layers.3.mlp.down_proj.weight */
  name: string;
  /** the variable's shape (matrices are stored [in, out], transposed from Hugging Face's [out, in]) */
  shape: number[];
  kind: BlockKind;
  /** number of elements */
  size: number;
  /** position in Model.blocks */
  index: number;
  /** the weights as a tfjs variable (engine tfjs); absent when `data` holds them */
  variable?: tf.Variable;
  /**
   * the block's weights in JS memory, [size] (flattened `shape`), when the engine keeps them there
   * (engine ort: fed to each run as a graph input, so in-place edits are seen by the next run; allocated
   * on a SharedArrayBuffer so worker threads can perturb them). Then `variable` is absent.
   */
  data?: Float32Array;
}

/**
 * A decoder's config. The fields are LLaMA's names for what every family has (hidden size, FFN size,
 * layers, heads, ...); `family` says which architecture they describe (absent: llama).
 */
export interface ModelConfig {
  /** absent means llama (llama2.c files, older callers) */
  family?: Family;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  maxSeqLen: number;
  /** RMSNorm epsilon (llama2.c: 1e-5) */
  normEps: number;
  /** RoPE base (llama2.c: 10000) */
  ropeTheta: number;
  /** classifier shares the token embedding */
  tiedEmbeddings: boolean;
  /** OPT's do_layer_norm_before: LayerNorm before each sublayer (true) or after each residual (false) */
  preNorm?: boolean;
}

/**
 * Prefix tuning's per-layer keys and values that every position attends to, besides the causal
 * mask's keys. Keys are used as given (no RoPE: they stand for keys already rotated, like a KV
 * cache), and the tokens keep their positions. Arrays are read at every forward, so in-place edits
 * are seen by the next one.
 */
export interface AttentionPrefix {
  /** prefix positions P */
  tokens: number;
  /** per layer, [P, nKvHeads·headDim] */
  keys: Float32Array[];
  /** per layer, [P, nKvHeads·headDim] */
  values: Float32Array[];
}

/**
 * LoRA's low-rank branch of some linears, for an engine that computes it beside the frozen weight
 * instead of having W0 + scale·A·B merged into it: each targeted linear then computes
 *   y = x·W0 (+ bias) + scale·((x·A)·B)
 * with W0 [in, out] the model's block (left untouched), A [in, rank] and B [rank, out] (row-major,
 * the model's [in, out] orientation). Arrays are read at every forward, so in-place edits (a ZO
 * perturbation, load()) are seen by the next one.
 */
export interface LoraBranches {
  /** r: every target's A is [in, r] and B [r, out] */
  rank: number;
  /** alpha / r */
  scale: number;
  /** the targeted matrix blocks (by Block.name) with their A [in·r] and B [r·out] */
  targets: { weight: string; a: Float32Array; b: Float32Array }[];
}

/**
 * The one model interface, whichever engine computes it (tfjs: TfjsModel; ONNX Runtime: libs/ort's
 * OrtModel): results on the host, asynchronous. Code that holds a Model never asks which engine it is;
 * what only one engine can do is a capability of the blocks (blockVariable) or of the model
 * (differentiable, for gradients).
 */
export interface Model {
  family: Family;
  /** the engine computing it, for reports (never branched on) */
  engine: 'tfjs' | 'ort';
  config: ModelConfig;
  blocks: Block[];
  /** logits [rows.length, V] at the flat positions `rows` (row · length + t), or [B·T, V] without rows */
  logits(batch: PlainBatch, rows?: Int32Array): Promise<Float32Array>;
  /** log p(target) for every target of the batch, [numTargets]; the classifier runs only at predIndex */
  tokenLogProbs(batch: PackedBatch): Promise<Float32Array>;
  /** mean log-probability of each candidate's tokens, [batch · numCandidates] (row-major [batch, K]) */
  scoreCandidates(batch: PackedBatch): Promise<Float32Array>;
  /** attend to these prefixes from now on (undefined: none); absent when the family has no prefix support */
  setPrefix?(prefix: AttentionPrefix | undefined): void;
  /**
   * compute these linears with LoRA's branch from now on (undefined: none); absent when the engine
   * has no such branch (tfjs: LoRA merges W0 + scale·A·B into the weights instead)
   */
  setLora?(lora: LoraBranches | undefined): void;
  /** the weights back in Hugging Face layout */
  toCheckpoint(): Checkpoint;
  dispose(): void | Promise<void>;
}

/**
 * The differentiable forward (engine tfjs): Model's functions as tensors, usable inside tf.tidy and under
 * tf.variableGrads (Adam, meta-training, oracles). Blocks hold tf.Variables.
 */
export interface TensorModel {
  family: Family;
  config: ModelConfig;
  blocks: Block[];
  /** full logits [B, T, V] for a plain causal batch; costly: prefer tokenLogProbsTensor */
  forward(batch: PlainBatch): tf.Tensor3D;
  /** logits [rows.length, V] at the flat positions `rows` only */
  logitsAt(batch: PlainBatch, rows: Int32Array): tf.Tensor2D;
  /** log p(target) for every target of the batch, [numTargets] */
  tokenLogProbsTensor(batch: PackedBatch): tf.Tensor1D;
  /** mean log-probability of each candidate's tokens, [batch, numCandidates] */
  scoreCandidatesTensor(batch: PackedBatch): tf.Tensor2D;
  setPrefix?(prefix: AttentionPrefix | undefined): void;
  dispose(): void;
}

/**
 * The model's differentiable forward, for what needs gradients (`what` names it in the error): a
 * one-line Error when the engine has none (ort), as blockVariable for a block's weights.
 */
export function differentiable(model: Model, what: string): TensorModel & Model {
  if (typeof (model as Partial<TensorModel>).scoreCandidatesTensor === 'function') return model as TensorModel & Model;
  throw new Error(`${what} needs gradients (tfjs autodiff), which the ${model.engine} engine has not; use --engine tfjs`);
}

// A checkpoint as read from disk, before any tfjs tensor exists: config plus named fp32 arrays in
// Hugging Face naming and layout ([out, in] for linear weights). Readers produce it, writers consume it,
// the tfjs model is built from it.
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type CheckpointFormat = 'llama2c-legacy' | 'llama2c-v1' | 'hf-safetensors' | 'gguf';

export interface Checkpoint {
  family: Family;
  config: ModelConfig;
  /** Hugging Face names (model.embed_tokens.weight, model.layers.0.self_attn.q_proj.weight, ...,
   *  model.norm.weight, lm_head.weight when not tied) → fp32 data in Hugging Face layout */
  tensors: Map<string, HostTensor>;
  format: CheckpointFormat;
  /** the file or directory it came from */
  source: string;
}
