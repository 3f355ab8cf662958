// LoRA's branch in the graph (setLora) against the merged-weight path: a second model of the same
// checkpoint whose targeted blocks hold W0 + s·A·B (float64 sums, rounded once: libs/peft's mergeInto).
// On every family fixture (tests/fixtures/families) and stories260K, in the plain graph and the fused one
// (GroupQueryAttention, the last layer only at the scored rows): B = 0 gives the base model's bits; B ≠ 0
// gives the merged model's logits to 1e-5 of their scale (full rows and scored rows) and its packed token
// log-probs to 1e-5, with W0 left untouched; setLora(undefined) is the base model again. fused.spec.ts's
// measures: logits relative to their scale, log-probs absolute.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packBatch, packSequences, PAD_SEGMENT, resolveModel, type Block, type Checkpoint, type PackedBatch, type PlainBatch } from '@zotune/models';
import type { OrtModel } from './model';
import type { AttentionKind } from './graph';
import { maxAbsDiff, openerForFile, relErr } from './compare.testkit';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO, '../shared/data');
const FIXTURES = join(REPO, 'tests/fixtures/families');
const f = Math.fround;

const open = openerForFile();

/** deterministic values in [−1, 1) */
function wave(n: number, k: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => f(Math.sin(i * 1.37 + k * 0.71)));
}

/** the per-layer matrices named …<target>.weight, in model order */
const targetsOf = (m: OrtModel, targets: readonly string[]): Block[] =>
  m.blocks.filter((b) => b.kind === 'matrix' && /\.\d+\./.test(b.name) && targets.some((t) => b.name.endsWith(`.${t}.weight`)));

/** W0 + s·A·B into W0's place, [in, out], the sum over k in float64 and rounded once (libs/peft's mergeInto) */
function mergeHere(w: Float32Array, a: Float32Array, b: Float32Array, din: number, r: number, dout: number, s: number): void {
  for (let i = 0; i < din; i++)
    for (let o = 0; o < dout; o++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += a[i * r + k] * b[k * dout + o];
      w[i * dout + o] = f(w[i * dout + o] + s * acc);
    }
}

interface Outputs {
  full: Float32Array;
  rows: Float32Array;
  lp: Float32Array;
}
/** logits of every real row of the plain batch, logits at each sequence's last row (scored rows), packed token log-probs */
async function outputs(m: OrtModel, plain: PlainBatch, last: Int32Array, packed: PackedBatch): Promise<Outputs> {
  const V = m.config.vocabSize;
  const full = (await m.logits(plain)).filter((_, i) => plain.segments[Math.floor(i / V)] !== PAD_SEGMENT);
  return { full, rows: await m.logits(plain, last), lp: await m.tokenLogProbs(packed) };
}

/**
 * The whole check on one checkpoint: LoRA of rank r = 2, scale 3 (alpha 6: not a power of two, so the
 * branch's scaling is a real rounding) on `targets`, `attention` graph.
 */
async function check(ckpt: Checkpoint, targets: readonly string[], attention: AttentionKind, sequences: number[][], packed: PackedBatch) {
  const r = 2;
  const s = 3;
  const plain = packSequences(sequences);
  const last = Int32Array.from(sequences, (q, b) => b * plain.length + q.length - 1);
  const m = await open(ckpt, attention);
  expect(m.attention).toBe(attention);
  const base = await outputs(m, plain, last, packed);
  const ws = targetsOf(m, targets);
  expect(ws.length).toBe(targets.length * m.config.nLayers);
  const w0 = ws.map((w) => Float32Array.from(w.data!));
  // A of PEFT's scale 1/√(3·in); B = 0 at first, filled in place later (the arrays the model reads)
  const a = ws.map((w, j) => wave(w.shape[0] * r, j).map((x) => f(x / Math.sqrt(3 * w.shape[0]))));
  const b = ws.map((w) => new Float32Array(r * w.shape[1]));
  m.setLora({ rank: r, scale: s, targets: ws.map((w, j) => ({ weight: w.name, a: a[j], b: b[j] })) });

  // B = 0: the base model, bit for bit
  expect(await outputs(m, plain, last, packed)).toEqual(base);

  // B ≠ 0 (in place): the merged model's outputs
  b.forEach((bj, j) => bj.set(wave(bj.length, 100 + j).map((x) => f(x / 8))));
  const got = await outputs(m, plain, last, packed);
  expect(relErr(got.full, base.full)).toBeGreaterThan(1e-3); // the branch matters
  ws.forEach((w, j) => expect(w.data!, `${w.name} is W0`).toEqual(w0[j]));
  const merged = await open(ckpt, attention);
  targetsOf(merged, targets).forEach((w, j) => mergeHere(w.data!, a[j], b[j], w.shape[0], r, w.shape[1], s));
  const want = await outputs(merged, plain, last, packed);
  expect(relErr(got.full, want.full)).toBeLessThanOrEqual(1e-5);
  expect(relErr(got.rows, want.rows)).toBeLessThanOrEqual(1e-5);
  expect(maxAbsDiff(got.lp, want.lp)).toBeLessThanOrEqual(1e-5);

  // no LoRA: the base model again
  m.setLora(undefined);
  expect(await outputs(m, plain, last, packed)).toEqual(base);
}

// the targets per family: MeZO's q_proj,v_proj (GPT-2: its fused c_attn), and the other linears (o_proj
// and the MLP: the last layer's run only at the scored rows in the fused graph)
const FAMILIES: [string, string[][]][] = [
  ['llama', [['q_proj', 'v_proj'], ['o_proj', 'gate_proj', 'up_proj', 'down_proj']]],
  ['qwen2', [['q_proj', 'v_proj'], ['k_proj', 'o_proj', 'down_proj']]],
  ['opt', [['q_proj', 'v_proj'], ['out_proj', 'fc1', 'fc2']]],
  ['opt-postnorm', [['q_proj', 'v_proj'], ['out_proj', 'fc1', 'fc2']]],
  ['gpt2', [['c_attn'], ['attn.c_proj', 'c_fc', 'mlp.c_proj']]],
];

describe.each(FAMILIES)('family fixture %s: LoRA in the graph equals the merged weights', (name, targetSets) => {
  it.each((['plain', 'gqa'] as const).flatMap((attention) => targetSets.map((targets) => [attention, targets] as const)))(
    '%s graph, targets %j: B = 0 is the base model; B ≠ 0 the merged model to 1e-5; W0 untouched',
    async (attention, targets) => {
      const dir = join(FIXTURES, name);
      const { checkpoint } = resolveModel(dir);
      const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as { sequences: number[][] };
      const [a, b] = ref.sequences;
      const P = 5; // sequences 0 and 1 share a 5-token prompt (tests/families.test.ts)
      const packed = packBatch([a.slice(0, P), b.slice(0, 3)], [[a.slice(P), b.slice(P)], [b.slice(3, 4), a.slice(P, P + 3)]]);
      await check(checkpoint, targets, attention, ref.sequences, packed);
    },
  );
});

describe('stories260K (GQA 8/4, tied): LoRA in the graph equals the merged weights', () => {
  it.each(['plain', 'gqa'] as const)('%s graph, q_proj,v_proj', async (attention) => {
    const { checkpoint } = resolveModel('stories260K', DATA);
    const V = checkpoint.config.vocabSize;
    let seed = 3;
    const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % (V - 1)) + 1;
    const rowsOf = (lengths: number[]) => lengths.map((n) => Array.from({ length: n }, next));
    const prompts = rowsOf([40, 9, 23]);
    const packed = packBatch(prompts, prompts.map((_, i) => rowsOf([1 + i, 3, 2])));
    await check(checkpoint, ['q_proj', 'v_proj'], attention, rowsOf([64, 17, 40]), packed);
  });
});

describe('setLora refusals', () => {
  it('a weight that is not a per-layer matrix, A or B of another size, a weight targeted twice: one line each', async () => {
    const { checkpoint } = resolveModel(join(FIXTURES, 'llama'));
    const m = await open(checkpoint, 'plain');
    const q = m.blocks.find((b) => b.name === 'model.layers.0.self_attn.q_proj.weight')!;
    const [din, dout] = q.shape;
    const ok = { weight: q.name, a: new Float32Array(din * 2), b: new Float32Array(2 * dout) };
    expect(() => m.setLora({ rank: 2, scale: 1, targets: [{ ...ok, weight: 'model.embed_tokens.weight' }] })).toThrow('LoRA target model.embed_tokens.weight is not a per-layer matrix of the model');
    expect(() => m.setLora({ rank: 2, scale: 1, targets: [{ ...ok, b: new Float32Array(dout) }] })).toThrow(`setLora: ${q.name} [${din}, ${dout}] takes A [${din}, 2] and B [2, ${dout}], got ${2 * din} and ${dout} values`);
    expect(() => m.setLora({ rank: 2, scale: 1, targets: [ok, ok] })).toThrow('setLora: a weight is targeted twice');
    expect(() => m.setLora({ rank: 0, scale: 1, targets: [ok] })).toThrow('setLora: rank 0, expected an integer >= 1');
  });
});
