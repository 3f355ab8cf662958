// The adapter plumbing and LoRA's numbers against values derived here: the bit comparison, the file
// layout (transposed for Hugging Face PEFT) by hand on a 2×3 block, load's refusals, the forward
// proxy, LoRA's A init from the noise specification (normalFillRef) scaled to 1/√(3·in), and the
// merged weight W0 + (alpha/r)·A·B in float64 with a B ≠ 0.
import { createTfjsModel, randomCheckpoint, STORIES260K_CONFIG, type Model } from '@zotune/models';
import { normalFillRef } from '@zotune/tensor';
import { describe, expect, test } from 'vitest';
import { adapterBlock, blocksToTensors, sameBits, tensorsToBlocks, withSync } from './adapter';
import { peftLabel } from './config';
import { createLora, PEFT_PREFIX } from './lora';

describe('sameBits', () => {
  test('equal bits; NaN equals the same NaN; +0 and −0 differ; lengths and offsets respected', () => {
    expect(sameBits(Float32Array.of(1, NaN), Float32Array.of(1, NaN))).toBe(true);
    expect(sameBits(Float32Array.of(0), Float32Array.of(-0))).toBe(false);
    expect(sameBits(Float32Array.of(1, 2), Float32Array.of(1))).toBe(false);
    expect(sameBits(Float32Array.of(1, 2), Float32Array.of(1, 2.0000002))).toBe(false);
    const big = Float32Array.of(9, 1, 2);
    expect(sameBits(big.subarray(1), Float32Array.of(1, 2))).toBe(true);
    expect(sameBits(new Float32Array(0), new Float32Array(0))).toBe(true);
  });
});

describe('adapter file layout', () => {
  const block = () => {
    const b = adapterBlock('x', [2, 3], 4);
    b.data!.set([1, 2, 3, 4, 5, 6]); // [[1, 2, 3], [4, 5, 6]]
    return b;
  };
  test('adapterBlock: a zeroed [r, c] matrix block at its index', () => {
    const b = adapterBlock('n', [3, 5], 2);
    expect(b).toMatchObject({ name: 'n', shape: [3, 5], kind: 'matrix', size: 15, index: 2 });
    expect(b.data).toEqual(new Float32Array(15));
  });
  test('tensors(): as stored, or transposed ([[1, 4], [2, 5], [3, 6]])', () => {
    const t = blocksToTensors([block(), block()], [{ name: 'plain', transpose: false }, { name: 'hf', transpose: true }]);
    expect([...t.keys()]).toEqual(['plain', 'hf']);
    expect(t.get('plain')).toEqual({ shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) });
    expect(t.get('hf')).toEqual({ shape: [3, 2], data: Float32Array.of(1, 4, 2, 5, 3, 6) });
  });
  test('load(): back from either layout; a missing tensor or another shape refused by name', () => {
    const b = adapterBlock('x', [2, 3], 0);
    tensorsToBlocks(new Map([['hf', { shape: [3, 2], data: Float32Array.of(1, 4, 2, 5, 3, 6) }]]), [b], [{ name: 'hf', transpose: true }], 'f');
    expect(b.data).toEqual(Float32Array.of(1, 2, 3, 4, 5, 6));
    tensorsToBlocks(new Map([['p', { shape: [2, 3], data: Float32Array.of(6, 5, 4, 3, 2, 1) }]]), [b], [{ name: 'p', transpose: false }], 'f');
    expect(b.data).toEqual(Float32Array.of(6, 5, 4, 3, 2, 1));
    expect(() => tensorsToBlocks(new Map(), [b], [{ name: 'p', transpose: false }], 'f')).toThrow('f: adapter tensor p is missing');
    expect(() => tensorsToBlocks(new Map([['p', { shape: [2, 3], data: new Float32Array(6) }]]), [b], [{ name: 'p', transpose: true }], 'f')).toThrow('f: adapter tensor p has shape [2,3], expected [3,2]');
  });
});

describe('withSync', () => {
  test('every forward function syncs first; other functions and fields are the base model\'s', () => {
    const calls: string[] = [];
    const base = {
      config: { nLayers: 1 },
      forward: (x: number) => (calls.push(`forward ${x}`), x + 1),
      logitsAt: () => calls.push('logitsAt'),
      logits: () => calls.push('logits'),
      tokenLogProbs: () => calls.push('tokenLogProbs'),
      scoreCandidates: () => calls.push('scoreCandidates'),
      tokenLogProbsTensor: () => calls.push('tokenLogProbsTensor'),
      scoreCandidatesTensor: () => calls.push('scoreCandidatesTensor'),
      dispose() {
        calls.push(`dispose ${this === base}`);
      },
    };
    const m = withSync(base as unknown as Model, () => calls.push('sync')) as unknown as typeof base;
    expect(m.config).toBe(base.config);
    expect(m.forward(1)).toBe(2);
    m.logitsAt();
    m.logits();
    m.tokenLogProbs();
    m.scoreCandidates();
    m.tokenLogProbsTensor();
    m.scoreCandidatesTensor();
    m.dispose();
    expect(calls).toEqual(['sync', 'forward 1', 'sync', 'logitsAt', 'sync', 'logits', 'sync', 'tokenLogProbs', 'sync', 'scoreCandidates', 'sync', 'tokenLogProbsTensor', 'sync', 'scoreCandidatesTensor', 'dispose true']);
  });
});

describe('LoRA numbers', () => {
  test('labels of the settings', () => {
    expect(peftLabel(undefined)).toBe('full');
    expect(peftLabel({ method: 'prefix', tokens: 5, initSeed: 1 })).toBe('prefix-n5');
    expect(peftLabel({ method: 'lora', rank: 8, alpha: 16, targets: ['q_proj', 'v_proj'], initSeed: 1 })).toBe('lora-r8-a16-q_proj,v_proj');
  });

  test('A = z(initSeed, index)·f32(1/√(3·in)), B = 0; merged W = W0 + (alpha/r)·A·B in float64 once B ≠ 0; HF names and layout', () => {
    const model = createTfjsModel(randomCheckpoint(STORIES260K_CONFIG, 5));
    try {
      const cfg = { method: 'lora' as const, rank: 2, alpha: 6, targets: ['q_proj'], initSeed: 77 };
      const target = model.blocks.find((b) => b.name === 'model.layers.0.self_attn.q_proj.weight')!;
      const [din, dout] = target.shape;
      const w0 = Float32Array.from(target.variable!.dataSync());
      const lora = createLora(model, cfg);
      const [a, b] = lora.blocks;
      expect([a.name, b.name, a.index, b.index]).toEqual(['model.layers.0.self_attn.q_proj.lora_A.weight', 'model.layers.0.self_attn.q_proj.lora_B.weight', 0, 1]);
      expect([a.shape, b.shape]).toEqual([[din, 2], [2, dout]]);
      const z = new Float32Array(din * 2);
      normalFillRef(z, 77, 0);
      const std = Math.fround(1 / Math.sqrt(3 * din));
      expect(a.data).toEqual(z.map((x) => Math.fround(x * std)));
      expect(b.data).toEqual(new Float32Array(2 * dout));
      // a B ≠ 0 by hand; the merged weight in float64, rounded once
      b.data!.forEach((_, i) => (b.data![i] = ((i % 7) - 3) / 10));
      lora.sync();
      const got = target.variable!.dataSync();
      let worst = 0;
      for (let i = 0; i < din; i++)
        for (let o = 0; o < dout; o++) {
          let acc = 0;
          for (let k = 0; k < 2; k++) acc += a.data![i * 2 + k] * b.data![k * dout + o];
          worst = Math.max(worst, Math.abs(got[i * dout + o] - Math.fround(w0[i * dout + o] + 3 * acc)));
        }
      expect(worst).toBe(0);
      expect(sameBits(Float32Array.from(got), w0)).toBe(false);
      // the merged checkpoint holds the same weight; the file layout is HF PEFT's: [r, in] and [out, r]
      const t = lora.tensors();
      expect([...t.keys()].slice(0, 2)).toEqual([`${PEFT_PREFIX}model.layers.0.self_attn.q_proj.lora_A.weight`, `${PEFT_PREFIX}model.layers.0.self_attn.q_proj.lora_B.weight`]);
      expect(t.get(`${PEFT_PREFIX}model.layers.0.self_attn.q_proj.lora_A.weight`)!.shape).toEqual([2, din]);
      expect(t.get(`${PEFT_PREFIX}model.layers.0.self_attn.q_proj.lora_B.weight`)!.shape).toEqual([dout, 2]);
      expect(PEFT_PREFIX).toBe('base_model.model.');
    } finally {
      model.dispose();
    }
  });
});
