// LoRA and prefix tuning on every family's golden fixture (tests/fixtures/families: llama, qwen2, opt,
// opt-postnorm, gpt2), against values derived here from the checkpoint's own Hugging Face tensors:
// - LoRA with B ≠ 0: the adapted forward equals, bit for bit, the forward of a model built from a
//   checkpoint merged in this file (W0 read in HF layout — nn.Linear [out, in], GPT-2's Conv1D [in, out]
//   — plus (alpha/r)·A·B in float64, rounded once); A is z(initSeed, index)·f32(1/√(3·in)) from the
//   noise specification; on a model keeping its weights in JS memory without setLora the merge lands
//   in the block's own array and B back to 0 restores W0 bit for bit; on a model with setLora (the ORT
//   engine) the adapter hands it A and B once, never writes W0, and merged() is the checkpoint merged here.
// - prefix init on the families walked through their Arch: each layer's prefix keys and values are the
//   k/v projections of the init tokens' embeddings after the layer's input norm (pre-norm) or of the raw
//   embeddings (OPT post-norm), computed here in float64 from the HF tensors.
// tests/peft.test.ts runs the same adapters through both engines, but Stryker does not see it (it imports
// @zotune/peft from the workspace, not the mutated sandbox): these are the lib's own checks.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpointFromBlocks, createTfjsModel, hostBlocksFromCheckpoint, packSequences, readHfDir, type LoraBranches, type Model, type Checkpoint, type TfjsModel } from '@zotune/models';
import { deriveSeed, normalFillRef } from '@zotune/tensor';
import { describe, expect, test } from 'vitest';
import { createLora, PEFT_PREFIX } from './lora';
import { createPrefix } from './prefix';
import { relErr } from './testing.testkit';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../tests/fixtures/families');
const f = Math.fround;

interface Family {
  name: string;
  /** LoRA targets, in the order the family's layer holds them (HF's OPTAttention: k, v, q, out) */
  targets: string[];
  /** the HF names of layer l's fused or separate k and v projections (weight, bias) */
  kv: (l: number) => { fused?: string; k?: string; v?: string; bias: boolean };
  /** embedding table [vocab, dim] */
  embed: string;
  /** layer l's input norm (pre-norm families), with its kind and eps, pinned from the config / HF defaults */
  norm?: { kind: 'rms' | 'layer'; w: (l: number) => string; b?: (l: number) => string; eps: number };
  /** HF stores the targets as nn.Linear [out, in] (else Conv1D [in, out]) */
  linear: boolean;
}

const llamaKv = (bias: boolean) => (l: number) => ({ k: `model.layers.${l}.self_attn.k_proj`, v: `model.layers.${l}.self_attn.v_proj`, bias });
const FAMILIES: Family[] = [
  { name: 'llama', targets: ['q_proj', 'v_proj'], kv: llamaKv(false), embed: 'model.embed_tokens.weight', linear: true },
  {
    name: 'qwen2', targets: ['q_proj', 'v_proj'], kv: llamaKv(true), embed: 'model.embed_tokens.weight', linear: true,
    norm: { kind: 'rms', w: (l) => `model.layers.${l}.input_layernorm.weight`, eps: 1e-6 },
  },
  {
    name: 'opt', targets: ['v_proj', 'q_proj'], embed: 'model.decoder.embed_tokens.weight', linear: true,
    kv: (l) => ({ k: `model.decoder.layers.${l}.self_attn.k_proj`, v: `model.decoder.layers.${l}.self_attn.v_proj`, bias: true }),
    norm: { kind: 'layer', w: (l) => `model.decoder.layers.${l}.self_attn_layer_norm.weight`, b: (l) => `model.decoder.layers.${l}.self_attn_layer_norm.bias`, eps: 1e-5 },
  },
  {
    name: 'opt-postnorm', targets: ['v_proj', 'q_proj'], embed: 'model.decoder.embed_tokens.weight', linear: true,
    kv: (l) => ({ k: `model.decoder.layers.${l}.self_attn.k_proj`, v: `model.decoder.layers.${l}.self_attn.v_proj`, bias: true }),
  },
  {
    name: 'gpt2', targets: ['c_attn'], embed: 'transformer.wte.weight', linear: false,
    kv: (l) => ({ fused: `transformer.h.${l}.attn.c_attn`, bias: true }),
    norm: { kind: 'layer', w: (l) => `transformer.h.${l}.ln_1.weight`, b: (l) => `transformer.h.${l}.ln_1.bias`, eps: 1e-5 },
  },
];

const rows = [[5, 17, 30, 2, 41, 9], [7, 3, 22, 60, 11, 4]];
function logitsOf(m: TfjsModel | Model): Float32Array {
  const t = (m as TfjsModel).forward(packSequences(rows));
  const out = Float32Array.from(t.dataSync());
  t.dispose();
  return out;
}
const tensor = (c: Checkpoint, name: string) => {
  const t = c.tensors.get(name);
  if (!t) throw new Error(`fixture: no tensor ${name}`);
  return t;
};

/** The [in, out] matrix of an HF target tensor, read by hand from its layout. */
function inOut(c: Checkpoint, name: string, linear: boolean): { w: Float32Array; din: number; dout: number } {
  const t = tensor(c, name);
  if (!linear) return { w: t.data, din: t.shape[0], dout: t.shape[1] };
  const [dout, din] = t.shape;
  const w = new Float32Array(din * dout);
  for (let o = 0; o < dout; o++) for (let i = 0; i < din; i++) w[i * dout + o] = t.data[o * din + i];
  return { w, din, dout };
}
/** An [in, out] matrix back into the HF layout of `linear`. */
function toHf(w: Float32Array, din: number, dout: number, linear: boolean): Float32Array {
  if (!linear) return Float32Array.from(w);
  const out = new Float32Array(din * dout);
  for (let o = 0; o < dout; o++) for (let i = 0; i < din; i++) out[o * din + i] = w[i * dout + o];
  return out;
}

const R = 2;
const ALPHA = 6; // scale alpha / r = 3
const SEED = 31;
/** a trained-looking B, by hand: small values of both signs, no zero pattern aligned with the layout */
const handB = (i: number, block: number) => (((i * 7 + block * 3) % 11) - 5) / 40;

describe.each(FAMILIES)('LoRA on the $name fixture', (fam) => {
  const dir = join(FIXTURES, fam.name);
  const targetNames = (c: Checkpoint) =>
    [...c.tensors.keys()].filter((n) => /\.\d+\./.test(n) && fam.targets.some((t) => n.endsWith(`.${t}.weight`))).sort((a, b) => layerOf(a) - layerOf(b) || fam.targets.findIndex((t) => a.endsWith(`.${t}.weight`)) - fam.targets.findIndex((t) => b.endsWith(`.${t}.weight`)));
  const layerOf = (n: string) => Number(/\.(\d+)\./.exec(n)![1]);

  /** The checkpoint with W0 + 3·A·B merged here (float64 sum over k, rounded once), in HF layout. */
  function mergedHere(c: Checkpoint, a: Float32Array[], b: Float32Array[]): Checkpoint {
    const tensors = new Map(c.tensors);
    targetNames(c).forEach((name, j) => {
      const { w, din, dout } = inOut(c, name, fam.linear);
      const m = new Float32Array(din * dout);
      for (let i = 0; i < din; i++)
        for (let o = 0; o < dout; o++) {
          let acc = 0;
          for (let k = 0; k < R; k++) acc += a[j][i * R + k] * b[j][k * dout + o];
          m[i * dout + o] = f(w[i * dout + o] + (ALPHA / R) * acc);
        }
      tensors.set(name, { shape: tensor(c, name).shape, data: toHf(m, din, dout, fam.linear) });
    });
    return { ...c, tensors };
  }

  test('tfjs model: A from the noise spec, B = 0 is the base model, B ≠ 0 is the model of weights merged here', () => {
    const ckpt = readHfDir(dir);
    const names = targetNames(ckpt);
    expect(names.length).toBe(fam.targets.length * 2); // two layers in every fixture
    const model = createTfjsModel(ckpt);
    const others: TfjsModel[] = [];
    try {
      const base = logitsOf(model);
      const lora = createLora(model, { method: 'lora', rank: R, alpha: ALPHA, targets: fam.targets, initSeed: SEED });
      expect(lora.applied).toBe('merge'); // tfjs has no setLora
      // blocks: A and B of each target in model order, HF PEFT names
      expect(lora.blocks.map((b) => b.name)).toEqual(names.flatMap((n) => [n.replace(/weight$/, 'lora_A.weight'), n.replace(/weight$/, 'lora_B.weight')]));
      expect(lora.blocks.map((b) => b.index)).toEqual(lora.blocks.map((_, i) => i));
      const a = lora.blocks.filter((_, i) => i % 2 === 0).map((b) => b.data!);
      const b = lora.blocks.filter((_, i) => i % 2 === 1).map((b) => b.data!);
      names.forEach((name, j) => {
        const { din, dout } = inOut(ckpt, name, fam.linear);
        expect([lora.blocks[2 * j].shape, lora.blocks[2 * j + 1].shape]).toEqual([[din, R], [R, dout]]);
        const z = new Float32Array(din * R);
        normalFillRef(z, SEED, 2 * j);
        const std = f(1 / Math.sqrt(3 * din));
        expect(a[j]).toEqual(z.map((x) => f(x * std)));
        expect(b[j]).toEqual(new Float32Array(R * dout));
      });
      expect(logitsOf(lora.model)).toEqual(base);
      // B ≠ 0: the adapted forward moves, and is the forward of the checkpoint merged here
      b.forEach((bj, j) => bj.forEach((_, i) => (bj[i] = handB(i, j))));
      const adapted = logitsOf(lora.model);
      expect(relErr(adapted, base)).toBeGreaterThan(1e-3);
      const ref = createTfjsModel(mergedHere(ckpt, a, b));
      others.push(ref);
      expect(logitsOf(ref)).toEqual(adapted);
      // merged(): the same checkpoint, tensor by tensor in HF layout
      const merged = lora.merged();
      const want = mergedHere(ckpt, a, b);
      for (const name of names) expect(merged.tensors.get(name)!.data, name).toEqual(want.tensors.get(name)!.data);
      // the file layout is HF PEFT's: lora_A [r, in] = Aᵀ, lora_B [out, r] = Bᵀ
      const t = lora.tensors();
      const { din, dout } = inOut(ckpt, names[0], fam.linear);
      const fa = t.get(`${PEFT_PREFIX}${names[0].replace(/weight$/, 'lora_A.weight')}`)!;
      const fb = t.get(`${PEFT_PREFIX}${names[0].replace(/weight$/, 'lora_B.weight')}`)!;
      expect(fa.shape).toEqual([R, din]);
      expect(fb.shape).toEqual([dout, R]);
      expect(fa.data[1 * din + 3]).toBe(a[0][3 * R + 1]);
      expect(fb.data[5 * R + 1]).toBe(b[0][1 * dout + 5]);
      // B back to 0: W0 again, bit for bit
      b.forEach((bj) => bj.fill(0));
      expect(logitsOf(lora.model)).toEqual(base);
      // after dispose the adapters no longer reach the model: a moved B is not merged
      lora.dispose();
      b.forEach((bj, j) => bj.forEach((_, i) => (bj[i] = handB(i, j))));
      expect(logitsOf(lora.model)).toEqual(base);
    } finally {
      model.dispose();
      for (const m of others) m.dispose();
    }
  });

  test('weights in JS memory, no setLora: the merge lands in the block\'s own array', () => {
    const ckpt = readHfDir(dir);
    const names = targetNames(ckpt);
    const blocks = hostBlocksFromCheckpoint(ckpt);
    const host = {
      family: ckpt.family, engine: 'ort', config: ckpt.config, blocks,
      toCheckpoint: () => checkpointFromBlocks(ckpt.config, blocks, { format: ckpt.format, source: ckpt.source }),
    } as unknown as Model;
    const lora = createLora(host, { method: 'lora', rank: R, alpha: ALPHA, targets: fam.targets, initSeed: SEED });
    const a = lora.blocks.filter((_, i) => i % 2 === 0).map((b) => b.data!);
    const b = lora.blocks.filter((_, i) => i % 2 === 1).map((b) => b.data!);
    const arrays = names.map((n) => blocks.find((x) => x.name === n)!.data!);
    const w0 = names.map((n) => inOut(ckpt, n, fam.linear).w);
    lora.sync();
    arrays.forEach((arr, j) => expect(arr, names[j]).toEqual(w0[j]));
    b.forEach((bj, j) => bj.forEach((_, i) => (bj[i] = handB(i, j + 1))));
    expect(lora.model.config).toBe(ckpt.config); // a field read through the proxy does not merge
    expect(arrays[0]).toEqual(w0[0]);
    lora.sync();
    const want = mergedHere(ckpt, a, b);
    names.forEach((n, j) => expect(arrays[j], n).toEqual(inOut(want, n, fam.linear).w));
    // merged() of the host model: its blocks, as a checkpoint, give the merged-here model's logits
    const fromHost = createTfjsModel(lora.merged());
    const ref = createTfjsModel(want);
    try {
      expect(logitsOf(fromHost)).toEqual(logitsOf(ref));
    } finally {
      fromHost.dispose();
      ref.dispose();
    }
    b.forEach((bj) => bj.fill(0));
    lora.sync();
    arrays.forEach((arr, j) => expect(arr, names[j]).toEqual(w0[j]));
  });

  test('a model with setLora (the ORT engine): A and B handed over once, W0 never written, merged() is the checkpoint merged here', () => {
    const ckpt = readHfDir(dir);
    const names = targetNames(ckpt);
    const blocks = hostBlocksFromCheckpoint(ckpt);
    const calls: (LoraBranches | undefined)[] = [];
    const host = {
      family: ckpt.family, engine: 'ort', config: ckpt.config, blocks,
      toCheckpoint: () => checkpointFromBlocks(ckpt.config, blocks, { format: ckpt.format, source: ckpt.source }),
      setLora: (l: LoraBranches | undefined) => calls.push(l),
    } as unknown as Model;
    const lora = createLora(host, { method: 'lora', rank: R, alpha: ALPHA, targets: fam.targets, initSeed: SEED });
    expect(lora.applied).toBe('engine');
    const a = lora.blocks.filter((_, i) => i % 2 === 0).map((b) => b.data!);
    const b = lora.blocks.filter((_, i) => i % 2 === 1).map((b) => b.data!);
    // one call, at creation: the adapter blocks' own arrays (the engine reads them at every forward)
    expect(calls.length).toBe(1);
    expect(calls[0]!.rank).toBe(R);
    expect(calls[0]!.scale).toBe(ALPHA / R);
    expect(calls[0]!.targets.map((t) => t.weight)).toEqual(names);
    calls[0]!.targets.forEach((t, j) => {
      expect(t.a).toBe(a[j]);
      expect(t.b).toBe(b[j]);
    });
    const arrays = names.map((n) => blocks.find((x) => x.name === n)!.data!);
    const w0 = arrays.map((x) => Float32Array.from(x));
    b.forEach((bj, j) => bj.forEach((_, i) => (bj[i] = handB(i, j + 1))));
    lora.sync();
    arrays.forEach((arr, j) => expect(arr, names[j]).toEqual(w0[j])); // nothing merged
    expect(calls.length).toBe(1);
    // merged(): every tensor of the checkpoint merged here, bit for bit, in HF layout; W0 still untouched
    const merged = lora.merged();
    const want = mergedHere(ckpt, a, b);
    expect([...merged.tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());
    for (const [name, t] of want.tensors) expect(merged.tensors.get(name), name).toEqual(t);
    arrays.forEach((arr, j) => expect(arr, names[j]).toEqual(w0[j]));
    // dispose: the engine computes the base model again
    lora.dispose();
    expect(calls).toEqual([calls[0], undefined]);
  });
});

describe.each(FAMILIES.filter((x) => x.name !== 'llama'))('prefix init on the $name fixture', (fam) => {
  test('each layer\'s prefix keys and values are the k/v projections of the init tokens\' (normed) embeddings', () => {
    const ckpt = readHfDir(join(FIXTURES, fam.name));
    const { dim, nHeads, nKvHeads, nLayers, vocabSize } = ckpt.config;
    expect([dim, nLayers, vocabSize]).toEqual([32, 2, 300]);
    const P = 3;
    const seed = 5;
    const ids = Array.from({ length: P }, (_, i) => deriveSeed(seed, i) % 300);
    const kvDim = nKvHeads * (dim / nHeads);
    const model = createTfjsModel(ckpt);
    try {
      const base = logitsOf(model);
      const adapter = createPrefix(model, { method: 'prefix', tokens: P, initSeed: seed });
      expect(adapter.blocks.length).toBe(2 * nLayers);
      const emb = tensor(ckpt, fam.embed).data;
      for (let l = 0; l < nLayers; l++) {
        // x [P, dim] in float64: the embedding, normed by the layer's input norm when the family norms first
        const x = ids.map((t) => {
          const e = Array.from(emb.subarray(t * dim, (t + 1) * dim));
          if (!fam.norm) return e;
          const w = tensor(ckpt, fam.norm.w(l)).data;
          const bias = fam.norm.b ? tensor(ckpt, fam.norm.b(l)).data : undefined;
          const mean = fam.norm.kind === 'layer' ? e.reduce((s, v) => s + v, 0) / dim : 0;
          const variance = e.reduce((s, v) => s + (v - mean) ** 2, 0) / dim;
          return e.map((v, i) => ((v - mean) / Math.sqrt(variance + fam.norm!.eps)) * w[i] + (bias ? bias[i] : 0));
        });
        const kv = fam.kv(l);
        // y[p][o] = Σ_i x[p][i]·W[i][o] + bias[o], W read from the HF tensors
        const project = (which: 'k' | 'v'): number[] => {
          const out: number[] = [];
          for (const xp of x)
            for (let o = 0; o < kvDim; o++) {
              let acc: number;
              if (kv.fused) {
                // Conv1D [dim, 3·dim]: columns q | k | v
                const col = (which === 'k' ? dim : 2 * dim) + o;
                const w = tensor(ckpt, `${kv.fused}.weight`).data;
                acc = tensor(ckpt, `${kv.fused}.bias`).data[col];
                for (let i = 0; i < dim; i++) acc += xp[i] * w[i * 3 * dim + col];
              } else {
                const name = kv[which]!;
                const w = tensor(ckpt, `${name}.weight`).data; // [kvDim, dim]
                acc = kv.bias ? tensor(ckpt, `${name}.bias`).data[o] : 0;
                for (let i = 0; i < dim; i++) acc += xp[i] * w[o * dim + i];
              }
              out.push(acc);
            }
          return out;
        };
        const [kb, vb] = [adapter.blocks[2 * l], adapter.blocks[2 * l + 1]];
        expect([kb.shape, vb.shape]).toEqual([[P, kvDim], [P, kvDim]]);
        expect(kb.name).toMatch(new RegExp(`\\.${l}\\.(self_)?attn\\.prefix_key$`));
        expect(vb.name).toMatch(new RegExp(`\\.${l}\\.(self_)?attn\\.prefix_value$`));
        expect(relErr(kb.data!, project('k')), `layer ${l} keys`).toBeLessThan(1e-6);
        expect(relErr(vb.data!, project('v')), `layer ${l} values`).toBeLessThan(1e-6);
      }
      // the prefix is attended to: the adapted forward is not the base model's
      expect(relErr(logitsOf(adapter.model), base)).toBeGreaterThan(1e-3);
      adapter.dispose();
      expect(logitsOf(model)).toEqual(base);
    } finally {
      model.dispose();
    }
  });
});

