// The LLaMA family's files and helpers: tensor names, random checkpoints, the float64 reference forward
// (a test oracle), and the host-side weights ⇄ blocks conversions.
export { randomCheckpoint, FAMILY_15M_CONFIGS, STORIES15M_CONFIG, STORIES260K_CONFIG } from './random';
export { tensorSpecs, validateModelConfig, headDim, type TensorSpec } from './names';
export { referenceLogits } from './reference';
export { transposeHost, hostBlocksFromCheckpoint, checkpointFromBlocks, hfLayoutOfBlocks, hfTensorOf, setBlockFromHf, type HfLayout, type HostBlocksOptions } from './weights';
export { LAYER_LINEARS, LAYER_NORMS, EMBED_NAME, FINAL_NORM_NAME, LM_HEAD_NAME, layerPrefix } from './names';
