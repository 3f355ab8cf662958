import { describe, expect, it } from 'vitest';
import { chooseEngine, forwardEngine, isGpuBackend, parseEngine, parseThreads } from './engine';

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
});
