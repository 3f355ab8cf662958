// GGUF writer (version 3, little-endian): the header and metadata are encoded in memory (a tokenizer's
// vocabulary is a few MB), then each tensor is converted and written in chunks, so a model's weights
// are never held twice. Atomic: a temp file beside the target, fsync, rename; on any error the temp
// file is removed and the target is untouched. Layout as gguf-py's GGUFWriter writes it: tensor data
// in the order given, each tensor padded to the alignment, including the last.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { tempPathFor } from '@zotune/io';
import { f32BitsToF16Bits } from './f16';
import { quantizeQ8_0Into } from './quantize';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPES, type GgufKv, type GgufValueType } from './reader';
import { ggmlTypeInfo } from './types';

export interface GgufTensorOut {
  name: string;
  /** ggml order: ne0 (the contiguous dimension) first */
  dims: number[];
  type: 'F32' | 'F16' | 'Q8_0';
  data: Float32Array;
}

/** The tensor types writeGguf writes, by their lower-case names (`zotune replay --gguf-type`), with llama.cpp's `general.file_type` of a file of each. */
export const GGUF_OUT_TYPES = { f32: { type: 'F32', fileType: 0 }, f16: { type: 'F16', fileType: 1 }, q8_0: { type: 'Q8_0', fileType: 7 } } as const satisfies Record<string, { type: GgufTensorOut['type']; fileType: number }>;
export type GgufOutType = keyof typeof GGUF_OUT_TYPES;

/** ggml's GGML_MAX_NAME (64) counts the terminating NUL: llama.cpp refuses longer names */
const MAX_NAME_BYTES = 63;
const MAX_DIMS = 4;
/** elements converted per write (F16, Q8_0): a multiple of 32 */
const CHUNK = 1 << 16;

/** A growable little-endian byte buffer. */
class Sink {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  len = 0;

  private room(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.len;
    this.len += n;
    return at;
  }
  u8(v: number): void {
    const at = this.room(1);
    this.buf[at] = v;
  }
  i8(v: number): void {
    const at = this.room(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.room(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.room(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.room(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.room(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.room(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.room(8);
    this.view.setFloat64(at, v, true);
  }
  u64(v: bigint): void {
    const at = this.room(8);
    this.view.setBigUint64(at, v, true);
  }
  i64(v: bigint): void {
    const at = this.room(8);
    this.view.setBigInt64(at, v, true);
  }
  bytes(b: Uint8Array): void {
    const at = this.room(b.length);
    this.buf.set(b, at);
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  pad(alignment: number): void {
    this.room((alignment - (this.len % alignment)) % alignment); // new bytes are zero
  }
}

const INT_RANGE: Partial<Record<GgufValueType, [number, number]>> = {
  u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767], u32: [0, 4294967295], i32: [-2147483648, 2147483647],
};
const BIG_RANGE: Partial<Record<GgufValueType, [bigint, bigint]>> = {
  u64: [0n, (1n << 64n) - 1n],
  i64: [-(1n << 63n), (1n << 63n) - 1n],
};

function encodeValue(s: Sink, t: GgufValueType, v: unknown, what: string, fail: (p: string) => never): void {
  const expected = (desc: string): never => fail(`${what}: expected ${desc}, got ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)}`);
  const int = INT_RANGE[t];
  if (int) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < int[0] || v > int[1]) expected(`a ${t} (an integer ${int[0]}..${int[1]})`);
    const n = v as number;
    if (t === 'u8') s.u8(n);
    else if (t === 'i8') s.i8(n);
    else if (t === 'u16') s.u16(n);
    else if (t === 'i16') s.i16(n);
    else if (t === 'u32') s.u32(n);
    else s.i32(n);
    return;
  }
  const big = BIG_RANGE[t];
  if (big) {
    const b = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : typeof v === 'bigint' ? v : undefined;
    if (b === undefined || b < big[0] || b > big[1]) expected(`a ${t} (a safe integer or a bigint in range)`);
    if (t === 'u64') s.u64(b!);
    else s.i64(b!);
    return;
  }
  switch (t) {
    case 'f32':
    case 'f64':
      if (typeof v !== 'number') expected(`an ${t} number`);
      if (t === 'f32') s.f32(v as number);
      else s.f64(v as number);
      return;
    case 'bool':
      if (typeof v !== 'boolean') expected('a boolean');
      s.u8(v ? 1 : 0);
      return;
    case 'string':
      if (typeof v !== 'string') expected('a string');
      s.string(v as string);
      return;
    default:
      fail(`${what}: value type ${t} cannot be written here`);
  }
}

function encodeKv(s: Sink, kv: GgufKv, what: string, fail: (p: string) => never, withType: boolean): void {
  if (!kv || typeof kv !== 'object' || !GGUF_VALUE_TYPES.includes(kv.type)) fail(`${what}: expected {type, value} with type one of ${GGUF_VALUE_TYPES.join(', ')}`);
  if (withType) s.u32(GGUF_VALUE_TYPES.indexOf(kv.type));
  if (kv.type !== 'array') {
    encodeValue(s, kv.type, kv.value, what, fail);
    return;
  }
  const it = kv.itemType;
  if (it === undefined || !GGUF_VALUE_TYPES.includes(it)) fail(`${what}: an array needs itemType (one of ${GGUF_VALUE_TYPES.join(', ')})`);
  if (!Array.isArray(kv.value)) fail(`${what}: an array's value must be a JS array`);
  const items = kv.value as unknown[];
  s.u32(GGUF_VALUE_TYPES.indexOf(it!));
  s.u64(BigInt(items.length));
  items.forEach((item, i) => {
    if (it === 'array') {
      const inner = item as GgufKv;
      if (!inner || inner.type !== 'array') fail(`${what}[${i}]: items of an array of arrays are GgufKv {type: 'array', itemType, value}`);
      encodeKv(s, inner, `${what}[${i}]`, fail, false);
    } else encodeValue(s, it!, item, `${what}[${i}]`, fail);
  });
}

/** Bytes one tensor takes in the file (before padding). */
function tensorBytes(t: GgufTensorOut): number {
  const { blockSize, typeSize } = ggmlTypeInfo(t.type);
  return (t.data.length / blockSize) * typeSize;
}

/**
 * Write a GGUF v3 file: `metadata` in its Map order, then the tensors in the order given, as F32, F16
 * (rounded to nearest even) or Q8_0 (as ggml rounds it). Everything is checked before the file is opened.
 */
export function writeGguf(path: string, metadata: Map<string, GgufKv>, tensors: GgufTensorOut[], opts: { alignment?: number } = {}): void {
  const fail = (problem: string): never => {
    throw new Error(`${path}: cannot write GGUF: ${problem}`);
  };
  const meta = new Map(metadata);
  const stated = meta.get('general.alignment');
  if (stated && (stated.type !== 'u32' || typeof stated.value !== 'number')) fail(`metadata general.alignment must be a u32, got ${stated.type}`);
  const alignment = opts.alignment ?? (stated?.value as number | undefined) ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment > 0xffffffff || (alignment & (alignment - 1)) !== 0)
    fail(`alignment ${alignment} is not a power of two`);
  if (stated && stated.value !== alignment) fail(`opts.alignment ${alignment} disagrees with metadata general.alignment ${String(stated.value)}`);
  if (!stated && alignment !== GGUF_DEFAULT_ALIGNMENT) meta.set('general.alignment', { type: 'u32', value: alignment });

  const s = new Sink();
  s.u32(GGUF_MAGIC);
  s.u32(3);
  s.u64(BigInt(tensors.length));
  s.u64(BigInt(meta.size));
  for (const [key, kv] of meta) {
    if (key.length === 0) fail('a metadata key is empty');
    s.string(key);
    encodeKv(s, kv, `metadata ${key}`, fail, true);
  }

  const names = new Set<string>();
  let rel = 0;
  for (const t of tensors) {
    const name = t.name;
    if (typeof name !== 'string' || name.length === 0) fail('a tensor has no name');
    const nameBytes = Buffer.byteLength(name, 'utf8');
    if (nameBytes > MAX_NAME_BYTES) fail(`tensor name ${name} is ${nameBytes} bytes (llama.cpp reads at most ${MAX_NAME_BYTES})`);
    if (names.has(name)) fail(`tensor ${name} is given twice`);
    names.add(name);
    if (t.type !== 'F32' && t.type !== 'F16' && t.type !== 'Q8_0') fail(`tensor ${name} has type ${String(t.type)} (zotune writes F32, F16, Q8_0)`);
    if (!Array.isArray(t.dims) || t.dims.length < 1 || t.dims.length > MAX_DIMS || !t.dims.every((d) => Number.isSafeInteger(d) && d > 0))
      fail(`tensor ${name} has dims ${JSON.stringify(t.dims)} (expected 1..${MAX_DIMS} positive integers, ne0 first)`);
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (!(t.data instanceof Float32Array) || t.data.length !== n)
      fail(`tensor ${name} has ${t.data?.length} values, dims [${t.dims}] need ${n}`);
    if (t.type === 'Q8_0' && t.dims[0] % 32 !== 0) fail(`tensor ${name}: Q8_0 needs rows (ne0 = ${t.dims[0]}) that are a multiple of 32`);
    if (t.type === 'Q8_0') {
      const d = t.data;
      // x − x is NaN exactly for ±inf and NaN
      for (let i = 0; i < d.length; i++) if (d[i] - d[i] !== 0) fail(`tensor ${name} value #${i} is ${d[i]} (Q8_0 holds finite values only)`);
    }
    s.string(name);
    s.u32(t.dims.length);
    for (const d of t.dims) s.u64(BigInt(d));
    s.u32(ggmlTypeInfo(t.type).id);
    s.u64(BigInt(rel));
    rel += Math.ceil(tensorBytes(t) / alignment) * alignment;
  }
  s.pad(alignment);

  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      const write = (b: Uint8Array) => {
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off, b.length - off);
      };
      write(s.buf.subarray(0, s.len));
      const zeros = new Uint8Array(alignment);
      for (const t of tensors) {
        writeTensor(t, write);
        const padding = (alignment - (tensorBytes(t) % alignment)) % alignment;
        if (padding) write(zeros.subarray(0, padding));
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function writeTensor(t: GgufTensorOut, write: (b: Uint8Array) => void): void {
  const d = t.data;
  if (t.type === 'F32') {
    write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    return;
  }
  if (t.type === 'F16') {
    const bits = new Uint32Array(d.buffer, d.byteOffset, d.length);
    const h = new Uint16Array(Math.min(CHUNK, d.length));
    for (let at = 0; at < d.length; at += CHUNK) {
      const n = Math.min(CHUNK, d.length - at);
      for (let i = 0; i < n; i++) h[i] = f32BitsToF16Bits(bits[at + i]);
      write(new Uint8Array(h.buffer, 0, 2 * n));
    }
    return;
  }
  const q = new Uint8Array((Math.min(CHUNK, d.length) / 32) * 34);
  for (let at = 0; at < d.length; at += CHUNK) {
    const n = Math.min(CHUNK, d.length - at);
    quantizeQ8_0Into(d.subarray(at, at + n), q, 0);
    write(q.subarray(0, (n / 32) * 34));
  }
}
