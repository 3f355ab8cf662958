// The writer: round trips through our reader, refusals that leave the disk as it was, and (with
// ZOTUNE_PYTHON) gguf-py reading our file and writing the same content byte for byte.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dequantize, f32ToF16Bits, type GgufKv, type GgufTensorOut, quantizeQ8_0, readGguf, readTensorF32, writeGguf } from './index';
import { PYTHON, firstBitDifference, readF32File, runPython } from './python.testkit';

const dir = mkdtempSync(join(tmpdir(), 'zotune-gguf-w-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** deterministic values with a spread of magnitudes (xorshift, Box–Muller-free) */
function values(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * scale * (i % 7 === 0 ? 100 : 1);
  }
  return out;
}

const META = new Map<string, GgufKv>([
  ['general.architecture', { type: 'string', value: 'llama' }],
  ['general.alignment', { type: 'u32', value: 64 }],
  ['t.u8', { type: 'u8', value: 255 }],
  ['t.i8', { type: 'i8', value: -128 }],
  ['t.u16', { type: 'u16', value: 65535 }],
  ['t.i16', { type: 'i16', value: -32768 }],
  ['t.u32', { type: 'u32', value: 4294967295 }],
  ['t.i32', { type: 'i32', value: -2147483648 }],
  ['t.f32', { type: 'f32', value: Math.fround(0.1) }],
  ['t.u64', { type: 'u64', value: 2n ** 64n - 1n }],
  ['t.u64.small', { type: 'u64', value: 12345 }],
  ['t.i64', { type: 'i64', value: -(2n ** 63n) }],
  ['t.f64', { type: 'f64', value: 1e300 }],
  ['t.bool', { type: 'bool', value: true }],
  ['t.string', { type: 'string', value: 'héllo ✓ 𝄞 <|im_end|>' }],
  ['t.arr.u8', { type: 'array', itemType: 'u8', value: [0, 1, 255] }],
  ['t.arr.f32', { type: 'array', itemType: 'f32', value: [0.5, -2.25] }],
  ['t.arr.bool', { type: 'array', itemType: 'bool', value: [true, false] }],
  ['t.arr.string', { type: 'array', itemType: 'string', value: ['a', '', 'Ġ t'] }],
  ['t.arr.i64', { type: 'array', itemType: 'i64', value: [1, -(2n ** 62n)] }],
  [
    't.arr.nested',
    {
      type: 'array',
      itemType: 'array',
      value: [
        { type: 'array', itemType: 'i32', value: [1, 2] },
        { type: 'array', itemType: 'i32', value: [3] },
      ],
    },
  ],
]);
const TENSORS: GgufTensorOut[] = [
  { name: 'w.f32', dims: [64, 3], type: 'F32', data: values(192, 1) },
  { name: 'w.f16', dims: [32, 5], type: 'F16', data: values(160, 2, 1e-3) },
  { name: 'w.q8_0', dims: [96, 4], type: 'Q8_0', data: values(384, 3) },
  { name: 'v.f32', dims: [5], type: 'F32', data: values(5, 4) },
];

describe('writeGguf → readGguf', () => {
  const path = join(dir, 'rt.gguf');
  writeGguf(path, META, TENSORS);
  const f = readGguf(path);

  it('keeps every metadata key, type and value, in order', () => {
    expect(f.version).toBe(3);
    expect([...f.metadata]).toEqual([...META]);
    expect(f.alignment).toBe(64);
    expect(f.dataOffset % 64).toBe(0);
  });

  it('keeps the tensors: F32 exactly, F16 rounded to nearest even, Q8_0 as quantizeQ8_0 rounds', () => {
    expect(f.tensors.map((t) => [t.name, t.dims, t.type])).toEqual(TENSORS.map((t) => [t.name, t.dims, t.type]));
    for (const t of f.tensors) expect(t.offset % 64, t.name).toBe(0);
    expect(firstBitDifference(readTensorF32(f, 'w.f32'), TENSORS[0].data)).toBe(-1);
    expect(firstBitDifference(readTensorF32(f, 'v.f32'), TENSORS[3].data)).toBe(-1);
    const halves = new Uint16Array(TENSORS[1].data.map(f32ToF16Bits));
    expect(firstBitDifference(readTensorF32(f, 'w.f16'), dequantize('F16', new Uint8Array(halves.buffer), 160))).toBe(-1);
    const q = readTensorF32(f, 'w.q8_0');
    expect(firstBitDifference(q, dequantize('Q8_0', quantizeQ8_0(TENSORS[2].data), 384))).toBe(-1);
    // and Q8_0 is a quantization of the input: within half a step of each block's scale
    for (let b = 0; b < 384 / 32; b++) {
      const block = TENSORS[2].data.subarray(32 * b, 32 * b + 32);
      const step = Math.max(...block.map(Math.abs)) / 127;
      for (let j = 0; j < 32; j++) expect(Math.abs(q[32 * b + j] - block[j])).toBeLessThanOrEqual(step * 0.5 + step * 1e-3);
    }
  });

  it('adds general.alignment for a non-default opts.alignment, and pads every tensor to it', () => {
    const p = join(dir, 'al.gguf');
    writeGguf(p, new Map([['general.architecture', { type: 'string', value: 'llama' }]]), TENSORS, { alignment: 256 });
    const g = readGguf(p);
    expect(g.metadata.get('general.alignment')).toEqual({ type: 'u32', value: 256 });
    expect([g.dataOffset, ...g.tensors.map((t) => t.offset)].every((o) => o % 256 === 0)).toBe(true);
    expect(g.fileSize % 256).toBe(0);
    const plain = join(dir, 'plain.gguf');
    writeGguf(plain, new Map(), [TENSORS[3]]);
    expect(readGguf(plain).metadata.size).toBe(0);
    expect(readGguf(plain).alignment).toBe(32);
  });
});

describe('writeGguf refusals', () => {
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const target = join(dir, 'keep.gguf');
  writeFileSync(target, 'the old content');
  const before = sha(target);

  function refusal(meta: Map<string, GgufKv>, tensors: GgufTensorOut[], opts?: { alignment?: number }): string {
    const listing = readdirSync(dir).sort();
    let msg = '';
    try {
      writeGguf(target, meta, tensors, opts);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.startsWith(`${target}: cannot write GGUF: `), msg).toBe(true);
    expect(msg).not.toContain('\n');
    expect(sha(target)).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(listing);
    return msg.slice(`${target}: cannot write GGUF: `.length);
  }
  const m = (key: string, kv: GgufKv) => new Map([[key, kv]]);
  const t = (over: Partial<GgufTensorOut>): GgufTensorOut[] => [{ name: 'x', dims: [32, 2], type: 'F32', data: new Float32Array(64), ...over }];

  it('refuses values that do not fit their type, naming the key', () => {
    expect(refusal(m('k', { type: 'u8', value: 256 }), [])).toBe('metadata k: expected a u8 (an integer 0..255), got 256');
    expect(refusal(m('k', { type: 'i32', value: 1.5 }), [])).toBe('metadata k: expected a i32 (an integer -2147483648..2147483647), got 1.5');
    expect(refusal(m('k', { type: 'u64', value: -1n }), [])).toBe('metadata k: expected a u64 (a safe integer or a bigint in range), got -1n');
    expect(refusal(m('k', { type: 'string', value: 3 }), [])).toBe('metadata k: expected a string, got 3');
    expect(refusal(m('k', { type: 'array', value: [1] }), [])).toMatch(/^metadata k: an array needs itemType/);
    expect(refusal(m('k', { type: 'array', itemType: 'bool', value: [true, 1] }), [])).toBe('metadata k[1]: expected a boolean, got 1');
    expect(refusal(m('k', { type: 'array', itemType: 'array', value: [[1]] }), [])).toMatch(/^metadata k\[0\]: items of an array of arrays are GgufKv/);
    expect(refusal(m('k', { type: 'x' as never, value: 1 }), [])).toMatch(/^metadata k: expected \{type, value\}/);
  });

  it('refuses bad tensors and alignments', () => {
    expect(refusal(new Map(), t({ dims: [32, 3] }))).toBe('tensor x has 64 values, dims [32,3] need 96');
    expect(refusal(new Map(), t({ dims: [0, 2] }))).toBe('tensor x has dims [0,2] (expected 1..4 positive integers, ne0 first)');
    expect(refusal(new Map(), t({ type: 'Q4_1' as never }))).toBe('tensor x has type Q4_1 (zotune writes F32, F16, Q8_0)');
    expect(refusal(new Map(), t({ type: 'Q8_0', dims: [16, 4] }))).toBe('tensor x: Q8_0 needs rows (ne0 = 16) that are a multiple of 32');
    const nan = new Float32Array(64);
    nan[7] = Number.NaN;
    expect(refusal(new Map(), t({ type: 'Q8_0', data: nan }))).toBe('tensor x value #7 is NaN (Q8_0 holds finite values only)');
    expect(refusal(new Map(), [...t({}), ...t({})])).toBe('tensor x is given twice');
    expect(refusal(new Map(), t({ name: 'n'.repeat(64) }))).toBe(`tensor name ${'n'.repeat(64)} is 64 bytes (llama.cpp reads at most 63)`);
    expect(refusal(new Map(), t({}), { alignment: 48 })).toBe('alignment 48 is not a power of two');
    expect(refusal(m('general.alignment', { type: 'u32', value: 64 }), t({}), { alignment: 32 })).toBe('opts.alignment 32 disagrees with metadata general.alignment 64');
    expect(refusal(m('general.alignment', { type: 'u64', value: 64 }), t({}))).toBe('metadata general.alignment must be a u32, got u64');
  });

  it('leaves no temp file when the disk write itself fails', () => {
    const blocked = join(dir, 'sub');
    writeFileSync(blocked, 'a file where a directory should be');
    expect(() => writeGguf(join(blocked, 'x.gguf'), new Map(), t({}))).toThrow();
    expect(existsSync(join(blocked, 'x.gguf'))).toBe(false);
  });
});

// gguf-py reads our file, and its GGUFWriter given the same content writes the same bytes
const PY_READ_AND_WRITE = `
import json, sys
import numpy as np
from gguf import GGUFReader, GGUFWriter, GGMLQuantizationType as Q, GGUFValueType as V
from gguf.quants import dequantize, quantize
ours, spec_path, out_dir = sys.argv[1:4]
r = GGUFReader(ours)
def js(v):
    if isinstance(v, list): return [js(x) for x in v]
    if isinstance(v, int) and abs(v) > 2**53: return {"bigint": str(v)}
    return v
fields = {k: {"types": [t.name for t in f.types], "value": js(f.contents())} for k, f in r.fields.items() if not k.startswith("GGUF.")}
tensors = []
for i, t in enumerate(r.tensors):
    dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1).tofile(f"{out_dir}/{i}.f32")
    tensors.append({"name": t.name, "dims": [int(x) for x in t.shape], "type": t.tensor_type.name})
spec = json.load(open(spec_path))
w = GGUFWriter(f"{out_dir}/py.gguf", "llama")
def val(x):
    if isinstance(x, dict): return int(x["bigint"])
    if isinstance(x, list): return [val(y) for y in x]
    return x
for key, vtype, itype, value in spec["metadata"]:
    if key == "general.alignment": w.add_custom_alignment(value); continue
    w.add_key_value(key, val(value), V[vtype], V[itype] if itype else None)
for name, dims, qtype, f32 in spec["tensors"]:
    x = np.fromfile(f32, dtype=np.float32).reshape(tuple(reversed(dims)))
    if qtype == "F32": w.add_tensor(name, x)
    elif qtype == "F16": w.add_tensor(name, x.astype(np.float16))
    else: w.add_tensor(name, quantize(x, Q.Q8_0), raw_dtype=Q.Q8_0)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print(json.dumps({"fields": fields, "tensors": tensors}))
`;
const PY_NAME: Record<string, string> = {
  u8: 'UINT8', i8: 'INT8', u16: 'UINT16', i16: 'INT16', u32: 'UINT32', i32: 'INT32', f32: 'FLOAT32',
  bool: 'BOOL', string: 'STRING', array: 'ARRAY', u64: 'UINT64', i64: 'INT64', f64: 'FLOAT64',
};
const toJs = (v: unknown): unknown => (typeof v === 'bigint' ? { bigint: String(v) } : Array.isArray(v) ? v.map(toJs) : v);
const fromJs = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(fromJs) : v && typeof v === 'object' && 'bigint' in v ? BigInt((v as { bigint: string }).bigint) : v;
const flatValue = (kv: GgufKv): unknown => (kv.itemType === 'array' ? (kv.value as GgufKv[]).flatMap((x) => flatValue(x) as unknown[]) : kv.value);

describe.skipIf(!PYTHON)('gguf-py and a file zotune wrote', () => {
  it('gguf-py reads every key, type, tensor and value; its GGUFWriter writes the same bytes', () => {
    const path = join(dir, 'ours.gguf');
    writeGguf(path, META, TENSORS);
    const work = mkdtempSync(join(dir, 'py-'));
    const spec = {
      metadata: [...META].map(([k, kv]) => [k, PY_NAME[kv.type], kv.itemType ? PY_NAME[kv.itemType] : null, toJs(kv.itemType === 'array' ? flatValue(kv) : kv.value)]),
      tensors: TENSORS.map((t, i) => {
        writeFileSync(join(work, `in.${i}.f32`), t.data);
        return [t.name, t.dims, t.type, join(work, `in.${i}.f32`)];
      }),
    };
    // GGUFWriter infers the inner type of a nested array from its items: give it the lists
    (spec.metadata.find((x) => x[0] === 't.arr.nested') as unknown[])[3] = [[1, 2], [3]];
    writeFileSync(join(work, 'spec.json'), JSON.stringify(spec));
    const py = JSON.parse(runPython(PY_READ_AND_WRITE, [path, join(work, 'spec.json'), work])) as {
      fields: Record<string, { types: string[]; value: unknown }>;
      tensors: { name: string; dims: number[]; type: string }[];
    };
    expect(Object.keys(py.fields)).toEqual([...META.keys()]);
    for (const [k, kv] of META) {
      const types = [PY_NAME[kv.type], ...(kv.itemType ? [PY_NAME[kv.itemType]] : []), ...(kv.itemType === 'array' ? ['INT32'] : [])];
      expect(py.fields[k].types, k).toEqual(types);
      expect(fromJs(py.fields[k].value), k).toEqual(flatValue(kv));
    }
    expect(py.tensors).toEqual(TENSORS.map((t) => ({ name: t.name, dims: t.dims, type: t.type })));
    const f = readGguf(path);
    TENSORS.forEach((t, i) => expect(firstBitDifference(readF32File(join(work, `${i}.f32`)), readTensorF32(f, t.name)), t.name).toBe(-1));
    expect(createHash('sha256').update(readFileSync(join(work, 'py.gguf'))).digest('hex')).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
  });
});
