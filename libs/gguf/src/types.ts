// The ggml tensor types zotune reads, with their block geometry (gguf-py's GGML_QUANT_SIZES): a
// tensor of n elements along ne0 is stored as n / blockSize blocks of typeSize bytes each.

/** The tensor types zotune dequantizes; any other type is refused naming the tensor. */
export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K';

export interface GgmlTypeInfo {
  type: GgmlType;
  /** the id stored in a GGUF tensor info (ggml's enum ggml_type) */
  id: number;
  /** elements per block */
  blockSize: number;
  /** bytes per block */
  typeSize: number;
}

const QK_K = 256;
const INFO: GgmlTypeInfo[] = [
  { type: 'F32', id: 0, blockSize: 1, typeSize: 4 },
  { type: 'F16', id: 1, blockSize: 1, typeSize: 2 },
  { type: 'Q4_0', id: 2, blockSize: 32, typeSize: 2 + 16 },
  { type: 'Q4_1', id: 3, blockSize: 32, typeSize: 2 + 2 + 16 },
  { type: 'Q5_0', id: 6, blockSize: 32, typeSize: 2 + 4 + 16 },
  { type: 'Q5_1', id: 7, blockSize: 32, typeSize: 2 + 2 + 4 + 16 },
  { type: 'Q8_0', id: 8, blockSize: 32, typeSize: 2 + 32 },
  { type: 'Q2_K', id: 10, blockSize: QK_K, typeSize: QK_K / 16 + QK_K / 4 + 2 + 2 },
  { type: 'Q3_K', id: 11, blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 4 + 12 + 2 },
  { type: 'Q4_K', id: 12, blockSize: QK_K, typeSize: 2 + 2 + 12 + QK_K / 2 },
  { type: 'Q5_K', id: 13, blockSize: QK_K, typeSize: 2 + 2 + 12 + QK_K / 8 + QK_K / 2 },
  { type: 'Q6_K', id: 14, blockSize: QK_K, typeSize: QK_K / 2 + QK_K / 4 + QK_K / 16 + 2 },
  { type: 'BF16', id: 30, blockSize: 1, typeSize: 2 },
];

export const GGML_TYPES: readonly GgmlType[] = INFO.map((i) => i.type);
const BY_NAME = new Map(INFO.map((i) => [i.type, i]));
const BY_ID = new Map(INFO.map((i) => [i.id, i]));

/** The names of the ggml types zotune does not read, so that a refusal can name what a file holds. */
const OTHER_NAMES: Record<number, string> = {
  9: 'Q8_1', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S',
  23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
  40: 'NVFP4', 41: 'Q1_0',
};

/** Block geometry of a supported type (throws on a name outside GgmlType). */
export function ggmlTypeInfo(type: GgmlType): GgmlTypeInfo {
  const info = BY_NAME.get(type);
  if (!info) throw new Error(`unknown ggml type ${JSON.stringify(type)} (supported: ${GGML_TYPES.join(', ')})`);
  return info;
}

/** The supported type with this id, or undefined. */
export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

/** A human name for any ggml type id ("IQ2_XXS (16)", "type 99"). */
export function ggmlTypeName(id: number): string {
  const name = BY_ID.get(id)?.type ?? OTHER_NAMES[id];
  return name ? `${name} (${id})` : `unknown type id ${id}`;
}
