// The tfjs engine: one forward for every family (fused wasm kernels where the family allows them, tfjs
// ops otherwise), differentiable (TensorModel) and behind the engine-neutral Model.
export { TfjsModel, createTfjsModel, toCheckpoint, geluNew, type TfjsModelOptions } from './model';
export { wasmKernelsAvailable, wasmKernelsFailure } from './kernels/wasm-kernels';
export { registerGradients } from './kernels/gradients';
