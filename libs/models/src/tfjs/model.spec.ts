import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { packBatch, packSequences } from '../batch';
import type { Checkpoint } from '../checkpoint';
import type { ModelConfig } from '../types';
import { allowed } from '../mask';
import { wasmKernelsAvailable } from './kernels/wasm-kernels';
import { createTfjsModel, toCheckpoint } from './model';
import { randomCheckpoint } from '../llama/random';
import { logSoftmaxRow, referenceLogits } from '../llama/reference';

// small but with every feature: GQA (4 heads on 2 kv heads), hd 8, untied classifier
const CFG: ModelConfig = {
  dim: 32,
  hiddenDim: 48,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 40,
  maxSeqLen: 32,
  normEps: 1e-5,
  ropeTheta: 10000,
  tiedEmbeddings: false,
};

// std 0.3 so attention is far from uniform and every term matters
const ckpt = (cfg: ModelConfig = CFG, seed = 1): Checkpoint => randomCheckpoint(cfg, seed, { std: 0.3 });

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each([
  ['fused wasm kernels', true],
  ['tfjs ops', false],
])('TfjsModel forward (%s)', (_, kernels) => {
  it('runs the path under test', () => {
    expect(wasmKernelsAvailable()).toBe(tf.getBackend() === 'wasm');
  });

  it('matches the float64 reference (untied, GQA)', () => {
    const c = ckpt();
    const model = createTfjsModel(c, { kernels });
    const rows = [
      [1, 5, 9, 13, 2, 7, 30, 39],
      [1, 3, 3, 3],
    ];
    const batch = packSequences(rows);
    const logits = model.forward(batch);
    expect(logits.shape).toEqual([2, 8, 40]);
    const got = logits.arraySync() as number[][][];
    logits.dispose();
    rows.forEach((r, b) => {
      const ref = referenceLogits(c, r);
      r.forEach((_, t) => expect(maxAbsDiff(got[b][t], ref[t])).toBeLessThan(2e-4));
    });
    model.dispose();
  });

  it('matches the reference with a tied classifier and linear biases', () => {
    const c = ckpt({ ...CFG, tiedEmbeddings: true, nKvHeads: 4 }, 2);
    // add HF attention_bias / mlp_bias tensors to layer 1
    for (const lin of ['self_attn.q_proj', 'self_attn.v_proj', 'mlp.down_proj']) {
      const w = c.tensors.get(`model.layers.1.${lin}.weight`)!;
      const data = Float32Array.from({ length: w.shape[0] }, (_, i) => 0.1 * Math.sin(i + 1));
      c.tensors.set(`model.layers.1.${lin}.bias`, { shape: [w.shape[0]], data });
    }
    const model = createTfjsModel(c, { kernels });
    expect(model.blocks.filter((b) => b.kind === 'bias').map((b) => b.name)).toEqual([
      'model.layers.1.self_attn.q_proj.bias',
      'model.layers.1.self_attn.v_proj.bias',
      'model.layers.1.mlp.down_proj.bias',
    ]);
    const row = [2, 4, 6, 8, 10, 12];
    const got = model.forward(packSequences([row]));
    const ref = referenceLogits(c, row);
    const g = got.arraySync() as number[][][];
    got.dispose();
    row.forEach((_, t) => expect(maxAbsDiff(g[0][t], ref[t])).toBeLessThan(2e-4));
    model.dispose();
  });

  it('exposes HF-named blocks in a stable order with [in, out] matrices', () => {
    const model = createTfjsModel(ckpt());
    const names = model.blocks.map((b) => b.name);
    expect(names.slice(0, 11)).toEqual([
      'model.embed_tokens.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.v_proj.weight',
      'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.mlp.gate_proj.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.0.mlp.down_proj.weight',
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.post_attention_layernorm.weight',
      'model.layers.1.self_attn.q_proj.weight',
    ]);
    expect(names.slice(-2)).toEqual(['model.norm.weight', 'lm_head.weight']);
    model.blocks.forEach((b, i) => {
      expect(b.index).toBe(i);
      expect(b.variable!.shape).toEqual(b.shape);
      expect(b.size).toBe(b.shape.reduce((x, y) => x * y, 1));
    });
    const byName = new Map(model.blocks.map((b) => [b.name, b]));
    expect(byName.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([32, 16]);
    expect(byName.get('model.layers.0.mlp.down_proj.weight')!.shape).toEqual([48, 32]);
    expect(byName.get('lm_head.weight')!.shape).toEqual([32, 40]);
    expect(byName.get('model.embed_tokens.weight')!.kind).toBe('embedding');
    expect(byName.get('model.norm.weight')!.kind).toBe('norm');
    model.dispose();
  });

  it('toCheckpoint returns the HF tensors it was built from', () => {
    const c = ckpt();
    const model = createTfjsModel(c);
    const back = toCheckpoint(model);
    expect([...back.tensors.keys()]).toEqual([...c.tensors.keys()]);
    for (const [name, t] of c.tensors) {
      expect(back.tensors.get(name)!.shape).toEqual(t.shape);
      expect(maxAbsDiff(back.tensors.get(name)!.data, t.data)).toBe(0);
    }
    expect(back.config).toEqual(c.config);
    model.dispose();
  });

  it('names the tensor when a checkpoint is incomplete or misshapen', () => {
    const c = ckpt();
    c.tensors.delete('model.layers.1.mlp.up_proj.weight');
    expect(() => createTfjsModel(c)).toThrow(/model\.layers\.1\.mlp\.up_proj\.weight is missing/);
    const d = ckpt();
    d.tensors.set('model.norm.weight', { shape: [31], data: new Float32Array(31) });
    expect(() => createTfjsModel(d)).toThrow(/model\.norm\.weight has shape \[31\], expected \[32\]/);
    expect(() => createTfjsModel(randomCheckpoint({ ...CFG, nKvHeads: 3 }))).toThrow(/n_heads 4 is not a multiple of n_kv_heads 3/);
  });

  it('rejects out-of-range tokens and positions with the index', () => {
    const model = createTfjsModel(ckpt());
    expect(() => model.forward(packSequences([[1, 40]]))).toThrow(/tokens\[1\] = 40, expected 0 <= value < 40/);
    const b = packSequences([[1, 2]]);
    b.positions[1] = 32;
    expect(() => model.forward(b)).toThrow(/positions\[1\] = 32/);
    model.dispose();
  });
});

describe('TfjsModel gradients', () => {
  it('the kernel path (attention backward kernel) gives the same gradients as the tfjs-ops path', () => {
    const c = ckpt({ ...CFG, tiedEmbeddings: true });
    const batch = packBatch(
      [[1, 7, 8, 9, 10], [1, 11, 12]],
      [[[3, 4], [5]], [[6, 7, 8], [9, 10]]],
    );
    const grads = (kernels: boolean) => {
      const model = createTfjsModel(c, { kernels });
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.sum(model.scoreCandidatesTensor(batch))) as tf.Scalar, model.blocks.map((b) => b.variable!));
      const out = new Map(model.blocks.map((b) => [b.name, grads[b.variable!.name].dataSync().slice()]));
      tf.dispose([value, ...Object.values(grads)]);
      model.dispose();
      return out;
    };
    const a = grads(true);
    const b = grads(false);
    for (const [name, g] of b) {
      const scale = Array.from(g).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(scale, name).toBeGreaterThan(0);
      expect(maxAbsDiff(a.get(name)!, g) / scale, name).toBeLessThan(1e-4);
    }
  });
});

describe.each([
  ['fused wasm kernels', true],
  ['tfjs ops', false],
])('TfjsModel scoring (%s)', (_, kernels) => {
  const prompts = [
    [1, 7, 8, 9, 10],
    [1, 11, 12],
    [1, 20],
  ];
  const cands = [
    [[3, 4], [5]],
    [[6, 7, 8], [9, 10]],
    [[30], [31, 32, 33, 34]],
  ];

  it('tokenLogProbs of a packed batch equals the log-probs of each [prompt + candidate] alone', () => {
    const c = ckpt();
    const model = createTfjsModel(c, { kernels });
    const batch = packBatch(prompts, cands);
    const lp = model.tokenLogProbsTensor(batch);
    const got = lp.dataSync();
    lp.dispose();
    let n = 0;
    prompts.forEach((p, b) =>
      cands[b].forEach((cand) => {
        const seq = [...p, ...cand];
        const ref = referenceLogits(c, seq);
        cand.forEach((tok, i) => {
          const want = logSoftmaxRow(ref[p.length - 1 + i])[tok];
          expect(Math.abs(got[n] - want)).toBeLessThan(1e-4);
          n++;
        });
      }),
    );
    expect(n).toBe(got.length);
    model.dispose();
  });

  it('packing and padding do not change the scores (within 1e-5 of the separate plain sequences)', () => {
    const model = createTfjsModel(ckpt(), { kernels });
    const packed = packBatch(prompts, cands);
    const scores = model.scoreCandidatesTensor(packed);
    expect(scores.shape).toEqual([3, 2]);
    const s = scores.dataSync();
    scores.dispose();
    prompts.forEach((p, b) =>
      cands[b].forEach((cand, k) => {
        // the same candidate scored from a plain right-padded batch of its own sequence and a longer one
        const plain = packSequences([[...p, ...cand], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]);
        const logits = model.forward(plain);
        const rows = logits.arraySync() as number[][][];
        logits.dispose();
        const mean = cand.reduce((acc, tok, i) => acc + logSoftmaxRow(rows[0][p.length - 1 + i])[tok], 0) / cand.length;
        expect(Math.abs(s[b * 2 + k] - mean)).toBeLessThan(1e-5);
      }),
    );
    model.dispose();
  });

  it('trimLast: rows K tokens shorter, the same targets, log-probs within 1e-5 of the full packing', () => {
    const model = createTfjsModel(ckpt(), { kernels });
    const full = packBatch(prompts, cands);
    const trimmed = packBatch(prompts, cands, { trimLast: true });
    // the longest row is the second: 3 + (3 − 1) + (2 − 1) slots instead of 3 + 3 + 2
    expect(trimmed.length).toBe(full.length - 2);
    expect(trimmed.targetIds).toEqual(full.targetIds);
    expect(trimmed.targetGroup).toEqual(full.targetGroup);
    expect(trimmed.groupSize).toEqual(full.groupSize);
    // row 2 = prompt [1, 20], then " 30" takes no slot, then 31, 32, 33 of the second candidate
    expect(Array.from(trimmed.tokens.subarray(2 * trimmed.length, 3 * trimmed.length))).toEqual([1, 20, 31, 32, 33, 0]);
    expect(Array.from(trimmed.positions.subarray(2 * trimmed.length, 3 * trimmed.length))).toEqual([0, 1, 2, 3, 4, 0]);
    const lp = (b: typeof full) => {
      const t = model.tokenLogProbsTensor(b);
      const out = t.dataSync().slice();
      t.dispose();
      return out;
    };
    const want = lp(full);
    expect(maxAbsDiff(lp(trimmed), want)).toBeLessThan(1e-5);
    model.dispose();
  });

  it('the mask lets a candidate see the prompt and itself only', () => {
    const batch = packBatch([[1, 2]], [[[3, 4], [5]]]);
    const row = 0;
    const seg = batch.segments;
    expect(allowed(seg, row, 3, 2)).toBe(true); // cand 0 token 1 → cand 0 token 0
    expect(allowed(seg, row, 4, 2)).toBe(false); // cand 1 → cand 0
    expect(allowed(seg, row, 4, 1)).toBe(true); // cand 1 → prompt
    expect(allowed(seg, row, 1, 2)).toBe(false); // no future
  });

  it('does not leak tensors over 20 forwards and scorings', () => {
    const model = createTfjsModel(ckpt(), { kernels });
    const batch = packBatch(prompts, cands);
    const plain = packSequences(prompts);
    const run = () => {
      tf.dispose([model.forward(plain), model.scoreCandidatesTensor(batch), model.tokenLogProbsTensor(batch)]);
      tf.dispose(model.logitsAt(plain, new Int32Array([0, 4])));
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('gradients of a scoreCandidates loss reach every block, finite and non-zero', () => {
    const model = createTfjsModel(ckpt({ ...CFG, tiedEmbeddings: true }), { kernels });
    const batch = packBatch(prompts, cands);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => {
      const s = model.scoreCandidatesTensor(batch); // [B, K]
      // cross-entropy of the softmax over candidates against candidate 0
      return tf.neg(tf.mean(tf.gather(tf.logSoftmax(s), tf.tensor1d([0], 'int32'), 1))) as tf.Scalar;
    }, model.blocks.map((b) => b.variable!));
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    for (const b of model.blocks) {
      const g = grads[b.variable!.name];
      expect(g, b.name).toBeDefined();
      expect(g.shape).toEqual(b.shape);
      const d = g.dataSync();
      expect(d.every(Number.isFinite), b.name).toBe(true);
      expect(d.some((x) => x !== 0), b.name).toBe(true);
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
