export * from './types';
export * from './merge';
export * from './llama2c';
export * from './hf/tokenizer';
export { BYTE_TO_CHAR, CHAR_TO_BYTE, toByteLevel } from './hf/byte-level';
export * from './load';
export * from './gguf';
