// The LLaMA family: the tfjs model (fused wasm kernels forward and backward, tfjs ops elsewhere),
// random checkpoints, generation and NLL.
export { LlamaModel, createLlama, toCheckpoint, type LlamaOptions, type PlainBatch } from './model';
export { randomCheckpoint, FAMILY_15M_CONFIGS, STORIES15M_CONFIG, STORIES260K_CONFIG } from './random';
export { tensorSpecs, validateLlamaConfig, headDim, type TensorSpec } from './names';
export { attentionBias, MASKED } from './mask';
export { ropeHost } from './rope';
export { referenceLogits } from './reference';
export { transposeHost, hostBlocksFromCheckpoint, checkpointFromBlocks, hfLayoutOfBlocks, hfTensorOf, setBlockFromHf, type HfLayout, type HostBlocksOptions } from './weights';
export { LAYER_LINEARS, LAYER_NORMS, EMBED_NAME, FINAL_NORM_NAME, LM_HEAD_NAME, layerPrefix } from './names';
export { generate, greedyGenerate, meanNll, argmax, sampleLogits, uniformSampler, type GenerateOptions } from './generate';
export { wasmKernelsAvailable, wasmKernelsFailure } from './kernels/wasm-kernels';
export { registerGradients } from './kernels/gradients';
