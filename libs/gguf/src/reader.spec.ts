// The reader against a file gguf-py wrote (tests/fixtures/gguf/reader: every metadata type, a nested
// array, 64-bit values past 2^53, alignment 64, five tensor types) and what gguf-py's own reader makes
// of it; then every way a file can lie: each is one line naming the file and what is wrong.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type GgufKv, ggufBool, ggufNumber, ggufString, ggufValues, readGguf, readTensorF32, writeGguf } from './index';
import { FIXTURES, firstBitDifference, readF32File } from './python.testkit';

const REF = join(FIXTURES, 'reader/ref.gguf');
const refJson = JSON.parse(readFileSync(join(FIXTURES, 'reader/ref.json'), 'utf8')) as {
  alignment: number;
  dataOffset: number;
  fields: Record<string, { types: string[]; value: unknown }>;
  tensors: { name: string; dims: number[]; type: string; offset: number; nbytes: number; nElements: number }[];
};
const PY_TYPE: Record<string, string> = {
  UINT8: 'u8', INT8: 'i8', UINT16: 'u16', INT16: 'i16', UINT32: 'u32', INT32: 'i32', FLOAT32: 'f32',
  BOOL: 'bool', STRING: 'string', ARRAY: 'array', UINT64: 'u64', INT64: 'i64', FLOAT64: 'f64',
};
/** ref.json's encoding of values JSON cannot hold */
function fromJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v && typeof v === 'object' && 'bigint' in v) return BigInt((v as { bigint: string }).bigint);
  return v;
}
/** gguf-py's contents() flattens arrays of arrays */
function flat(kv: GgufKv): unknown {
  return kv.itemType === 'array' ? (kv.value as GgufKv[]).flatMap((x) => flat(x) as unknown[]) : kv.value;
}

describe('a file written by gguf-py', () => {
  const f = readGguf(REF);

  it('has the header, alignment and data offset gguf-py reads', () => {
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(refJson.alignment);
    expect(f.dataOffset).toBe(refJson.dataOffset);
    expect(f.fileSize).toBe(readFileSync(REF).length);
  });

  it('has every metadata key with the types and values gguf-py reads', () => {
    expect([...f.metadata.keys()]).toEqual(Object.keys(refJson.fields));
    for (const [key, { types, value }] of Object.entries(refJson.fields)) {
      const kv = f.metadata.get(key)!;
      expect(kv.type, key).toBe(PY_TYPE[types[0]]);
      if (kv.type === 'array') {
        expect(kv.itemType, key).toBe(PY_TYPE[types[1]]);
        if (kv.itemType === 'array') for (const inner of kv.value as GgufKv[]) expect(inner.itemType, key).toBe(PY_TYPE[types[2]]);
        expect(flat(kv), key).toEqual(fromJson(value));
      } else expect(kv.value, key).toEqual(fromJson(value));
    }
    // 64-bit values within 2^53 are numbers, beyond it bigints
    expect(f.metadata.get('t.u64.small')?.value).toBe(12345);
    expect(ggufValues(f).get('t.arr.nested')).toEqual([[1, 2], [3]]);
  });

  it('has the tensor infos gguf-py reads, and their data dequantized bit for bit as gguf-py does', () => {
    expect(f.tensors.map(({ name, dims, type, offset, nbytes, nElements }) => ({ name, dims, type, offset, nbytes, nElements }))).toEqual(refJson.tensors);
    f.tensors.forEach((t, i) => expect(firstBitDifference(readTensorF32(f, t.name), readF32File(join(FIXTURES, `reader/ref.${i}.f32`))), t.name).toBe(-1));
  });

  it('gives typed values, and one-line errors naming the file and key', () => {
    expect(ggufString(f, 'general.architecture', true)).toBe('llama');
    expect(ggufNumber(f, 't.i16')).toBe(-32768);
    expect(ggufBool(f, 't.bool.true')).toBe(true);
    expect(ggufString(f, 'no.such.key')).toBeUndefined();
    expect(() => ggufString(f, 'no.such.key', true)).toThrow(`${REF}: GGUF metadata has no no.such.key (expected a string)`);
    expect(() => ggufNumber(f, 't.string')).toThrow(`${REF}: GGUF metadata t.string is a string, expected a number`);
    expect(() => ggufBool(f, 't.arr.u8')).toThrow(`${REF}: GGUF metadata t.arr.u8 is an array of u8, expected a bool`);
    expect(() => ggufNumber(f, 't.u64')).toThrow(`${REF}: GGUF metadata t.u64 is 18446744073709551615, beyond the integers a double holds exactly`);
    expect(() => readTensorF32(f, 'nope')).toThrow(`${REF}: no tensor nope (the file has 6: a.f32, b.f16, c.q8_0, d.q4_1, e.q6_k, …)`);
  });
});

describe('corrupt, truncated and unsupported files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zotune-gguf-bad-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const good = readFileSync(REF);
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

  /** write `bytes` to a file, read it, and return the error (asserting it is one line naming the file, and the file is unchanged) */
  function refusal(bytes: Uint8Array, name = 'bad.gguf'): string {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    const before = sha(p);
    let msg = '';
    try {
      readGguf(p);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg, 'no error').not.toBe('');
    expect(msg.startsWith(`${p}: `), msg).toBe(true);
    expect(msg).not.toContain('\n');
    expect(sha(p)).toBe(before);
    return msg.slice(p.length + 2);
  }
  const edit = (fn: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    fn(b);
    return b;
  };
  /** byte offset of a length-prefixed string's length field */
  const at = (s: string) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(s)));
    const i = good.indexOf(Buffer.concat([len, Buffer.from(s)]));
    if (i < 0) throw new Error(`fixture has no ${s}`);
    return i;
  };
  /** positions in the tensor info of `name` (all its tensors are 1-D or 2-D) */
  const info = (name: string) => {
    const nDims = at(name) + 8 + name.length;
    const type = nDims + 4 + 8 * good.readUInt32LE(nDims);
    return { nDims, type, offset: type + 4 };
  };
  /** where the value of metadata `key` starts (after its type) */
  const value = (key: string) => at(key) + 8 + key.length + 4;

  it('refuses a truncation anywhere before the end of the last tensor, and reads one after it', () => {
    const end = Math.max(...refJson.tensors.map((t) => t.offset + t.nbytes));
    // every length through the fixed header, then a stride through the metadata, tensor infos and data
    // (prime strides, so cuts land on every field boundary class; writing files is the slow part)
    const cuts = [...Array(64).keys()];
    for (let n = 64; n < refJson.dataOffset; n += 7) cuts.push(n);
    for (let n = refJson.dataOffset; n < good.length; n += 61) cuts.push(n);
    cuts.push(end - 1, end, good.length);
    for (const n of cuts) {
      const p = join(dir, 'cut.gguf');
      writeFileSync(p, good.subarray(0, n));
      if (n >= end) expect(readGguf(p).tensors.length).toBe(6);
      else expect(refusal(good.subarray(0, n), 'cut.gguf')).toMatch(/^(truncated GGUF file|not a GGUF file|corrupt GGUF file|corrupt or truncated GGUF file)/);
    }
    expect(refusal(good.subarray(0, refJson.dataOffset - 100))).toMatch(/^truncated GGUF file: tensor .* at byte \d+ needs \d+ bytes, the file has \d+ left \(988 bytes\)$/);
    expect(refusal(good.subarray(0, end - 1))).toBe(`truncated GGUF file: tensor f.vec (F32 [5]) needs bytes ${end - 20}..${end}, the file has ${end - 1}`);
  });

  it('refuses what is not GGUF, version 1, other versions and big-endian files', () => {
    expect(refusal(Buffer.from('PK\x03\x04 not gguf at all'))).toBe('not a GGUF file: it starts with "PK\\u0003\\u0004", not "GGUF"');
    expect(refusal(Buffer.from('GG'))).toBe('not a GGUF file: 2 bytes, too short for the magic "GGUF"');
    expect(refusal(edit((b) => b.writeUInt32LE(1, 4)))).toMatch(/^GGUF version 1 is not supported \(zotune reads versions 2 and 3/);
    expect(refusal(edit((b) => b.writeUInt32LE(4, 4)))).toBe('GGUF version 4 is not supported (zotune reads versions 2 and 3)');
    expect(refusal(edit((b) => b.writeUInt32BE(3, 4)))).toBe('big-endian GGUF files are not supported (zotune reads little-endian GGUF)');
  });

  it('reads version 2 (the same layout)', () => {
    const p = join(dir, 'v2.gguf');
    writeFileSync(p, edit((b) => b.writeUInt32LE(2, 4)));
    expect(readGguf(p).version).toBe(2);
  });

  it('refuses absurd counts and lengths before allocating anything', () => {
    expect(refusal(edit((b) => b.writeBigUInt64LE(1n << 60n, 8)))).toMatch(/^corrupt or truncated GGUF file: tensor count at byte 8 is 1152921504606846976, but the \d+ bytes left can hold at most \d+ tensor infos$/);
    expect(refusal(edit((b) => b.writeBigUInt64LE(10n ** 9n, 16)))).toMatch(/^corrupt or truncated GGUF file: metadata kv count at byte 16 is 1000000000, but/);
    expect(refusal(edit((b) => b.writeBigUInt64LE(1n << 40n, 24)))).toMatch(/^corrupt or truncated GGUF file: metadata key #0 length at byte 24 is 1099511627776, but the \d+ bytes left can hold at most \d+ bytes$/);
    expect(refusal(edit((b) => b.writeBigUInt64LE(1n << 63n, 24)))).toMatch(/^corrupt or truncated GGUF file: metadata key #0 length at byte 24 is 9223372036854775808/);
    const arr = value('t.arr.string');
    expect(refusal(edit((b) => b.writeBigUInt64LE(10n ** 6n, arr + 4)))).toMatch(/^corrupt or truncated GGUF file: metadata t\.arr\.string length at byte \d+ is 1000000, but .* at most \d+ string items$/);
    expect(refusal(edit((b) => b.writeBigUInt64LE(10n ** 6n, arr + 12)))).toMatch(/^corrupt or truncated GGUF file: metadata t\.arr\.string length at byte \d+ is 1000000, but .* at most \d+ bytes$/);
  });

  it('refuses bad value types, bools and UTF-8, and duplicate keys', () => {
    expect(refusal(edit((b) => b.writeUInt32LE(13, value('t.u8') - 4)))).toMatch(/^corrupt GGUF file: metadata t\.u8 has value type 13 at byte \d+ \(GGUF defines 0\.\.12\)$/);
    expect(refusal(edit((b) => b.writeUInt8(2, value('t.bool.true'))))).toMatch(/^corrupt GGUF file: metadata t\.bool\.true is a bool with byte value 2 at byte \d+ \(expected 0 or 1\)$/);
    expect(refusal(edit((b) => b.writeUInt8(0xff, value('t.string') + 8)))).toMatch(/^corrupt GGUF file: metadata t\.string at byte \d+ is not valid UTF-8$/);
    expect(refusal(edit((b) => b.write('t.u8', at('t.i8') + 8)))).toBe('corrupt GGUF file: metadata key t.u8 appears twice');
  });

  it('refuses arrays nested deeper than 8 and dimensions beyond 2^53', () => {
    let kv: GgufKv = { type: 'array', itemType: 'u8', value: [1] };
    for (let i = 0; i < 8; i++) kv = { type: 'array', itemType: 'array', value: [kv] };
    writeGguf(join(dir, 'deep.gguf'), new Map([['deep', kv]]), []);
    expect(refusal(readFileSync(join(dir, 'deep.gguf')))).toBe('corrupt GGUF file: metadata deep[0][0][0][0][0][0][0][0] nests arrays more than 8 deep');
    expect(refusal(edit((b) => b.writeBigUInt64LE(1n << 60n, info('f.vec').nDims + 4)))).toBe('corrupt GGUF file: tensor f.vec dimension 0 is 1152921504606846976');
  });

  it('refuses a bad general.alignment', () => {
    expect(refusal(edit((b) => b.writeUInt32LE(48, value('general.alignment'))))).toBe('corrupt GGUF file: general.alignment is 48, expected a power of two');
    expect(refusal(edit((b) => b.writeUInt32LE(5, value('general.alignment') - 4)))).toBe('corrupt GGUF file: general.alignment is i32, expected u32');
  });

  it('refuses unsupported tensor types naming the tensor and the type', () => {
    const supported = '(supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, BF16)';
    expect(refusal(edit((b) => b.writeUInt32LE(16, info('c.q8_0').type)))).toBe(`tensor c.q8_0 has type IQ2_XXS (16), not supported ${supported}`);
    expect(refusal(edit((b) => b.writeUInt32LE(28, info('a.f32').type)))).toBe(`tensor a.f32 has type F64 (28), not supported ${supported}`);
    expect(refusal(edit((b) => b.writeUInt32LE(99, info('a.f32').type)))).toBe(`tensor a.f32 has type unknown type id 99, not supported ${supported}`);
  });

  it('refuses inconsistent tensor infos: duplicates, dims, offsets out of the file, misaligned or overlapping', () => {
    expect(refusal(edit((b) => b.write('a.f32', at('b.f16') + 8)))).toBe('corrupt GGUF file: tensor a.f32 appears twice');
    expect(refusal(edit((b) => b.writeUInt32LE(5, info('a.f32').nDims)))).toBe('corrupt GGUF file: tensor a.f32 has 5 dimensions (GGUF allows at most 4)');
    expect(refusal(edit((b) => b.writeBigUInt64LE(33n, info('c.q8_0').nDims + 4)))).toBe(
      'corrupt GGUF file: tensor c.q8_0 is Q8_0 with a row of 33 elements, not a multiple of its block size 32',
    );
    expect(refusal(edit((b) => b.writeBigUInt64LE(1n << 20n, info('a.f32').nDims + 12)))).toMatch(/^truncated GGUF file: tensor a\.f32 \(F32 \[64,1048576\]\) needs bytes \d+\.\.\d+, the file has 2944$/);
    expect(refusal(edit((b) => b.writeBigUInt64LE(1n << 62n, info('f.vec').offset)))).toBe('corrupt GGUF file: tensor f.vec has data offset 4611686018427387904, beyond any file');
    expect(refusal(edit((b) => b.writeBigUInt64LE(4096n, info('f.vec').offset)))).toBe('truncated GGUF file: tensor f.vec (F32 [5]) needs bytes 5184..5204, the file has 2944');
    expect(refusal(edit((b) => b.writeBigUInt64LE(8n, info('f.vec').offset)))).toBe('corrupt GGUF file: tensor f.vec has data offset 8, not a multiple of the alignment 64');
    expect(refusal(edit((b) => b.writeBigUInt64LE(0n, info('b.f16').offset)))).toBe('corrupt GGUF file: tensors a.f32 and b.f16 overlap (bytes 1088..1856)');
  });

  it('names a file it cannot open', () => {
    expect(() => readGguf(join(dir, 'absent.gguf'))).toThrow(`${join(dir, 'absent.gguf')}: cannot read (no such file)`);
    expect(readdirSync(dir)).not.toContain('absent.gguf');
  });
});
