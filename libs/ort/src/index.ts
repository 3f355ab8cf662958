// The ONNX Runtime forward engine of every family (one graph builder walking the family's Arch, weights
// as inputs over the blocks' own memory). onnxruntime-node is loaded on demand (loadOrt), so importing
// this entry never fails when it is missing; libs/engine chooses between it and tfjs.
export { countSession, ortSessionsCreated } from './sessions';
export type { OrtModel, OrtModelOptions } from './model';
export { ATTENTION_KINDS, buildGraph, parseAttention, type AttentionKind, type GraphOutput, type GraphVariant } from './graph';

/** The ORT model class and helpers, loaded on demand (throws when onnxruntime-node cannot be loaded). */
export const loadOrt = (): Promise<typeof import('./model')> => import('./model');
