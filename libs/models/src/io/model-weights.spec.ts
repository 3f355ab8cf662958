import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../checkpoint';
import { randomCheckpoint } from '../llama/random';
import { checkpointFromBlocks, hostBlocksFromCheckpoint } from '../llama/weights';
import type { ModelConfig } from '../types';
import { checkpointDigest } from './digest';
import { loadModelSafetensors, modelDigest, writeModelSafetensors } from './model-weights';
import { encodeSafetensors, writeSafetensors } from './safetensors';

const dir = mkdtempSync(join(tmpdir(), 'zotune-model-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 40, maxSeqLen: 16, normEps: 1e-5, ropeTheta: 10000 };
// every layout the blocks know: transposed linears, tied and untied heads, biases (qwen2), Conv1D (gpt2)
const CONFIGS: [string, ModelConfig][] = [
  ['llama untied', { ...base, tiedEmbeddings: false }],
  ['llama tied', { ...base, tiedEmbeddings: true }],
  ['qwen2', { ...base, family: 'qwen2', tiedEmbeddings: true }],
  ['gpt2', { ...base, family: 'gpt2', nKvHeads: 4, tiedEmbeddings: true }],
];

const holder = (ckpt: Checkpoint) => ({ config: ckpt.config, blocks: hostBlocksFromCheckpoint(ckpt) });

describe.each(CONFIGS)('model weights without a second copy (%s)', (_, config) => {
  it('writes the bytes of writeSafetensors(checkpointFromBlocks) and hashes as checkpointDigest', () => {
    const ckpt = randomCheckpoint(config, 3);
    const m = holder(ckpt);
    const meta = { format: 'pt', 'zotune.step': '7' };
    const file = join(dir, `${config.family ?? 'llama'}-${config.tiedEmbeddings}.safetensors`);
    writeModelSafetensors(file, m, meta);
    const want = encodeSafetensors(checkpointFromBlocks(config, m.blocks, { format: 'hf-safetensors', source: 'memory' }).tensors, meta);
    expect(Buffer.from(readFileSync(file)).equals(Buffer.from(want))).toBe(true);
    expect(modelDigest(m)).toBe(checkpointDigest(ckpt));
  });

  it('loads a file into the blocks in place, bit for bit', () => {
    const a = holder(randomCheckpoint(config, 1));
    const b = holder(randomCheckpoint(config, 2));
    const arrays = b.blocks.map((x) => x.data);
    const file = join(dir, 'a.safetensors');
    writeModelSafetensors(file, a, { format: 'pt' });
    expect(loadModelSafetensors(b, file)).toEqual({ format: 'pt' });
    b.blocks.forEach((x, i) => {
      expect(x.data).toBe(arrays[i]); // the same arrays (ORT feeds over them stay valid)
      expect(Buffer.from(x.data!.buffer).equals(Buffer.from(a.blocks[i].data!.buffer))).toBe(true);
    });
  });
});

describe('handing a checkpoint over', () => {
  const config = CONFIGS[0][1];
  it('adopts every array (matrices transposed in place) and empties the checkpoint', () => {
    const ckpt = randomCheckpoint(config, 4);
    const arrays = new Map([...ckpt.tensors].map(([n, t]) => [n, t.data]));
    const want = hostBlocksFromCheckpoint(randomCheckpoint(config, 4));
    const blocks = hostBlocksFromCheckpoint(ckpt, undefined, { handOver: true });
    expect(ckpt.tensors.size).toBe(0);
    blocks.forEach((b, i) => {
      expect(b.data).toBe(arrays.get(b.name)); // adopted: no copy
      expect(b.data).toEqual(want[i].data); // the layout of a copied block
      expect(b.shape).toEqual(want[i].shape);
    });
  });

  it('copies (and releases) arrays that are views into a larger buffer', () => {
    const ckpt = randomCheckpoint(config, 7);
    const want = hostBlocksFromCheckpoint(randomCheckpoint(config, 7));
    for (const t of ckpt.tensors.values()) {
      const big = new Float32Array(t.data.length + 1);
      big.set(t.data, 1);
      t.data = big.subarray(1);
    }
    const blocks = hostBlocksFromCheckpoint(ckpt, undefined, { handOver: true });
    expect(ckpt.tensors.size).toBe(0);
    blocks.forEach((b, i) => {
      expect(b.data!.byteOffset).toBe(0);
      expect(b.data).toEqual(want[i].data);
    });
  });

  it('a bad checkpoint throws before anything is handed over', () => {
    const ckpt = randomCheckpoint(config, 5);
    const name = [...ckpt.tensors.keys()].at(-1)!;
    ckpt.tensors.get(name)!.shape = [1, 2, 3];
    expect(() => hostBlocksFromCheckpoint(ckpt, undefined, { handOver: true })).toThrow(name);
    expect(ckpt.tensors.size).toBeGreaterThan(1);
  });

  it('writeSafetensors still writes the bytes of encodeSafetensors', () => {
    const ckpt = randomCheckpoint(config, 6);
    const file = join(dir, 'w.safetensors');
    writeSafetensors(file, ckpt.tensors, { format: 'pt' });
    expect(Buffer.from(readFileSync(file)).equals(Buffer.from(encodeSafetensors(ckpt.tensors, { format: 'pt' })))).toBe(true);
  });
});
