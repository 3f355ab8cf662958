// The ORT engine against the tfjs model: same logits (max |ort − tfjs| / max |tfjs| ≤ 1e-5) on the real
// stories260K and on random 15M-shape and Hugging Face-format configs (GQA, untied classifier), on
// plain (full logits) and packed (prompt + candidates, scoring positions only) batches.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTfjsModel,
  packBatch,
  packSequences,
  PAD_SEGMENT,
  randomCheckpoint,
  resolveModel,
  STORIES15M_CONFIG,
  type Checkpoint,
  type ModelConfig,
} from '@zotune/models';
import { ortSessionsCreated } from './sessions';
import { createOrtModel, ortAcceptsShared, type OrtModel } from './model';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO, '../shared/data');

/** max |a − b| over max |b|: the error relative to the logits' scale */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

// a Hugging Face-format LlamaForCausalLM shape: GQA (8 heads on 2 kv heads), untied lm_head, theta 5e5
const HF_CFG: ModelConfig = {
  dim: 64,
  hiddenDim: 160,
  nLayers: 3,
  nHeads: 8,
  nKvHeads: 2,
  vocabSize: 300,
  maxSeqLen: 128,
  normEps: 1e-6,
  ropeTheta: 500000,
  tiedEmbeddings: false,
};

/** rows of ids in [1, V) of the given lengths */
function rowsOf(V: number, lengths: number[], seed: number): number[][] {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % (V - 1)) + 1;
  return lengths.map((n) => Array.from({ length: n }, next));
}

const opened: OrtModel[] = [];
afterAll(async () => {
  for (const m of opened) await m.dispose();
});

async function compare(ckpt: Checkpoint, lengths: number[], seed: number): Promise<{ full: number; packed: number; scores: number; trimmed: number }> {
  const V = ckpt.config.vocabSize;
  const tfm = createTfjsModel(ckpt);
  const ortm = await createOrtModel(ckpt, { threads: 1 });
  opened.push(ortm);
  try {
    const plain = packSequences(rowsOf(V, lengths, seed));
    const want = tfm.forward(plain);
    // padding positions attend to nothing: their logits are meaningless on either engine
    const real = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => plain.segments[Math.floor(i / V)] !== PAD_SEGMENT);
    const full = relErr(real(await ortm.logits(plain)), real(want.dataSync()));
    want.dispose();
    // prompt + 3 candidates of different lengths per row
    const prompts = rowsOf(V, lengths.map((n) => Math.max(2, n >> 1)), seed + 1);
    const cands = prompts.map((_, b) => rowsOf(V, [1 + (b % 3), 2, 3], seed + 2 + b));
    const packed = packBatch(prompts, cands);
    const lp = tfm.tokenLogProbsTensor(packed);
    const packedErr = relErr(await ortm.tokenLogProbs(packed), lp.dataSync());
    lp.dispose();
    const sc = tfm.scoreCandidatesTensor(packed);
    const scores = relErr(await ortm.scoreCandidates(packed), sc.dataSync());
    // without the candidates' last tokens (eval's packing): the scores of the full packing
    const trimmed = relErr(await ortm.scoreCandidates(packBatch(prompts, cands, { trimLast: true })), sc.dataSync());
    sc.dispose();
    return { full, packed: packedErr, scores, trimmed };
  } finally {
    tfm.dispose();
  }
}

describe('OrtModel', () => {
  it('equals the tfjs model on the real stories260K (GQA 8/4, tied)', async () => {
    const { checkpoint } = resolveModel('stories260K', DATA);
    const e = await compare(checkpoint, [40, 17, 64], 3);
    expect(e.full).toBeLessThanOrEqual(1e-5);
    expect(e.packed).toBeLessThanOrEqual(1e-5);
    expect(e.scores).toBeLessThanOrEqual(1e-5);
    expect(e.trimmed).toBeLessThanOrEqual(1e-5);
  });

  it('equals the tfjs model on a Hugging Face-format config (GQA 8/2, untied, with linear biases)', async () => {
    const c = randomCheckpoint(HF_CFG, 5, { std: 0.1 });
    const w = c.tensors.get('model.layers.1.self_attn.k_proj.weight')!;
    c.tensors.set('model.layers.1.self_attn.k_proj.bias', { shape: [w.shape[0]], data: Float32Array.from({ length: w.shape[0] }, (_, i) => 0.05 * Math.cos(i)) });
    const e = await compare(c, [33, 20, 9], 7);
    expect(e.full).toBeLessThanOrEqual(1e-5);
    expect(e.packed).toBeLessThanOrEqual(1e-5);
    expect(e.scores).toBeLessThanOrEqual(1e-5);
    expect(e.trimmed).toBeLessThanOrEqual(1e-5);
  });

  it('equals the tfjs model on the stories15M shape (random weights)', async () => {
    const e = await compare(randomCheckpoint(STORIES15M_CONFIG, 1), [24, 16], 11);
    expect(e.full).toBeLessThanOrEqual(1e-5);
    expect(e.packed).toBeLessThanOrEqual(1e-5);
    expect(e.scores).toBeLessThanOrEqual(1e-5);
    expect(e.trimmed).toBeLessThanOrEqual(1e-5);
  });

  it.each([false, true, 'auto'] as const)('keeps each block in one Float32Array (shared %s) and sees in-place edits on the next run', async (shared) => {
    const c = randomCheckpoint(HF_CFG, 2, { std: 0.1 });
    const m = await createOrtModel(c, { threads: 1, shared });
    opened.push(m);
    expect(ortSessionsCreated()).toBeGreaterThan(0);
    // 'auto': shared exactly where this runtime's ORT takes shared inputs (Node >= 22.21), fed zero-copy
    const want = shared === 'auto' ? await ortAcceptsShared() : shared;
    expect(m.sharedWeights).toBe(want);
    for (const b of m.blocks) {
      expect(b.variable).toBeUndefined();
      expect(b.data!.buffer instanceof SharedArrayBuffer).toBe(want);
      expect(b.data!.length).toBe(b.size);
    }
    const batch = packSequences([[1, 2, 3, 4]]);
    const before = await m.logits(batch, Int32Array.of(3));
    const norm = m.blocks.find((b) => b.name === 'model.norm.weight')!;
    norm.data!.fill(2); // in place: the next run must see it
    const after = await m.logits(batch, Int32Array.of(3));
    expect(relErr(after, before)).toBeGreaterThan(0.1);
    norm.data!.fill(1);
    expect(Array.from(await m.logits(batch, Int32Array.of(3)))).toEqual(Array.from(before));
  });

  it('the shared-input probe says what the runtime does: onnxruntime-node 1.30 takes SharedArrayBuffer inputs from Node 22.21 on', async () => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    expect(await ortAcceptsShared()).toBe(major > 22 || (major === 22 && minor >= 21));
  });

  it('an empty ZOTUNE_ORT_ATTENTION is unset (gqa); an unknown one is refused naming it', async () => {
    const saved = process.env.ZOTUNE_ORT_ATTENTION;
    try {
      process.env.ZOTUNE_ORT_ATTENTION = '';
      const m = await createOrtModel(randomCheckpoint(HF_CFG, 2), { threads: 1 });
      opened.push(m);
      expect(m.attention).toBe('gqa');
      process.env.ZOTUNE_ORT_ATTENTION = 'flash';
      await expect(createOrtModel(randomCheckpoint(HF_CFG, 2), { threads: 1 })).rejects.toThrow(/^ZOTUNE_ORT_ATTENTION: unknown attention "flash"; expected one of gqa, mha, plain$/);
    } finally {
      if (saved === undefined) delete process.env.ZOTUNE_ORT_ATTENTION;
      else process.env.ZOTUNE_ORT_ATTENTION = saved;
    }
  });

  it('names the field of a bad batch', async () => {
    const m = await createOrtModel(randomCheckpoint(HF_CFG, 2), { threads: 1 });
    opened.push(m);
    await expect(m.logits(packSequences([[1, 999]]))).rejects.toThrow(/batch\.tokens\[1\] = 999/);
  });
});
