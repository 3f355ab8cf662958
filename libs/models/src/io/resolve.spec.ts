import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { cliMessageOf } from '@zotune/io';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointDigest } from './digest';
import { writeHfDir } from './hf-dir';
import { readCheckpoint, resolveModel } from './resolve';

const DATA = process.env.ZOTUNE_DATA ?? resolve(REPO_ROOT, '../shared/data');
const MODEL = join(DATA, 'models/stories260K');
const ref = JSON.parse(readFileSync(join(MODEL, 'reference.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'zotune-resolve-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected an error');
}

describe('resolveModel', () => {
  const byName = resolveModel('stories260K', DATA);

  it('finds a model by name under <dataDir>/models with its tokenizer', () => {
    expect(byName.name).toBe('stories260K');
    expect(byName.checkpoint.source).toBe(join(MODEL, 'stories260K.bin'));
    expect(byName.checkpoint.format).toBe('llama2c-legacy');
    expect(byName.tokenizerPath).toBe(join(MODEL, 'tok512.bin'));
    expect(byName.tokenizer.encode(ref.prompt, { bos: true })).toEqual(ref.prompt_token_ids);
  });

  it('takes a .bin path (legacy or version 1) with the tokenizer beside it', () => {
    const v1 = resolveModel(join(MODEL, 'stories260K.v1.bin'), '/nonexistent');
    expect(v1.name).toBe('stories260K.v1');
    expect(v1.checkpoint.format).toBe('llama2c-v1');
    expect(v1.tokenizerPath).toBe(join(MODEL, 'tok512.bin'));
    expect(checkpointDigest(v1.checkpoint)).toBe(checkpointDigest(byName.checkpoint));
  });

  it('takes a Hugging Face directory, or its model.safetensors', () => {
    const dir = join(tmp, 'hf-stories');
    writeHfDir(dir, byName.checkpoint, { tokenizerPath: byName.tokenizerPath });
    for (const arg of [dir, join(dir, 'model.safetensors')]) {
      const m = resolveModel(arg, '/nonexistent');
      expect(m.name).toBe('hf-stories');
      expect(m.checkpoint.format).toBe('hf-safetensors');
      expect(checkpointDigest(m.checkpoint)).toBe(checkpointDigest(byName.checkpoint));
      expect(m.tokenizer.decode(ref.greedy_from_bos_64_ids)).toBe(ref.greedy_from_bos_64_decoded);
    }
    expect(checkpointDigest(readCheckpoint(dir))).toBe(checkpointDigest(byName.checkpoint));
  });

  it('says what is missing: the model, or its tokenizer', () => {
    expect(errorOf(() => resolveModel('stories999', DATA))).toMatch(
      /^model "stories999": not a file or directory, and .*models\/stories999 does not exist; fetch it with ensureData\(\{ model: 'stories999' \}\) or pullData\(\) from @zotune\/data/,
    );
    let thrown: unknown;
    try {
      resolveModel('stories999', DATA);
    } catch (e) {
      thrown = e;
    }
    expect(cliMessageOf(thrown)).toMatch(/does not exist; run `zotune data pull --only stories999`/);
    expect(errorOf(() => resolveModel('./missing/model.bin', DATA))).toBe('./missing/model.bin: no such file or directory');
    const lonely = join(tmp, 'lonely');
    mkdirSync(lonely);
    symlinkSync(join(MODEL, 'stories260K.bin'), join(lonely, 'm.bin'));
    expect(errorOf(() => resolveModel(join(lonely, 'm.bin')))).toMatch(/m\.bin: no tokenizer beside the checkpoint \(expected tokenizer\.json, tokenizer\.bin or tok\*\.bin in .*lonely\)/);
    const hfNoTok = join(tmp, 'hf-notok');
    writeHfDir(hfNoTok, byName.checkpoint);
    expect(errorOf(() => resolveModel(hfNoTok))).toMatch(/hf-notok: no tokenizer beside the checkpoint/);
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    expect(errorOf(() => resolveModel(empty))).toMatch(/empty: no model here/);
  });

  it('refuses a tokenizer whose size does not match the model', () => {
    const dir = join(tmp, 'mismatch');
    mkdirSync(dir);
    copyFileSync(join(MODEL, 'stories260K.bin'), join(dir, 'model.bin'));
    // a 512-token vocabulary cut to 300 tokens: valid file, wrong size for the model
    const tok = readFileSync(join(MODEL, 'tok512.bin'));
    let off = 4;
    for (let i = 0; i < 300; i++) off += 8 + tok.readInt32LE(off + 4);
    writeFileSync(join(dir, 'tokenizer.bin'), tok.subarray(0, off));
    expect(errorOf(() => resolveModel(join(dir, 'model.bin')))).toMatch(/tokenizer\.bin: llama2\.c tokenizer has 300 tokens, the model expects 512/);
  });
});

describe('checkpointDigest', () => {
  it('depends on every value, name and shape, not on insertion order', () => {
    const ck = resolveModel('stories260K', DATA).checkpoint;
    const d = checkpointDigest(ck);
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    const reordered = new Map([...ck.tensors].reverse());
    expect(checkpointDigest({ tensors: reordered })).toBe(d);
    const changed = new Map(ck.tensors);
    const norm = ck.tensors.get('model.norm.weight')!;
    const data = norm.data.slice();
    data[63] = Math.fround(data[63] + 1e-3);
    changed.set('model.norm.weight', { shape: norm.shape, data });
    expect(checkpointDigest({ tensors: changed })).not.toBe(d);
    const reshaped = new Map(ck.tensors);
    reshaped.set('model.norm.weight', { shape: [1, 64], data: norm.data });
    expect(checkpointDigest({ tensors: reshaped })).not.toBe(d);
    const renamed = new Map(ck.tensors);
    renamed.delete('model.norm.weight');
    renamed.set('model.norm2.weight', norm);
    expect(checkpointDigest({ tensors: renamed })).not.toBe(d);
  });
});
