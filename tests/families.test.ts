// The model families against their golden fixtures (tests/fixtures/families, written by
// scripts/fixtures/make-families.sh from a plain-PyTorch forward of the Hugging Face equations):
// logits to 1e-5 on both engines, the packed prompt + candidates batch (restarting positions, learned
// or rotary) against the reference logits of each whole sequence, and the tokenizer.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@zotune/data';
import { createTfjsModel, packBatch, packSequences, resolveModel, type TfjsModel, type ResolvedModel } from '@zotune/models';
import { loadOrt, type OrtModel } from '@zotune/ort';

const FIXTURES = join(REPO_ROOT, 'tests/fixtures/families');
const FAMILIES = [
  ['llama', 'llama'],
  ['qwen2', 'qwen2'],
  ['opt', 'opt'],
  ['opt-postnorm', 'opt'],
  ['gpt2', 'gpt2'],
] as const;

interface Reference {
  sequences: number[][];
  vocab_size: number;
  /** per sequence, [len, V] */
  logits: Float32Array[];
}

function reference(dir: string): Reference {
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Omit<Reference, 'logits'>;
  const buf = readFileSync(join(dir, 'reference-logits.f32'));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let at = 0;
  const logits = ref.sequences.map((s) => all.subarray(at, (at += s.length * ref.vocab_size)));
  expect(at).toBe(all.length);
  return { ...ref, logits };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** log_softmax(row)[target] in float64 */
function logProb(row: ArrayLike<number>, target: number): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i] - m);
  return row[target] - m - Math.log(z);
}

describe.each(FAMILIES)('family fixture %s', (name, family) => {
  const dir = join(FIXTURES, name);
  let resolved: ResolvedModel;
  let ref: Reference;
  let tfm: TfjsModel;
  let ortm: OrtModel;
  beforeAll(async () => {
    resolved = resolveModel(dir);
    ref = reference(dir);
    tfm = createTfjsModel(resolved.checkpoint);
    ortm = await (await loadOrt()).createOrtModel(resolved.checkpoint, { threads: 1 });
  });
  afterAll(async () => {
    tfm.dispose();
    await ortm.dispose();
  });

  it('loads as its family with Hugging Face names', () => {
    expect(resolved.checkpoint.family).toBe(family);
    expect(tfm.family).toBe(family);
    expect(ortm.family).toBe(family);
    expect(tfm.blocks.map((b) => [b.name, b.kind, b.shape])).toEqual(ortm.blocks.map((b) => [b.name, b.kind, b.shape]));
    expect(new Set(tfm.blocks.map((b) => b.name))).toEqual(new Set(resolved.checkpoint.tensors.keys()));
  });

  it('logits match the PyTorch reference to 1e-5 on both engines', async () => {
    for (const [i, seq] of ref.sequences.entries()) {
      const batch = packSequences([seq]);
      const t = tf.tidy(() => tfm.forward(batch));
      const tfLogits = (await t.data()) as Float32Array;
      t.dispose();
      expect(maxAbsDiff(tfLogits, ref.logits[i]), `tfjs, sequence ${i}`).toBeLessThan(1e-5);
      expect(maxAbsDiff(await ortm.logits(batch), ref.logits[i]), `ort, sequence ${i}`).toBeLessThan(1e-5);
    }
  });

  it('a packed prompt + two candidates scores each candidate as its own sequence (positions restart)', async () => {
    // sequences 0 and 1 share a 5-token prompt; the rest of each is a candidate
    const [a, b] = ref.sequences;
    const P = 5;
    expect(a.slice(0, P)).toEqual(b.slice(0, P));
    const packed = packBatch([a.slice(0, P)], [[a.slice(P), b.slice(P)]]);
    const V = ref.vocab_size;
    const want: number[] = [];
    for (const [s, seq] of [a, b].entries()) for (let t = P; t < seq.length; t++) want.push(logProb(ref.logits[s].subarray((t - 1) * V, t * V), seq[t]));
    expect(maxAbsDiff(await tfm.tokenLogProbs(packed), want)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await ortm.tokenLogProbs(packed), want)).toBeLessThan(1e-5);
  });

  it('tokenizer.json (byte-level BPE) round-trips text', () => {
    const text = 'Once upon a time, the cat saw a big red ball.';
    const ids = resolved.tokenizer.encode(text);
    expect(ids.length).toBeLessThan(text.length); // merges applied
    expect(resolved.tokenizer.decode(ids)).toBe(text);
  });
});
