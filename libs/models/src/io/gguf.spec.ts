// GGUF ↔ Checkpoint: llama.cpp's q/k row permutation pinned on a hand-worked case, every family
// round-tripping through a written GGUF bit for bit, and the refusals (architecture, RoPE scaling,
// per-layer head counts, foreign tensors) as one line naming the key or tensor.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type GgufKv, readGguf, readTensorF32, writeGguf } from '@zotune/gguf';
import { randomCheckpoint } from '../llama/random';
import type { ModelConfig } from '../types';
import { ggufConfig, permuteRope, readGgufCheckpoint, writeGgufCheckpoint } from './gguf';

const tmp = mkdtempSync(join(tmpdir(), 'zotune-gguf-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const LLAMA: ModelConfig = { dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 40, maxSeqLen: 64, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false };
const CONFIGS: [string, ModelConfig][] = [
  ['llama (untied, GQA)', LLAMA],
  ['llama (tied)', { ...LLAMA, tiedEmbeddings: true }],
  ['qwen2', { ...LLAMA, family: 'qwen2', ropeTheta: 1e6, normEps: 1e-6 }],
  ['gpt2', { family: 'gpt2', dim: 32, hiddenDim: 128, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 40, maxSeqLen: 16, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true }],
];

describe('permuteRope', () => {
  it("undoes llama.cpp's permutation: within a head of 4 rows, GGUF rows [0,1,2,3] are Hugging Face rows [0,2,1,3]", () => {
    // one head, d = 4, one column: GGUF row 2i + p holds HF row p·d/2 + i
    expect(Array.from(permuteRope(Float32Array.of(0, 1, 2, 3), 1, 1, 'to-hf'))).toEqual([0, 2, 1, 3]);
    // two heads of 4 rows and two columns: each head permuted on its own, columns carried along
    const w = Float32Array.from({ length: 16 }, (_, i) => i);
    expect(Array.from(permuteRope(w, 2, 2, 'to-hf'))).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  });

  it('to-gguf inverts to-hf', () => {
    const w = Float32Array.from({ length: 6 * 8 * 3 }, (_, i) => Math.sin(i));
    expect(permuteRope(permuteRope(w, 6, 3, 'to-hf'), 6, 3, 'to-gguf')).toEqual(w);
  });
});

describe.each(CONFIGS)('GGUF round trip: %s', (_, config) => {
  it('write then read gives the same config and the same bits (F32)', () => {
    const ckpt = randomCheckpoint(config, 3);
    const file = join(tmp, `${config.family ?? 'llama'}-${config.tiedEmbeddings}.gguf`);
    writeGgufCheckpoint(file, ckpt, { type: 'f32' });
    const back = readGgufCheckpoint(file);
    expect(back.config).toEqual({ ...config, normEps: Math.fround(config.normEps), ropeTheta: Math.fround(config.ropeTheta) });
    expect([...back.tensors.keys()]).toEqual([...ckpt.tensors.keys()]);
    for (const [name, t] of ckpt.tensors) {
      expect(back.tensors.get(name)!.shape, name).toEqual(t.shape);
      expect(back.tensors.get(name)!.data, name).toEqual(t.data);
    }
  });

  it('F16 and Q8_0 read back within their rounding, norms and biases exact', () => {
    const ckpt = randomCheckpoint(config, 4);
    for (const type of ['f16', 'q8_0'] as const) {
      const file = join(tmp, `${config.family ?? 'llama'}-${type}.gguf`);
      writeGgufCheckpoint(file, ckpt, { type });
      const back = readGgufCheckpoint(file);
      for (const [name, t] of ckpt.tensors) {
        const got = back.tensors.get(name)!.data;
        let err = 0;
        let mag = 0;
        for (let i = 0; i < t.data.length; i++) {
          err = Math.max(err, Math.abs(got[i] - t.data[i]));
          mag = Math.max(mag, Math.abs(t.data[i]));
        }
        if (t.shape.length === 1) expect(err, `${type} ${name}`).toBe(0);
        // f16: 11-bit mantissa; q8_0: 1/127 of a block's largest magnitude
        else expect(err, `${type} ${name}`).toBeLessThanOrEqual(type === 'f16' ? mag * 2 ** -11 : mag / 127);
      }
    }
  });
});

describe('refusals, one line each', () => {
  const base = join(tmp, 'base.gguf');
  writeGgufCheckpoint(base, randomCheckpoint(LLAMA, 1), { type: 'f32' });
  /** the base file with metadata edited (tensors copied as F32) */
  function edited(name: string, edit: (m: Map<string, GgufKv>) => void, tensorName = (n: string) => n): string {
    const src = readGguf(base);
    const meta = new Map(src.metadata);
    edit(meta);
    const file = join(tmp, name);
    writeGguf(file, meta, src.tensors.map((t) => ({ name: tensorName(t.name), dims: t.dims, type: 'F32' as const, data: readTensorF32(src, t.name) })));
    return file;
  }

  it('an unsupported architecture names it', () => {
    const f = edited('arch.gguf', (m) => m.set('general.architecture', { type: 'string', value: 'mamba' }));
    expect(() => readGgufCheckpoint(f)).toThrow(/arch\.gguf: architecture "mamba" is not supported \(supported: llama, qwen2, gpt2\)$/);
  });

  it('RoPE scaling and per-layer head counts are refused by key', () => {
    const s = edited('scaling.gguf', (m) => m.set('llama.rope.scaling.type', { type: 'string', value: 'yarn' }));
    expect(() => readGgufCheckpoint(s)).toThrow(/metadata llama\.rope\.scaling\.type is "yarn" \(RoPE scaling is not supported/);
    const h = edited('heads.gguf', (m) => m.set('llama.attention.head_count_kv', { type: 'array', itemType: 'u32', value: [2, 2] }));
    expect(() => ggufConfig(readGguf(h))).toThrow(/metadata llama\.attention\.head_count_kv is per layer/);
  });

  it('a tensor the family does not have is named', () => {
    const f = edited('extra.gguf', () => {}, (n) => (n === 'output.weight' ? 'blk.0.ssm_conv1d.weight' : n));
    expect(() => readGgufCheckpoint(f)).toThrow(/extra\.gguf: tensor blk\.0\.ssm_conv1d\.weight is not part of a llama model/);
  });

  it('a missing required key is named', () => {
    const f = edited('nokey.gguf', (m) => m.delete('llama.block_count'));
    expect(() => readGgufCheckpoint(f)).toThrow(/nokey\.gguf: metadata llama\.block_count is missing \(expected a positive integer\)$/);
  });
});
