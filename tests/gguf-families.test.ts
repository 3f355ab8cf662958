// GGUFs that zotune writes, read by Hugging Face transformers' own GGUF loader (which undoes llama.cpp's
// q/k permutation and GPT-2's transposition its own way): the logits of a small random model of each
// family (LLaMA with GQA and an untied head, Qwen2 with q/k/v biases, GPT-2) equal ours on both
// engines. So the layout zotune writes, and reads, is llama.cpp's, not merely self-consistent.
// Needs ZOTUNE_PYTHON: a python with transformers, torch and gguf (scripts/python/venv.sh makes one);
// without it the test reports skipped, except on CI, which provides it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createTfjsModel, type ModelConfig, packSequences, randomCheckpoint, readGgufCheckpoint, writeGgufCheckpoint } from '@zotune/models';
import { loadOrt } from '@zotune/ort';

const PYTHON = process.env.ZOTUNE_PYTHON || undefined;
const SKIP = PYTHON === undefined && process.env.CI !== 'true';

const LLAMA: ModelConfig = { dim: 32, hiddenDim: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 40, maxSeqLen: 64, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false };
const FAMILIES: [string, ModelConfig][] = [
  ['llama', LLAMA],
  ['qwen2', { ...LLAMA, family: 'qwen2', ropeTheta: 1e6, tiedEmbeddings: true }],
  ['gpt2', { family: 'gpt2', dim: 32, hiddenDim: 128, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 40, maxSeqLen: 16, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true }],
];
const IDS = [3, 7, 1, 9, 22, 5, 39, 0];

// transformers maps gpt2.context_length to n_ctx, not n_positions, and takes the vocabulary size from
// the tokenizer: both are given to it explicitly (the file has no tokenizer)
const SCRIPT = `
import sys, json, numpy as np, torch
from transformers import AutoModelForCausalLM
d, f, family, ids, out = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
extra = dict(n_positions=int(sys.argv[6]), vocab_size=int(sys.argv[7])) if family == 'gpt2' else {}
m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32, **extra)
with torch.no_grad():
    m(torch.tensor([ids])).logits[0].numpy().astype('<f4').tofile(out)
`;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.skipIf(SKIP)('GGUF written by zotune, read by transformers', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'zotune-gguf-hf-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it.each(FAMILIES)('%s: transformers\' logits equal ours on both engines', async (name, config) => {
    if (PYTHON === undefined) throw new Error('CI: ZOTUNE_PYTHON is not set (scripts/python/venv.sh prints the python to use)');
    const ckpt = randomCheckpoint(config, 11, { std: 0.3 });
    // non-zero biases, so that a bias put in the wrong place shows
    for (const [n, t] of ckpt.tensors) if (n.endsWith('.bias')) t.data.forEach((_, i) => (t.data[i] = 0.3 * Math.sin(i + n.length)));
    const file = `${name}.gguf`;
    writeGgufCheckpoint(join(tmp, file), ckpt, { type: 'f32' });
    const out = join(tmp, `${name}.f32`);
    execFileSync(PYTHON, ['-c', SCRIPT, tmp, file, name, JSON.stringify(IDS), out, String(config.maxSeqLen), String(config.vocabSize)], { stdio: ['ignore', 'ignore', 'pipe'] });
    const b = readFileSync(out);
    const hf = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const back = readGgufCheckpoint(join(tmp, file));
    const ort = await (await loadOrt()).createOrtModel(back, { threads: 1 });
    const tfm = createTfjsModel(back);
    try {
      const batch = packSequences([IDS]);
      expect(maxAbsDiff(await ort.logits(batch), hf), 'ort').toBeLessThan(1e-5);
      const t = tf.tidy(() => tfm.forward(batch));
      expect(maxAbsDiff((await t.data()) as Float32Array, hf), 'tfjs').toBeLessThan(1e-5);
      t.dispose();
    } finally {
      await ort.dispose();
      tfm.dispose();
    }
  }, 120_000);
});
