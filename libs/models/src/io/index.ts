export * from './rotary';
export { validateCheckpoint, configProblem } from './layout';
export * from './llama2c';
export * from './safetensors';
export * from './hf-config';
export * from './hf-dir';
export * from './digest';
export * from './resolve';
export { FileReader } from './file-reader';
