// PEFT on the real stories260K, both engines: LoRA with B = 0 is the base model bit for bit; the
// adapted model equals the model built from the merged weights (tfjs, which merges: bit for bit; ORT,
// whose graph computes LoRA's branch: to 1e-5 of the logits' scale); prefix tuning equals a KV cache
// (the float64 reference forward of prompt + suffix, read at the suffix, against the suffix alone
// with the prompt's keys and values as the prefix); the two engines agree with a prefix; ZO on the
// LoRA blocks lowers story-cloze's training loss.
import { resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { packSequences, resolveModel, type Model, type Checkpoint, type PlainBatch } from '@zotune/models';
import { chooseEngine, openModel } from '@zotune/engine';
import { createAdapter, prefixInitTokens, type Adapter, type PeftConfig } from '@zotune/peft';
import { Collator, objectiveValue, resolveTask } from '@zotune/tasks';
import { initBackend, normalFill } from '@zotune/tensor';
import { createEstimator, replay, stepSeed, trajectoryHeader, type StepRecord } from '@zotune/zo';
import { beforeAll, describe, expect, test } from 'vitest';
import { referenceLogits } from '../libs/models/src/llama/reference';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
let ckpt: Checkpoint;
beforeAll(async () => {
  await initBackend('wasm');
  ckpt = resolveModel('stories260K', DATA).checkpoint;
});

type Engine = 'ort' | 'tfjs';
const ENGINES: Engine[] = ['ort', 'tfjs'];
async function open(engine: Engine, c: Checkpoint = ckpt): Promise<Model> {
  return openModel(c, await chooseEngine(engine, 'forward', { threads: 1 }));
}
/** Full logits [B·T·V] of either engine. */
function logits(m: Model, batch: PlainBatch): Promise<Float32Array> {
  return m.logits(batch);
}
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}
// equal lengths: padding positions attend to nothing, and the engines may differ there
const rows = [[1, 403, 29, 71, 261, 15, 88, 402], [1, 17, 230, 5, 61, 7, 300, 12]];
/** MeZO on the LoRA blocks (B starts at 0, so the first steps move B only): a larger lr than full-parameter MeZO's 1e-4 */
const LORA_LR = 3e-3;
const LORA_STEPS = 100;
const lora: PeftConfig = { method: 'lora', rank: 8, alpha: 16, targets: ['q_proj', 'v_proj'], initSeed: 12345 };

describe.each(ENGINES)('LoRA on engine %s', (engine) => {
  test('with B = 0 the first forward is the base model, bit for bit', async () => {
    const base = await open(engine);
    const want = await logits(base, packSequences(rows));
    const adapter = createAdapter(base, lora);
    expect(adapter.blocks.map((b) => b.name).slice(0, 2)).toEqual(['model.layers.0.self_attn.q_proj.lora_A.weight', 'model.layers.0.self_attn.q_proj.lora_B.weight']);
    expect(adapter.blocks.map((b) => b.shape).slice(0, 2)).toEqual([[64, 8], [8, 64]]);
    expect(adapter.blocks.every((b, i) => b.index === i && b.kind === 'matrix')).toBe(true);
    expect(adapter.blocks[0].data!.some((x) => x !== 0)).toBe(true); // A is random
    expect(adapter.blocks[1].data!.every((x) => x === 0)).toBe(true); // B is zero
    expect(await logits(adapter.model, packSequences(rows))).toEqual(want);
    await base.dispose();
  });

  test('the adapted model equals the model of its merged weights; moving B changes the logits', async () => {
    const base = await open(engine);
    const before = await logits(base, packSequences(rows));
    const adapter = createAdapter(base, lora);
    for (const b of adapter.blocks) if (b.name.includes('lora_B')) normalFill(b.data!, 7, b.index); // a trained-looking B
    const adapted = await logits(adapter.model, packSequences(rows));
    expect(relErr(adapted, before)).toBeGreaterThan(1e-2);
    const merged = adapter.merged();
    const other = await open(engine, merged);
    // tfjs computes with the merged weights themselves; ORT adds the branch x·A·B in float32
    if (adapter.applied === 'merge') expect(await logits(other, packSequences(rows))).toEqual(adapted);
    else expect(relErr(await logits(other, packSequences(rows)), adapted)).toBeLessThan(1e-5);
    expect(adapter.applied).toBe(engine === 'ort' ? 'engine' : 'merge');
    // and on the other engine, to float tolerance
    const cross = await open(engine === 'ort' ? 'tfjs' : 'ort', merged);
    expect(relErr(await logits(cross, packSequences(rows)), adapted)).toBeLessThan(1e-5);
    for (const m of [base, other, cross]) await m.dispose();
  });
});

/** The float64 reference's keys and values of each layer for `prompt` at positions 0…n−1. */
function promptKv(prompt: number[]): { keys: Float32Array[]; values: Float32Array[] } {
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  referenceLogits(ckpt, prompt, undefined, undefined, (l, k, v) => {
    keys[l] = Float32Array.from(k.flat());
    values[l] = Float32Array.from(v.flat());
  });
  return { keys, values };
}

describe.each(ENGINES)('prefix on engine %s', (engine) => {
  test('a prefix holding a prompt\'s keys and values is a KV cache: suffix logits equal the reference forward of prompt + suffix', async () => {
    const prompt = [1, 403, 29, 71, 261];
    const suffix = [15, 88, 402, 17, 230, 5];
    const ref = referenceLogits(ckpt, [...prompt, ...suffix]).slice(prompt.length).flat();
    const m = await open(engine);
    const n = prompt.length;
    const adapter = createAdapter(m, { method: 'prefix', tokens: n, initSeed: 1 });
    const kv = promptKv(prompt);
    adapter.blocks.forEach((b, i) => b.data!.set((i % 2 === 0 ? kv.keys : kv.values)[i >> 1]));
    // the suffix at positions n, n+1, …: the prefix keys are used as given (already rotated)
    const batch: PlainBatch = { batch: 1, length: suffix.length, tokens: Int32Array.from(suffix), positions: Int32Array.from(suffix, (_, i) => n + i), segments: new Int32Array(suffix.length) };
    const got = await logits(adapter.model, batch);
    expect(relErr(got, ref)).toBeLessThan(1e-5);
    // without the prefix the suffix alone is another computation
    adapter.dispose();
    expect(relErr(await logits(m, batch), ref)).toBeGreaterThan(1e-2);
    await m.dispose();
  });
});

test.each(ENGINES)('prefix init on engine %s: the keys and values of P seeded random tokens placed before the input (MeZO\'s real-activation init)', async (engine) => {
  const m = await open(engine);
  const adapter = createAdapter(m, { method: 'prefix', tokens: 4, initSeed: 21 });
  const ids = prefixInitTokens(21, 4, ckpt.config.vocabSize);
  const suffix = [1, 403, 29, 71, 261, 15];
  // the reference forward of the random text + the input, read at the input
  const ref = referenceLogits(ckpt, [...ids, ...suffix]).slice(4).flat();
  const got = await logits(adapter.model, packSequences([suffix]));
  expect(relErr(got, ref)).toBeLessThan(1e-5);
  await m.dispose();
});

test('prefix: the initial prefixes give the same logits on both engines, on packed batches', async () => {
  const cfg = { method: 'prefix', tokens: 5, initSeed: 99 } as const;
  const [o, t] = [await open('ort'), await open('tfjs')];
  const [ao, at] = [createAdapter(o, cfg), createAdapter(t, cfg)];
  expect(ao.blocks.map((b) => b.name).slice(0, 2)).toEqual(['model.layers.0.self_attn.prefix_key', 'model.layers.0.self_attn.prefix_value']);
  expect(ao.blocks[0].shape).toEqual([5, 32]); // stories260K: 4 kv heads of 8
  expect(ao.tensors()).toEqual(at.tensors());
  const batch = packSequences(rows);
  const lo = await logits(ao.model, batch);
  expect(relErr(lo, await logits(at.model, batch))).toBeLessThan(1e-5);
  expect(relErr(lo, await logits(await open('ort'), batch))).toBeGreaterThan(1e-3); // the prefix matters
  await o.dispose();
  await t.dispose();
});

test('ZO (MeZO) on the LoRA blocks alone lowers story-cloze training loss on stories260K', async () => {
  const resolved = resolveModel('stories260K', DATA);
  const base = await open('ort');
  const adapter: Adapter = createAdapter(base, lora);
  const frozen = base.blocks.map((b) => Float32Array.from(b.data!));
  const task = resolveTask('story-cloze');
  const { train } = task.splits(DATA, 0);
  const collator = new Collator(task, resolved.tokenizer, resolved.checkpoint.config.maxSeqLen);
  // the training loss on a fixed sample of the examples the steps train on
  const held = [0, 1].map((i) => collator.batch(train.slice(32 * i, 32 * i + 32)));
  const m = adapter.model as Extract<Model, { engine: 'ort' }>;
  const loss = async () => (await objectiveValue(m, held[0]) + (await objectiveValue(m, held[1]))) / 2;
  const l0 = await loss();
  // trajectory format version 3 (noise stream 1): the draw this threshold was set on. 100 MeZO steps lower
  // the loss by a draw-dependent amount: run seeds 0–4 gave 0.0038, 0.0060, 0.0076, 0.0015, −0.0010 with
  // stream 1 and −0.0004, 0.0052, 0.0041, 0.0068, 0.0071 with version 4's stream 2 (means 0.0036, 0.0046)
  const est = createEstimator({ name: 'mezo', eps: 1e-3, lr: LORA_LR }, { threads: 1, trajectoryVersion: 3 });
  for (let s = 0; s < LORA_STEPS; s++) {
    const batch = collator.batch(train.slice((16 * s) % 784, ((16 * s) % 784) + 16));
    const rec = await est.step({ blocks: adapter.blocks, step: s, seed: stepSeed(0, s), lossValue: () => objectiveValue(m, batch), batch: batch.packed });
    await est.update(adapter.blocks, rec);
  }
  const l1 = await loss();
  expect(l1).toBeLessThan(l0 - 0.002);
  // LoRA's branch runs in the ORT graph: no base weight was ever written, the targets included
  base.blocks.forEach((b, j) => expect(b.data!).toEqual(frozen[j]));
  await base.dispose();
}, 300_000);

test.each(['mezo', 'guided', 'greedy', 'elite'] as const)('estimator %s steps the LoRA and prefix blocks; replay from the records rebuilds them bit for bit', async (name) => {
  const resolved = resolveModel('stories260K', DATA);
  const task = resolveTask('story-cloze');
  const { train } = task.splits(DATA, 0);
  const collator = new Collator(task, resolved.tokenizer, resolved.checkpoint.config.maxSeqLen);
  for (const peft of [lora, { method: 'prefix', tokens: 3, initSeed: 4 } as PeftConfig]) {
    const live = createAdapter(await open('ort'), peft);
    const est = createEstimator({ name, lr: 1e-3, candidates: 3 }, { threads: 1 });
    const header = await trajectoryHeader(live.blocks, { runSeed: 0, family: 'llama', estimator: est.config });
    const m = live.model as Extract<Model, { engine: 'ort' }>;
    const records: StepRecord[] = [];
    for (let s = 0; s < 3; s++) {
      const batch = collator.batch(train.slice(4 * s, 4 * s + 4));
      const rec = await est.step({ blocks: live.blocks, step: s, seed: stepSeed(0, s), lossValue: () => objectiveValue(m, batch), batch: batch.packed, prev: records.at(-1) });
      await est.update(live.blocks, rec);
      records.push(rec);
    }
    // onto fresh adapters over a model on the other engine: replay needs no forward pass
    const fresh = createAdapter(await open('tfjs'), peft);
    await replay(fresh.blocks, header, records);
    expect(fresh.tensors()).toEqual(live.tensors());
    const init = createAdapter(await open('ort'), peft);
    expect(live.tensors()).not.toEqual(init.tensors()); // the steps moved them
    for (const a of [live, fresh, init]) await a.model.dispose();
  }
}, 300_000);

// Every family's attention takes the prefix (tfjs ops / the arch graph for OPT and GPT-2, the LLaMA
// paths for Qwen2): the two engines agree with a prefix on the golden fixtures, the prefix changes the
// logits, LoRA with B = 0 is the base model and with B ≠ 0 the model of its merged weights (GPT-2's
// fused c_attn is a target like any linear; ORT to 1e-5: its graph computes the branch).
const FAMILY_FIXTURES = [
  ['qwen2', ['q_proj', 'v_proj']],
  ['opt', ['q_proj', 'v_proj']],
  ['opt-postnorm', ['q_proj', 'v_proj']],
  ['gpt2', ['c_attn']],
] as const;
describe.each(FAMILY_FIXTURES)('PEFT on the %s fixture', (name, targets) => {
  const fixture = () => resolveModel(resolve(REPO_ROOT, 'tests/fixtures/families', name), DATA).checkpoint;
  const batch = packSequences([[5, 17, 30, 2, 41, 9], [7, 3, 22, 60, 11, 4]]);

  test('prefix: both engines give the same logits, and the prefix matters', async () => {
    const c = fixture();
    const cfg = { method: 'prefix', tokens: 3, initSeed: 5 } as const;
    const [o, t] = [await open('ort', c), await open('tfjs', c)];
    const base = await logits(o, batch);
    const [ao, at] = [createAdapter(o, cfg), createAdapter(t, cfg)];
    expect(ao.tensors()).toEqual(at.tensors());
    const lo = await logits(ao.model, batch);
    expect(relErr(lo, await logits(at.model, batch))).toBeLessThan(1e-5);
    expect(relErr(lo, base)).toBeGreaterThan(1e-3);
    await o.dispose();
    await t.dispose();
  });

  test.each(ENGINES)('LoRA with B = 0 on engine %s is the base model', async (engine) => {
    const m = await open(engine, fixture());
    const base = await logits(m, batch);
    const adapter = createAdapter(m, { ...lora, targets: [...targets] });
    expect(adapter.blocks.length).toBe(2 * targets.length * m.config.nLayers);
    expect(await logits(adapter.model, batch)).toEqual(base);
    await m.dispose();
  });

  // B = 0 passes even if the adapter is never applied: with a trained-looking B the adapted forward
  // must move away from the base model and equal the model built from the merged weights: bit for bit
  // on tfjs (it computes with merged weights too), to 1e-5 of the logits' scale on ORT (x·W0 + s·(x·A)·B
  // in float32 against x·W with W merged in float64)
  test.each(ENGINES)('LoRA with B ≠ 0 on engine %s equals the model of its merged weights', async (engine) => {
    const m = await open(engine, fixture());
    const base = await logits(m, batch);
    const adapter = createAdapter(m, { ...lora, targets: [...targets] });
    for (const b of adapter.blocks) if (b.name.includes('lora_B')) normalFill(b.data!, 7, b.index);
    const adapted = await logits(adapter.model, batch);
    expect(relErr(adapted, base)).toBeGreaterThan(1e-2);
    const merged = await open(engine, adapter.merged());
    if (engine === 'tfjs') expect(await logits(merged, batch)).toEqual(adapted);
    else expect(relErr(await logits(merged, batch), adapted)).toBeLessThan(1e-5);
    for (const x of [m, merged]) await x.dispose();
  });
});
