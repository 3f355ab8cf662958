// GGUF reader (versions 2 and 3, little-endian): header, metadata and tensor infos by positioned
// reads on a file descriptor, never the whole file; tensor data on demand, dequantized to fp32.
//
// Layout (llama.cpp docs/gguf.md; every integer little-endian):
//   "GGUF" | version u32 | tensor_count u64 | kv_count u64
//   kv_count × (key: string | value_type u32 | value)        string = len u64 + UTF-8 bytes
//                                                           array  = item_type u32 + count u64 + items
//   tensor_count × (name: string | n_dims u32 | ne[n_dims] u64 | type u32 | offset u64)
//   zero padding to `general.alignment` (u32, default 32) | tensor data (offsets relative to here)
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { dequantize } from './dequantize';
import { type GgmlType, GGML_TYPES, ggmlTypeById, ggmlTypeName } from './types';

if (endianness() !== 'LE') throw new Error('@zotune/gguf needs a little-endian host');

export type GgufValueType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'array' | 'u64' | 'i64' | 'f64';

/** GGUF value type ids in file order (gguf_type). */
export const GGUF_VALUE_TYPES: readonly GgufValueType[] = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];

/**
 * One metadata value. `value` is a number, a bigint (u64/i64 beyond ±2^53), a boolean, a string, or
 * for arrays a JS array of those; an array of arrays (itemType 'array') holds one GgufKv per item,
 * so that the inner item types survive a read → write round trip.
 */
export interface GgufKv {
  type: GgufValueType;
  /** arrays only: the type of the items */
  itemType?: GgufValueType;
  value: unknown;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne0 (the fastest-varying, contiguous dimension) first */
  dims: number[];
  type: GgmlType;
  typeId: number;
  /** absolute byte offset in the file */
  offset: number;
  nbytes: number;
  nElements: number;
}

export interface GgufFile {
  path: string;
  version: 2 | 3;
  alignment: number;
  metadata: Map<string, GgufKv>;
  tensors: GgufTensorInfo[];
  /** absolute offset of the tensor data section */
  dataOffset: number;
  fileSize: number;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS: llama.cpp refuses more */
const MAX_DIMS = 4;
/** arrays of arrays deeper than this are refused (llama.cpp reads none; this only bounds recursion) */
const MAX_NESTING = 8;
const WINDOW = 1 << 20;

/** Bounds-checked little-endian reads through a sliding window of positioned reads. */
class Cursor {
  pos = 0;
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private start = 0; // file offset of buf[0]
  private readonly text = new TextDecoder('utf-8', { fatal: true });

  constructor(
    readonly file: string,
    private readonly fd: number,
    readonly size: number,
  ) {}

  fail(problem: string): never {
    throw new Error(`${this.file}: ${problem}`);
  }

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Make bytes [pos, pos+n) addressable (returns their index in buf; call it before reading buf or view); `what` names the field for a truncation error. */
  private need(n: number, what: string): number {
    if (n > this.size - this.pos)
      this.fail(`truncated GGUF file: ${what} at byte ${this.pos} needs ${n} bytes, the file has ${this.size - this.pos} left (${this.size} bytes)`);
    if (this.pos < this.start || this.pos + n > this.start + this.buf.length) {
      const len = Math.min(Math.max(n, WINDOW), this.size - this.pos);
      this.buf = new Uint8Array(len);
      let done = 0;
      while (done < len) {
        const got = readSync(this.fd, this.buf, done, len - done, this.pos + done);
        if (got === 0) this.fail(`truncated GGUF file: unexpected end at byte ${this.pos + done} (the file shrank while being read?)`);
        done += got;
      }
      this.view = new DataView(this.buf.buffer);
      this.start = this.pos;
    }
    const at = this.pos - this.start;
    this.pos += n;
    return at;
  }

  u8(what: string): number {
    const i = this.need(1, what);
    return this.buf[i];
  }
  i8(what: string): number {
    const i = this.need(1, what);
    return this.view.getInt8(i);
  }
  u16(what: string): number {
    const i = this.need(2, what);
    return this.view.getUint16(i, true);
  }
  i16(what: string): number {
    const i = this.need(2, what);
    return this.view.getInt16(i, true);
  }
  u32(what: string): number {
    const i = this.need(4, what);
    return this.view.getUint32(i, true);
  }
  i32(what: string): number {
    const i = this.need(4, what);
    return this.view.getInt32(i, true);
  }
  f32(what: string): number {
    const i = this.need(4, what);
    return this.view.getFloat32(i, true);
  }
  f64(what: string): number {
    const i = this.need(8, what);
    return this.view.getFloat64(i, true);
  }
  /** u64 as a number when it is at most 2^53, else a bigint */
  u64(what: string): number | bigint {
    const i = this.need(8, what);
    const v = this.view.getBigUint64(i, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(what: string): number | bigint {
    const i = this.need(8, what);
    const v = this.view.getBigInt64(i, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** a u64 count of things at least `perItem` bytes each, checked against the bytes left after it */
  count(what: string, perItem: number, unit: string): number {
    const at = this.pos;
    const v = this.u64(what);
    const max = Math.floor(this.remaining / perItem);
    if (typeof v === 'bigint' || v > max)
      this.fail(`corrupt or truncated GGUF file: ${what} at byte ${at} is ${v}, but the ${this.remaining} bytes left can hold at most ${max} ${unit}`);
    return v;
  }
  string(what: string): string {
    const n = this.count(`${what} length`, 1, 'bytes');
    const at = this.pos;
    const i = this.need(n, what);
    try {
      return this.text.decode(this.buf.subarray(i, i + n));
    } catch {
      return this.fail(`corrupt GGUF file: ${what} at byte ${at} is not valid UTF-8`);
    }
  }
}

/** minimal encoded size of one value of each type, to bound counts read from the file */
const MIN_SIZE: Record<GgufValueType, number> = { u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8, string: 8, array: 12 };

function valueType(c: Cursor, what: string): GgufValueType {
  const at = c.pos;
  const id = c.u32(`${what} type`);
  const t = GGUF_VALUE_TYPES[id];
  if (t === undefined) c.fail(`corrupt GGUF file: ${what} has value type ${id} at byte ${at} (GGUF defines 0..12)`);
  return t;
}

function readScalar(c: Cursor, t: GgufValueType, what: string): unknown {
  switch (t) {
    case 'u8':
      return c.u8(what);
    case 'i8':
      return c.i8(what);
    case 'u16':
      return c.u16(what);
    case 'i16':
      return c.i16(what);
    case 'u32':
      return c.u32(what);
    case 'i32':
      return c.i32(what);
    case 'f32':
      return c.f32(what);
    case 'f64':
      return c.f64(what);
    case 'u64':
      return c.u64(what);
    case 'i64':
      return c.i64(what);
    case 'bool': {
      const at = c.pos;
      const v = c.u8(what);
      if (v > 1) c.fail(`corrupt GGUF file: ${what} is a bool with byte value ${v} at byte ${at} (expected 0 or 1)`);
      return v === 1;
    }
    case 'string':
      return c.string(what);
    case 'array':
      throw new Error('unreachable: arrays are read by readValue');
  }
}

function readValue(c: Cursor, t: GgufValueType, what: string, depth: number): GgufKv {
  if (t !== 'array') return { type: t, value: readScalar(c, t, what) };
  if (depth >= MAX_NESTING) c.fail(`corrupt GGUF file: ${what} nests arrays more than ${MAX_NESTING} deep`);
  const itemType = valueType(c, `${what} item`);
  const n = c.count(`${what} length`, MIN_SIZE[itemType], `${itemType} items`);
  const value: unknown[] = new Array(n);
  if (itemType === 'array') for (let i = 0; i < n; i++) value[i] = readValue(c, 'array', `${what}[${i}]`, depth + 1);
  else for (let i = 0; i < n; i++) value[i] = readScalar(c, itemType, what);
  return { type: 'array', itemType, value };
}

/** Read the header, metadata and tensor infos of a GGUF file, checking them against the file size. */
export function readGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`);
  }
  try {
    return parse(new Cursor(path, fd, fstatSync(fd).size));
  } finally {
    closeSync(fd);
  }
}

function parse(c: Cursor): GgufFile {
  if (c.size < 4) c.fail(`not a GGUF file: ${c.size} bytes, too short for the magic "GGUF"`);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const shown = Buffer.from([magic & 255, (magic >>> 8) & 255, (magic >>> 16) & 255, magic >>> 24]).toString('latin1');
    c.fail(`not a GGUF file: it starts with ${JSON.stringify(shown)}, not "GGUF"`);
  }
  const version = c.u32('version');
  if (version === 1) c.fail('GGUF version 1 is not supported (zotune reads versions 2 and 3; re-convert the model with a current llama.cpp)');
  if (version !== 2 && version !== 3) {
    if ((version & 0xffff) === 0 && version !== 0) c.fail('big-endian GGUF files are not supported (zotune reads little-endian GGUF)');
    c.fail(`GGUF version ${version} is not supported (zotune reads versions 2 and 3)`);
  }
  // a tensor info takes at least 24 bytes (name length, n_dims, type, offset); a kv at least 13
  const nTensors = c.count('tensor count', 24, 'tensor infos');
  const nKv = c.count('metadata kv count', 13, 'key/value pairs');

  const metadata = new Map<string, GgufKv>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key #${i}`);
    if (metadata.has(key)) c.fail(`corrupt GGUF file: metadata key ${key} appears twice`);
    const t = valueType(c, `metadata ${key}`);
    metadata.set(key, readValue(c, t, `metadata ${key}`, 0));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = metadata.get('general.alignment');
  if (al) {
    if (al.type !== 'u32') c.fail(`corrupt GGUF file: general.alignment is ${al.type}, expected u32`);
    alignment = al.value as number;
    if (alignment === 0 || (alignment & (alignment - 1)) !== 0) c.fail(`corrupt GGUF file: general.alignment is ${alignment}, expected a power of two`);
  }

  interface Raw {
    name: string;
    dims: number[];
    typeId: number;
    rel: number;
  }
  const raws: Raw[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`tensor info #${i} name`);
    if (names.has(name)) c.fail(`corrupt GGUF file: tensor ${name} appears twice`);
    names.add(name);
    const nDims = c.u32(`tensor ${name} n_dims`);
    if (nDims > MAX_DIMS) c.fail(`corrupt GGUF file: tensor ${name} has ${nDims} dimensions (GGUF allows at most ${MAX_DIMS})`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = c.u64(`tensor ${name} dimension ${d}`);
      if (typeof v === 'bigint' || v > Number.MAX_SAFE_INTEGER) c.fail(`corrupt GGUF file: tensor ${name} dimension ${d} is ${v}`);
      dims.push(v);
    }
    const typeId = c.u32(`tensor ${name} type`);
    const rel = c.u64(`tensor ${name} offset`);
    if (typeof rel === 'bigint') c.fail(`corrupt GGUF file: tensor ${name} has data offset ${rel}, beyond any file`);
    raws.push({ name, dims, typeId, rel });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;

  const tensors: GgufTensorInfo[] = [];
  for (const { name, dims, typeId, rel } of raws) {
    const info = ggmlTypeById(typeId);
    if (!info) c.fail(`tensor ${name} has type ${ggmlTypeName(typeId)}, not supported (supported: ${GGML_TYPES.join(', ')})`);
    let nElements = 1;
    for (const d of dims) nElements *= d;
    if (!Number.isSafeInteger(nElements)) c.fail(`corrupt GGUF file: tensor ${name} has dims [${dims}], over 2^53 elements`);
    const ne0 = dims.length ? dims[0] : 1;
    if (ne0 % info.blockSize !== 0)
      c.fail(`corrupt GGUF file: tensor ${name} is ${info.type} with a row of ${ne0} elements, not a multiple of its block size ${info.blockSize}`);
    const nbytes = (nElements / info.blockSize) * info.typeSize;
    if (rel % alignment !== 0) c.fail(`corrupt GGUF file: tensor ${name} has data offset ${rel}, not a multiple of the alignment ${alignment}`);
    const offset = dataOffset + rel;
    if (offset + nbytes > c.size)
      c.fail(`truncated GGUF file: tensor ${name} (${info.type} [${dims}]) needs bytes ${offset}..${offset + nbytes}, the file has ${c.size}`);
    tensors.push({ name, dims, type: info.type, typeId, offset, nbytes, nElements });
  }
  // tensors must not share bytes
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (b.offset < a.offset + a.nbytes) c.fail(`corrupt GGUF file: tensors ${a.name} and ${b.name} overlap (bytes ${b.offset}..${a.offset + a.nbytes})`);
  }
  return { path: c.file, version, alignment, metadata, tensors, dataOffset, fileSize: c.size };
}

/** The tensor info named `name` (one-line error listing a few names when absent). */
export function ggufTensor(file: GgufFile, name: string): GgufTensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) {
    const some = file.tensors.slice(0, 5).map((x) => x.name);
    throw new Error(`${file.path}: no tensor ${name} (the file has ${file.tensors.length}: ${some.join(', ')}${file.tensors.length > 5 ? ', …' : ''})`);
  }
  return t;
}

/** The raw bytes of a tensor (its blocks as stored). */
export function readTensorBytes(file: GgufFile, name: string): Uint8Array {
  const t = ggufTensor(file, name);
  const out = new Uint8Array(t.nbytes);
  readRange(file, t.offset, out, `tensor ${name}`);
  return out;
}

/** A tensor dequantized to fp32, in ggml element order (row-major over dims reversed: a [ne1, ne0] matrix). */
export function readTensorF32(file: GgufFile, name: string): Float32Array {
  const t = ggufTensor(file, name);
  if (t.type === 'F32') {
    // straight into the result: no second copy
    const out = new Float32Array(t.nElements);
    readRange(file, t.offset, new Uint8Array(out.buffer), `tensor ${name}`);
    return out;
  }
  return dequantize(t.type, readTensorBytes(file, name), t.nElements);
}

function readRange(file: GgufFile, offset: number, into: Uint8Array, what: string): void {
  let fd: number;
  try {
    fd = openSync(file.path, 'r');
  } catch (e) {
    throw new Error(`${file.path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size !== file.fileSize) throw new Error(`${file.path}: the file changed since its header was read (${file.fileSize} → ${size} bytes)`);
    let done = 0;
    while (done < into.length) {
      const n = readSync(fd, into, done, Math.min(1 << 30, into.length - done), offset + done);
      if (n === 0) throw new Error(`${file.path}: unexpected end of file reading ${what} at byte ${offset + done}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}
