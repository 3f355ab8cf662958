import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, hostBlocksFromCheckpoint, randomCheckpoint, STORIES260K_CONFIG, type Model } from '@zotune/models';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRunWeights, writeRunWeights } from './weights';

const dir = mkdtempSync(join(tmpdir(), 'zotune-run-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Just what the weight files read and write of a model: config and host blocks. */
const model = (seed: number) => ({ config: STORIES260K_CONFIG, blocks: hostBlocksFromCheckpoint(randomCheckpoint(STORIES260K_CONFIG, seed)) }) as unknown as Model;

describe('run weight files', () => {
  it('writes the bytes of the checkpoint the blocks came from and loads them back into a live model in place', () => {
    const a = model(1);
    const file = join(dir, 'model.safetensors');
    writeRunWeights(file, a, { model: 'stories260K', step: 3 });
    const stamp = { format: 'pt', 'zotune.model': 'stories260K', 'zotune.step': '3' };
    expect(readFileSync(file).equals(Buffer.from(encodeSafetensors(randomCheckpoint(STORIES260K_CONFIG, 1).tensors, stamp)))).toBe(true);
    const b = model(2);
    const arrays = b.blocks.map((x) => x.data);
    loadRunWeights(file, 3, b);
    b.blocks.forEach((x, i) => {
      expect(x.data).toBe(arrays[i]);
      expect(Buffer.from(x.data!.buffer).equals(Buffer.from(a.blocks[i].data!.buffer)), x.name).toBe(true);
    });
  });

  it('refuses a file of another step, in one line, before touching the model', () => {
    const file = join(dir, 'other.safetensors');
    writeRunWeights(file, model(3), { model: 'stories260K', step: 4 });
    const b = model(4);
    const before = b.blocks.map((x) => Float32Array.from(x.data!));
    expect(() => loadRunWeights(file, 5, b)).toThrow(/^[^\n]*holds step 4, expected step 5/);
    expect(() => loadRunWeights(join(dir, 'missing.safetensors'), 5, b)).toThrow(/missing or without a step/);
    b.blocks.forEach((x, i) => expect(x.data).toEqual(before[i]));
  });
});
