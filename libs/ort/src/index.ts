// The ONNX Runtime forward engine for the LLaMA family (graphs generated from the config, weights as
// inputs over the blocks' own memory), and engine selection. onnxruntime-node is loaded on demand by
// openModel, so importing this entry never fails when it is missing.
export * from './engine';
export { ortSessionsCreated } from './sessions';
export type { OrtLlama, OrtLlamaOptions } from './model';
export { ATTENTION_KINDS, buildLlamaGraph, parseAttention, type AttentionKind, type GraphOutput, type GraphVariant } from './graph';

/** The ORT model class and helpers, loaded on demand (throws when onnxruntime-node cannot be loaded). */
export const loadOrt = (): Promise<typeof import('./model')> => import('./model');
