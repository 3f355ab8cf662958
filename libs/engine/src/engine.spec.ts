import { differentiable, packBatch, randomCheckpoint, type ModelConfig, type Model } from '@zotune/models';
import { describe, expect, it } from 'vitest';
import { chooseEngine, enginePreference, forwardEngine, isGpuBackend, openModel, parseEngine, parseThreads } from './engine';

describe('engine selection', () => {
  it('auto: ORT for forward-only work, tfjs for gradients and on the GPU backend', async () => {
    expect(await chooseEngine('auto', 'forward', { threads: 2 })).toMatchObject({ name: 'ort', threads: 2, ortVersion: '1.30.0' });
    expect(await chooseEngine('auto', 'gradients')).toMatchObject({ name: 'tfjs', reason: 'auto: gradients need tfjs autodiff' });
    expect(await chooseEngine('auto', 'forward', { gpu: true })).toMatchObject({ name: 'tfjs' });
    expect(await chooseEngine('tfjs', 'forward')).toMatchObject({ name: 'tfjs', reason: 'requested' });
  });

  it('falls back to tfjs with a note when onnxruntime-node cannot be loaded; --engine ort then fails in one line', async () => {
    const missing = { ortModule: 'onnxruntime-node-absent' };
    expect(await chooseEngine('auto', 'forward', missing)).toEqual({ name: 'tfjs', reason: 'auto: onnxruntime-node-absent is not installed; fell back to tfjs' });
    await expect(chooseEngine('ort', 'forward', missing)).rejects.toThrow(/^--engine ort: onnxruntime-node-absent is not installed; use --engine tfjs$/);
    await expect(chooseEngine('ort', 'gradients')).rejects.toThrow(/needs gradients/);
  });

  it('parses names and threads, naming the source', () => {
    expect(parseEngine(' ort ')).toBe('ort');
    expect(() => parseEngine('onnx', 'ZOTUNE_ENGINE')).toThrow(/^ZOTUNE_ENGINE: unknown engine "onnx"/);
    // an empty ZOTUNE_ENGINE is unset (auto); an empty --engine is still refused
    const saved = process.env.ZOTUNE_ENGINE;
    try {
      for (const v of ['', '  ']) {
        process.env.ZOTUNE_ENGINE = v;
        expect(enginePreference(undefined)).toBe('auto');
      }
      process.env.ZOTUNE_ENGINE = ' tfjs ';
      expect(enginePreference(undefined)).toBe('tfjs');
      expect(enginePreference('ort')).toBe('ort');
      process.env.ZOTUNE_ENGINE = 'onnx';
      expect(() => enginePreference(undefined)).toThrow(/^ZOTUNE_ENGINE: unknown engine "onnx"; expected one of auto, ort, tfjs$/);
      expect(() => enginePreference('')).toThrow(/^--engine: unknown engine ""/);
    } finally {
      if (saved === undefined) delete process.env.ZOTUNE_ENGINE;
      else process.env.ZOTUNE_ENGINE = saved;
    }
    expect(parseThreads('3')).toBe(3);
    expect(parseThreads(undefined)).toBeGreaterThanOrEqual(1);
    expect(() => parseThreads('1.5')).toThrow(/^--threads: expected an integer >= 1, got "1.5"$/);
    expect(isGpuBackend({ name: 'tensorflow', reason: 'auto: @tensorflow/tfjs-node-gpu is installed' })).toBe(true);
    expect(isGpuBackend({ name: 'tensorflow', reason: 'auto: @tensorflow/tfjs-node is installed' })).toBe(false);
    expect(isGpuBackend({ name: 'wasm', reason: 'auto: native TensorFlow unavailable (@tensorflow/tfjs-node-gpu failed: x)' })).toBe(false);
  });

  it("forwardEngine: a command's --engine/--threads flags, typed or parsed, on the backend in use", async () => {
    const wasm = { name: 'wasm', reason: 'auto' };
    expect(await forwardEngine({ engine: 'ort', threads: '2' }, wasm)).toMatchObject({ name: 'ort', threads: 2 });
    expect(await forwardEngine({ engine: 'tfjs', threads: 3 }, wasm)).toEqual({ name: 'tfjs', reason: 'requested' });
    expect(await forwardEngine({ engine: 'auto' }, { name: 'tensorflow', reason: 'auto: @tensorflow/tfjs-node-gpu is installed' })).toMatchObject({ name: 'tfjs' });
    await expect(forwardEngine({ engine: 'gpu' }, wasm)).rejects.toThrow(/^--engine: unknown engine "gpu"; expected one of auto, ort, tfjs$/);
    await expect(forwardEngine({ engine: 'ort', threads: '0' }, wasm)).rejects.toThrow(/^--threads: expected an integer >= 1, got "0"$/);
  });

  it('openModel: the one Model on either engine (same scores to 1e-5), handOver empties the checkpoint, gradients only on tfjs', async () => {
    const tiny: ModelConfig = { family: 'opt', dim: 16, hiddenDim: 32, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 29, maxSeqLen: 32, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true, preNorm: true };
    const batch = packBatch([[1, 5, 9], [2, 7]], [[[3, 4], [8]], [[11], [12, 13]]]);
    const scores: Float32Array[] = [];
    const models: Model[] = [];
    // head size 4: ORT's GroupQueryAttention needs a multiple of 8, so gqa runs the plain graph; mha runs fused
    for (const [pref, attention] of [['tfjs', undefined], ['ort', 'gqa'], ['ort', 'mha']] as const) {
      const ckpt = randomCheckpoint(tiny, 3, { std: 0.3 });
      const m = await openModel(ckpt, await chooseEngine(pref, 'forward', { threads: 1 }), { handOver: true, attention });
      models.push(m);
      expect(ckpt.tensors.size).toBe(0);
      expect(m.engine).toBe(pref);
      scores.push(await m.scoreCandidates(batch));
    }
    expect(scores[0].length).toBe(4);
    expect(models.slice(1).map((m) => (m as Model & { attention: string }).attention)).toEqual(['plain', 'mha']);
    for (const s of scores.slice(1)) for (let i = 0; i < 4; i++) expect(Math.abs(s[i] - scores[0][i])).toBeLessThan(1e-5);
    expect(differentiable(models[0], 'adam')).toBe(models[0]);
    expect(() => differentiable(models[1], 'adam')).toThrow(/^adam needs gradients \(tfjs autodiff\), which the ort engine has not; use --engine tfjs$/);
    for (const m of models) await m.dispose();
  });
});
