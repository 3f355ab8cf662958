// Plain views of GGUF metadata: what a tokenizer or config builder takes, and typed getters whose
// errors name the file and the key.
import type { GgufFile, GgufKv } from './reader';

/** A metadata value without its type tags (arrays of arrays become nested JS arrays). */
export function plainValue(kv: GgufKv): unknown {
  if (kv.type === 'array' && kv.itemType === 'array') return (kv.value as GgufKv[]).map(plainValue);
  return kv.value;
}

/** Every metadata key with its plain value. */
export function ggufValues(file: GgufFile): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, kv] of file.metadata) out.set(k, plainValue(kv));
  return out;
}

const NUMERIC = new Set(['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'u64', 'i64', 'f64']);

function get(file: GgufFile, key: string, required: boolean, expected: string): GgufKv | undefined {
  const kv = file.metadata.get(key);
  if (!kv && required) throw new Error(`${file.path}: GGUF metadata has no ${key} (expected ${expected})`);
  return kv;
}

function describe(kv: GgufKv): string {
  return kv.type === 'array' ? `an array of ${kv.itemType}` : `a ${kv.type}`;
}

export function ggufString(file: GgufFile, key: string, required: true): string;
export function ggufString(file: GgufFile, key: string, required?: boolean): string | undefined;
/** A string metadata value; undefined when absent unless `required`. */
export function ggufString(file: GgufFile, key: string, required = false): string | undefined {
  const kv = get(file, key, required, 'a string');
  if (!kv) return undefined;
  if (kv.type !== 'string') throw new Error(`${file.path}: GGUF metadata ${key} is ${describe(kv)}, expected a string`);
  return kv.value as string;
}

export function ggufNumber(file: GgufFile, key: string, required: true): number;
export function ggufNumber(file: GgufFile, key: string, required?: boolean): number | undefined;
/** A numeric metadata value of any width (64-bit ones must fit in 2^53); undefined when absent unless `required`. */
export function ggufNumber(file: GgufFile, key: string, required = false): number | undefined {
  const kv = get(file, key, required, 'a number');
  if (!kv) return undefined;
  if (!NUMERIC.has(kv.type)) throw new Error(`${file.path}: GGUF metadata ${key} is ${describe(kv)}, expected a number`);
  if (typeof kv.value === 'bigint') throw new Error(`${file.path}: GGUF metadata ${key} is ${kv.value}, beyond the integers a double holds exactly`);
  return kv.value as number;
}

export function ggufBool(file: GgufFile, key: string, required: true): boolean;
export function ggufBool(file: GgufFile, key: string, required?: boolean): boolean | undefined;
/** A bool metadata value; undefined when absent unless `required`. */
export function ggufBool(file: GgufFile, key: string, required = false): boolean | undefined {
  const kv = get(file, key, required, 'a bool');
  if (!kv) return undefined;
  if (kv.type !== 'bool') throw new Error(`${file.path}: GGUF metadata ${key} is ${describe(kv)}, expected a bool`);
  return kv.value as boolean;
}
