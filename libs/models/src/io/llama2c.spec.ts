import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointDigest } from './digest';
import { readLlama2c, readLlama2cLegacy, readLlama2cV1 } from './llama2c';
import { archOf } from '../families/arch';
import { errorOf } from './testing.testkit';

const DATA = process.env.ZOTUNE_DATA ?? resolve(REPO_ROOT, '../shared/data');
const LEGACY = join(DATA, 'models/stories260K/stories260K.bin');
const V1 = join(DATA, 'models/stories260K/stories260K.v1.bin');
const tmp = mkdtempSync(join(tmpdir(), 'zotune-l2c-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(name: string, data: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
}


describe('llama2.c checkpoints', () => {
  const legacy = readLlama2c(LEGACY);

  it('reads the legacy stories260K header and every tensor in HF naming', () => {
    expect(legacy.format).toBe('llama2c-legacy');
    expect(legacy.config).toEqual({
      dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, maxSeqLen: 512, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true,
    });
    expect([...legacy.tensors.keys()].sort()).toEqual(archOf(legacy.config).tensors.map((s) => s.name).sort());
    expect(legacy.tensors.has('lm_head.weight')).toBe(false);
    expect(legacy.tensors.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([32, 64]);
    expect(legacy.tensors.get('model.layers.4.mlp.down_proj.weight')!.shape).toEqual([64, 172]);
    // the first embedding values straight from the file (offset 28), unpermuted
    const raw = readFileSync(LEGACY);
    expect(legacy.tensors.get('model.embed_tokens.weight')!.data[0]).toBe(raw.readFloatLE(28));
    // the first RMSNorm weight follows the 512 × 64 embedding
    expect(legacy.tensors.get('model.layers.0.input_layernorm.weight')!.data[0]).toBe(raw.readFloatLE(28 + 4 * 512 * 64));
  });

  it('gives identical tensors from the version-1 file', () => {
    const v1 = readLlama2c(V1);
    expect(v1.format).toBe('llama2c-v1');
    expect(v1.config).toEqual(legacy.config);
    expect([...v1.tensors.keys()]).toEqual(expect.arrayContaining([...legacy.tensors.keys()]));
    for (const [name, t] of legacy.tensors) {
      expect(v1.tensors.get(name)!.shape).toEqual(t.shape);
      expect(Buffer.from(v1.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    }
    expect(checkpointDigest(v1)).toBe(checkpointDigest(legacy));
  });

  it('reads a separate classifier (negative vocab_size) as lm_head.weight', () => {
    // a tiny legacy file: dim 4, hidden 6, 1 layer, 2 heads, 1 kv head, vocab -3, seq 2
    const [dim, hid, heads, kv, vocab, seq] = [4, 6, 2, 1, 3, 2];
    const hs = dim / heads;
    const counts = [vocab * dim, dim, dim * dim, kv * hs * dim, kv * hs * dim, dim * dim, dim, hid * dim, dim * hid, hid * dim, dim, seq * hs, vocab * dim];
    const total = counts.reduce((a, b) => a + b, 0);
    const buf = Buffer.alloc(28 + 4 * total);
    [dim, hid, 1, heads, kv, -vocab, seq].forEach((v, i) => buf.writeInt32LE(v, 4 * i));
    for (let i = 0; i < total; i++) buf.writeFloatLE(i, 28 + 4 * i);
    const ck = readLlama2c(write('untied.bin', buf));
    expect(ck.config.tiedEmbeddings).toBe(false);
    const head = ck.tensors.get('lm_head.weight')!;
    expect(head.shape).toEqual([3, 4]);
    expect(head.data[0]).toBe(total - vocab * dim); // the classifier is the last block, after the RoPE tables
    expect(ck.tensors.get('model.embed_tokens.weight')!.data[11]).toBe(11);
  });
});

describe('llama2.c bad input: one-line errors naming the file', () => {
  const legacyBytes = readFileSync(LEGACY);
  const v1Bytes = readFileSync(V1);

  it('truncated files', () => {
    const cut = write('cut.bin', legacyBytes.subarray(0, legacyBytes.length - 100));
    expect(errorOf(() => readLlama2c(cut), cut)).toMatch(/truncated llama2\.c checkpoint: its header \(dim 64, .*\) implies 1056540 bytes, the file has 1056440/);
    const cutV1 = write('cut.v1.bin', v1Bytes.subarray(0, 5000));
    expect(errorOf(() => readLlama2c(cutV1), cutV1)).toMatch(/truncated .* implies 1040384 bytes, the file has 5000/);
    const tiny = write('tiny.bin', legacyBytes.subarray(0, 10));
    expect(errorOf(() => readLlama2c(tiny), tiny)).toMatch(/truncated llama2\.c checkpoint: 10 bytes, the header alone needs 28/);
    const tinyV1 = write('tiny.v1.bin', v1Bytes.subarray(0, 100));
    expect(errorOf(() => readLlama2c(tinyV1), tinyV1)).toMatch(/version-1 header alone needs 256/);
    const empty = write('empty.bin', new Uint8Array(0));
    expect(errorOf(() => readLlama2c(empty), empty)).toMatch(/0 bytes/);
  });

  it('header sizes that do not match the file', () => {
    const longer = write('long.bin', Buffer.concat([legacyBytes, Buffer.alloc(64)]));
    expect(errorOf(() => readLlama2c(longer), longer)).toMatch(/header sizes do not match the file: .* implies 1056540 bytes, the file has 1056604/);
    const wrongLayers = Buffer.from(legacyBytes);
    wrongLayers.writeInt32LE(6, 8); // n_layers 5 → 6
    const p = write('layers.bin', wrongLayers);
    expect(errorOf(() => readLlama2c(p), p)).toMatch(/n_layers 6.* implies \d+ bytes, the file has 1056540/);
    const badHeads = Buffer.from(legacyBytes);
    badHeads.writeInt32LE(3, 16); // n_kv_heads 4 → 3 (does not divide 8 heads)
    const q = write('heads.bin', badHeads);
    expect(errorOf(() => readLlama2c(q), q)).toMatch(/n_heads 8 is not a multiple of n_kv_heads 3/);
  });

  it('wrong magic', () => {
    expect(errorOf(() => readLlama2cV1(LEGACY), LEGACY)).toMatch(/wrong magic 0x00000040 \(expected 0x616b3432 "ak42"/);
    const bad = Buffer.from(v1Bytes);
    bad.write('34ka', 0, 'latin1'); // "ak43"
    const p = write('magic.bin', bad);
    expect(errorOf(() => readLlama2c(p), p)).toMatch(/not a llama2\.c checkpoint: wrong magic 0x616b3433/);
    const text = write('text.bin', Buffer.from('hello, this is not a checkpoint at all'));
    expect(errorOf(() => readLlama2c(text), text)).toMatch(/not a llama2\.c checkpoint/);
  });

  it('unsupported version', () => {
    for (const version of [2, 7]) {
      const bad = Buffer.from(v1Bytes);
      bad.writeInt32LE(version, 4);
      const p = write(`version${version}.bin`, bad);
      expect(errorOf(() => readLlama2c(p), p)).toMatch(new RegExp(`unsupported llama2\\.c checkpoint version ${version} \\(zotune reads version 1`));
    }
    const flag = Buffer.from(v1Bytes);
    flag[36] = 7;
    const p = write('flag.bin', flag);
    expect(errorOf(() => readLlama2c(p), p)).toMatch(/shared_classifier flag is 7/);
  });

  it('a missing file', () => {
    const p = join(tmp, 'nope.bin');
    expect(errorOf(() => readLlama2cLegacy(p), p)).toMatch(/cannot read \(no such file\)/);
  });
});
