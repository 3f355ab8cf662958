// Golden tests on the real stories260K checkpoint (../shared/data, or $ZOTUNE_DATA): NLL, greedy text,
// the version-1 file against the legacy file, and a safetensors round trip.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packSequences } from '../batch';
import { readHfDir, writeHfDir } from '../io/hf-dir';
import { readLlama2c } from '../io/llama2c';
import { resolveModel, type ResolvedModel } from '../io/resolve';
import { generate, greedyGenerate, meanNll } from '../generate';
import { createTfjsModel, toCheckpoint, type TfjsModel } from './model';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO, '../shared/data');
const DIR = join(DATA, 'models/stories260K');

interface Reference {
  nll_token_ids: number[];
  nll_mean_nats: number;
  nll_text: string;
  prompt: string;
  prompt_token_ids: number[];
  greedy_from_bos_64_ids: number[];
  greedy_from_bos_64_decoded: string;
}
const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8')) as Reference;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each([
  ['fused wasm kernels', true],
  ['tfjs ops', false],
])('stories260K (%s)', (_, kernels) => {
  let resolved: ResolvedModel;
  let model: TfjsModel;
  beforeAll(() => {
    resolved = resolveModel('stories260K', DATA);
    model = createTfjsModel(resolved.checkpoint, { kernels });
  });
  afterAll(() => model.dispose());

  it('mean NLL over the reference ids is 1.26509 nats', async () => {
    const ids = resolved.tokenizer.encode(ref.nll_text, { bos: true }).slice(0, 200);
    expect(ids).toEqual(ref.nll_token_ids);
    const nll = await meanNll(model, ids);
    expect(Math.abs(nll - 1.26509)).toBeLessThan(1e-3);
    expect(Math.abs(nll - ref.nll_mean_nats)).toBeLessThan(1e-4);
  });

  it('greedy 64 tokens from BOS reproduce the reference ids and text', async () => {
    const ids = await greedyGenerate(model, [resolved.tokenizer.bos], 64);
    expect(ids).toEqual(ref.greedy_from_bos_64_ids);
    expect(resolved.tokenizer.decode(ids)).toBe(ref.greedy_from_bos_64_decoded);
  });

  it('sampling is deterministic for a seed and differs across seeds', async () => {
    const a = await generate(model, [1], { maxTokens: 20, temperature: 1, seed: 7 });
    const b = await generate(model, [1], { maxTokens: 20, temperature: 1, seed: 7 });
    const c = await generate(model, [1], { maxTokens: 20, temperature: 1, seed: 8 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe('stories260K files', () => {
  let legacy: TfjsModel;
  const tmp = mkdtempSync(join(tmpdir(), 'zotune-llama-'));
  const rows = packSequences([ref.prompt_token_ids, ref.nll_token_ids.slice(0, 40)]);
  beforeAll(() => {
    legacy = createTfjsModel(readLlama2c(join(DIR, 'stories260K.bin')));
  });
  afterAll(() => {
    legacy.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  const logitsOf = (m: TfjsModel) => {
    const t = m.forward(rows);
    const d = t.dataSync().slice();
    t.dispose();
    return d;
  };

  it('the version-1 file gives the same logits as the legacy file', () => {
    const v1 = createTfjsModel(readLlama2c(join(DIR, 'stories260K.v1.bin')));
    expect(v1.format).toBe('llama2c-v1');
    expect(legacy.format).toBe('llama2c-legacy');
    expect(maxAbsDiff(logitsOf(v1), logitsOf(legacy))).toBe(0);
    v1.dispose();
  });

  it('a safetensors round trip (toCheckpoint → writer → reader → createTfjsModel) gives identical logits', () => {
    writeHfDir(join(tmp, 'hf'), toCheckpoint(legacy));
    const back = createTfjsModel(readHfDir(join(tmp, 'hf')));
    expect(back.format).toBe('hf-safetensors');
    expect(back.config).toEqual(legacy.config);
    expect(maxAbsDiff(logitsOf(back), logitsOf(legacy))).toBe(0);
    back.dispose();
  });

  it('20 forwards leave tf.memory().numTensors unchanged', () => {
    tf.dispose(legacy.forward(rows));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) tf.dispose(legacy.forward(rows));
    expect(tf.memory().numTensors).toBe(before);
  });
});
