// LoRA's pieces without a model file: the merge against a plain triple loop, target matching and its
// one-line error, the flag parser, and an adapter over a random tfjs model (B = 0 merges to W0 exactly;
// the value-keyed cache re-merges only when A or B changed).
import { createTfjsModel, randomCheckpoint, STORIES260K_CONFIG } from '@zotune/models';
import { describe, expect, test } from 'vitest';
import { sameBits } from './adapter';
import { parseLoraTargets, peftLabel } from './config';
import { createLora, loraTargetProblem, mergeInto } from './lora';

describe('mergeInto', () => {
  test('W0 + s·A·B as a triple loop in float64, rounded once', () => {
    const [din, r, dout, s] = [5, 3, 4, 0.75];
    const rnd = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 1.7 + k)));
    const [w0, a, b] = [rnd(din * dout, 1), rnd(din * r, 2), rnd(r * dout, 3)];
    const out = new Float32Array(din * dout);
    mergeInto(out, w0, a, b, din, r, dout, s);
    for (let i = 0; i < din; i++)
      for (let o = 0; o < dout; o++) {
        let acc = 0;
        for (let k = 0; k < r; k++) acc += a[i * r + k] * b[k * dout + o];
        expect(out[i * dout + o]).toBe(Math.fround(w0[i * dout + o] + s * acc));
      }
  });
});

describe('targets', () => {
  const names = ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.up_proj.weight'];
  test('a target names at least one per-layer matrix, else one line listing the linears', () => {
    expect(loraTargetProblem(names, ['q_proj', 'up_proj'])).toBeUndefined();
    expect(loraTargetProblem(names, ['q_proj', 'w_proj'])).toBe('--lora-targets: no matrix of the model is named *.w_proj.weight (its linears: q_proj, up_proj)');
  });
  test('--lora-targets: short attention names expand; empty, odd or repeated names are refused', () => {
    expect(parseLoraTargets('q,v')).toEqual(['q_proj', 'v_proj']);
    expect(parseLoraTargets('q_proj, mlp.down_proj')).toEqual(['q_proj', 'mlp.down_proj']);
    expect(() => parseLoraTargets('q,,v')).toThrow(/^--lora-targets: expected a comma-separated list/);
    expect(() => parseLoraTargets('q/v')).toThrow(/is not a module name/);
    expect(() => parseLoraTargets('q,q_proj')).toThrow(/names a module twice/);
    expect(peftLabel({ method: 'lora', rank: 4, alpha: 8, targets: ['q_proj'], initSeed: 1 })).toBe('lora-r4-a8-q_proj');
  });
});

test('an adapter over a tfjs model: B = 0 merges to W0 bit for bit; the merge reruns only when the adapters change', () => {
  const model = createTfjsModel(randomCheckpoint(STORIES260K_CONFIG, 3));
  try {
    const target = model.blocks.find((b) => b.name === 'model.layers.1.self_attn.v_proj.weight')!;
    const w0 = Float32Array.from(target.variable!.dataSync());
    const lora = createLora(model, { method: 'lora', rank: 2, alpha: 4, targets: ['v_proj'], initSeed: 9 });
    expect(lora.blocks.map((b) => b.name)).toEqual(Array.from({ length: STORIES260K_CONFIG.nLayers }, (_, l) => [`model.layers.${l}.self_attn.v_proj.lora_A.weight`, `model.layers.${l}.self_attn.v_proj.lora_B.weight`]).flat());
    lora.sync();
    const v1 = target.variable!;
    expect(sameBits(v1.dataSync() as Float32Array, w0)).toBe(true);
    const id = (target.variable as unknown as { dataId: object }).dataId;
    lora.sync(); // nothing moved: no assign, same tensor data
    expect((target.variable as unknown as { dataId: object }).dataId).toBe(id);
    lora.blocks[3].data![0] = 1; // layer 1's B
    lora.sync();
    expect((target.variable as unknown as { dataId: object }).dataId).not.toBe(id);
    expect(sameBits(target.variable!.dataSync() as Float32Array, w0)).toBe(false);
  } finally {
    model.dispose();
  }
});
