// safetensors: 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}), then the
// byte buffer the offsets index (relative to its start; contiguous, no holes, no overlaps).
// Reads F32, F16, BF16 and F64 into Float32Array; writes F32.
import { writeAtomicWith } from '@zotune/io';
import type { HostTensor } from '../checkpoint';
import { FileReader, withFile } from './file-reader';
import { numel } from './layout';

export const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};
const READABLE = ['F32', 'F16', 'BF16', 'F64'];
/** the safetensors library refuses headers above 100 MB */
const MAX_HEADER = 100_000_000;

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** absolute byte range in the file */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** Parse and check the header against the file size; every lie about offsets is a one-line error. */
export function readSafetensorsHeader(r: FileReader): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new Error(`${r.file}: ${problem}`);
  };
  if (r.size < 8) fail(`truncated safetensors file: ${r.size} bytes, the header length alone needs 8`);
  const n = Number(new DataView(r.bytes(0, 8).buffer).getBigUint64(0, true));
  if (n > MAX_HEADER) fail(`safetensors header length ${n} is over the 100 MB limit (corrupt file?)`);
  if (8 + n > r.size) fail(`truncated safetensors file: header length ${n} needs ${8 + n} bytes, the file has ${r.size}`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(r.bytes(8, n)).toString('utf8'));
  } catch (e) {
    fail(`safetensors header is not JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('safetensors header is not a JSON object');
  const dataStart = 8 + n;
  const bufferLen = r.size - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string'))
        fail('safetensors __metadata__ must map strings to strings');
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') fail(`safetensors tensor ${name}: expected {dtype, shape, data_offsets}`);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) fail(`safetensors tensor ${name}: unknown dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype as string;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail(`safetensors tensor ${name}: shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
    const shape = e.shape as number[];
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[0] > offs[1])
      fail(`safetensors tensor ${name}: data_offsets ${JSON.stringify(offs)} is not [begin, end] with 0 <= begin <= end`);
    const [b, end] = offs as number[];
    if (end > bufferLen) fail(`safetensors tensor ${name}: data_offsets [${b}, ${end}] are out of range (the data buffer has ${bufferLen} bytes)`);
    const want = numel(shape) * DTYPE_BYTES[dtype];
    if (end - b !== want)
      fail(`safetensors tensor ${name}: data_offsets [${b}, ${end}] span ${end - b} bytes, but ${dtype} × [${shape}] needs ${want}`);
    entries.set(name, { dtype, shape, begin: dataStart + b, end: dataStart + end });
  }
  // the format requires the offsets to tile the buffer exactly
  const sorted = [...entries].sort((x, y) => x[1].begin - y[1].begin || x[1].end - y[1].end);
  let at = dataStart;
  let prev = '';
  for (const [name, e] of sorted) {
    if (e.begin < at) fail(`safetensors tensors ${prev} and ${name} overlap (bytes ${e.begin - dataStart}..${at - dataStart})`);
    if (e.begin > at) fail(`safetensors data buffer has a hole before tensor ${name} (bytes ${at - dataStart}..${e.begin - dataStart} unindexed)`);
    at = e.end;
    prev = name;
  }
  if (at !== r.size) fail(`safetensors data buffer has ${r.size - at} bytes after the last tensor (unindexed)`);
  return { entries, metadata };
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Read one tensor of the header as fp32. */
export function readSafetensorsTensor(r: FileReader, name: string, e: SafetensorsEntry): HostTensor {
  const n = numel(e.shape);
  switch (e.dtype) {
    case 'F32':
      return { shape: e.shape.slice(), data: r.f32(e.begin, n) };
    case 'F16':
    case 'BF16': {
      const raw = new Uint16Array(n);
      r.readInto(new Uint8Array(raw.buffer), e.begin);
      const data = new Float32Array(n);
      if (e.dtype === 'BF16') {
        // bfloat16 is the top half of a float32
        const bits = new Uint32Array(data.buffer);
        for (let i = 0; i < n; i++) bits[i] = raw[i] << 16;
      } else for (let i = 0; i < n; i++) data[i] = f16ToF32(raw[i]);
      return { shape: e.shape.slice(), data };
    }
    case 'F64': {
      const raw = new Float64Array(n);
      r.readInto(new Uint8Array(raw.buffer), e.begin);
      return { shape: e.shape.slice(), data: Float32Array.from(raw) };
    }
    default:
      throw new Error(`${r.file}: safetensors tensor ${name} has dtype ${e.dtype} (zotune reads ${READABLE.join(', ')})`);
  }
}

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** Read a whole safetensors file (or only the tensors `only` names) as fp32. */
export function readSafetensors(file: string, only?: (name: string) => boolean): SafetensorsFile {
  return withFile(file, (r) => {
    const { entries, metadata } = readSafetensorsHeader(r);
    const tensors = new Map<string, HostTensor>();
    for (const [name, e] of entries) if (!only || only(name)) tensors.set(name, readSafetensorsTensor(r, name, e));
    return { tensors, metadata };
  });
}

/** The header of an F32 safetensors file: names sorted, JSON space-padded to 8 bytes; the data follows in `names` order. */
function f32Header(shapes: Map<string, readonly number[]>, metadata: Record<string, string>): { json: Buffer; names: string[]; dataBytes: number } {
  const names = [...shapes.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const name of names) {
    const bytes = 4 * numel(shapes.get(name)!);
    header[name] = { dtype: 'F32', shape: shapes.get(name), data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  return { json, names, dataBytes: off };
}

function checkLengths(tensors: Map<string, HostTensor>): void {
  for (const [name, t] of tensors)
    if (t.data.length !== numel(t.shape)) throw new Error(`safetensors: tensor ${name} holds ${t.data.length} values, shape [${t.shape}] needs ${numel(t.shape)}`);
}

/** The bytes of a safetensors file holding `tensors` as F32 (names sorted, header space-padded to 8 bytes). */
export function encodeSafetensors(tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array {
  checkLengths(tensors);
  const { json, names, dataBytes } = f32Header(new Map([...tensors].map(([n, t]) => [n, t.shape])), metadata);
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/** Write `tensors` as an F32 safetensors file, atomically. */
export function writeSafetensors(file: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = { format: 'pt' }): void {
  checkLengths(tensors);
  writeSafetensorsStreaming(file, new Map([...tensors].map(([n, t]) => [n, t.shape])), (name) => tensors.get(name)!.data, metadata);
}

/**
 * The bytes of writeSafetensors, written atomically with only one tensor in memory at a time:
 * `data(name)` is asked for each tensor in file order (names sorted) and may build it on the spot
 * (e.g. a transposed copy of a model block), so writing a model costs its largest tensor, not its size.
 */
export function writeSafetensorsStreaming(file: string, shapes: Map<string, readonly number[]>, data: (name: string) => Float32Array, metadata: Record<string, string> = { format: 'pt' }): void {
  const { json, names } = f32Header(shapes, metadata);
  writeAtomicWith(file, (write) => {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
    write(len);
    write(json);
    for (const name of names) {
      const d = data(name);
      const want = numel(shapes.get(name)!);
      if (d.length !== want) throw new Error(`safetensors: tensor ${name} holds ${d.length} values, shape [${shapes.get(name)}] needs ${want}`);
      write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
  });
}
