// The ONNX Runtime forward engine for the LLaMA family: graphs generated from the config, weights as
// inputs over the blocks' own memory.
export { OrtLlama, createOrtLlama, sharedFloats, ortSessionsCreated, ortVersion, type OrtLlamaOptions } from './model';
export { buildLlamaGraph, type GraphOutput } from './graph';
