// @zotune/gguf: the GGUF file format of llama.cpp and Ollama. Read (v2/v3, every metadata type, tensor
// infos checked against the file, all of F32/F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q2_K..Q6_K dequantized
// to fp32 bit-exact with gguf-py) and write (v3, F32/F16/Q8_0, atomic, streamed tensor by tensor).
export { type GgmlType, type GgmlTypeInfo, GGML_TYPES, ggmlTypeInfo, ggmlTypeName } from './types';
export { dequantize } from './dequantize';
export { f32ToF16Bits } from './f16';
export {
  type GgufFile,
  type GgufKv,
  type GgufTensorInfo,
  type GgufValueType,
  GGUF_VALUE_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  readGguf,
  ggufTensor,
  readTensorBytes,
  readTensorF32,
} from './reader';
export { ggufValues, ggufString, ggufNumber, ggufBool } from './values';
export { quantizeQ8_0 } from './quantize';
export { GGUF_OUT_TYPES, type GgufOutType, type GgufTensorOut, writeGguf } from './writer';
