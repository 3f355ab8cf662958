// The family configs and directories: config.json ↔ config for each family (transformers' defaults,
// refusals by field name), Hugging Face names, kinds and layouts of the blocks, and a written
// directory that the same loader reads back (fp32, from the fp16/bf16/sharded fixtures).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHfConfig, toHfConfig } from '../io/hf-config';
import { readHfDir, writeHfDir } from '../io/hf-dir';
import { errorOf } from '../io/testing.testkit';
import { hostBlocksFromCheckpoint } from '../llama/weights';
import { archOf } from './arch';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../tests/fixtures/families');
const tmp = mkdtempSync(join(tmpdir(), 'zotune-families-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const raw = (family: string) => JSON.parse(readFileSync(join(FIXTURES, family, 'config.json'), 'utf8'));

describe.each(['llama', 'qwen2', 'opt', 'opt-postnorm', 'gpt2'])('family directory %s', (name) => {
  it('config.json → config → config.json → the same config; the directory round-trips in fp32', () => {
    const f = join(FIXTURES, name, 'config.json');
    const config = parseHfConfig(raw(name), f);
    expect(parseHfConfig(toHfConfig(config), f)).toEqual(config);
    const ckpt = readHfDir(join(FIXTURES, name));
    const out = join(tmp, name);
    writeHfDir(out, ckpt);
    const back = readHfDir(out);
    expect(back.family).toBe(ckpt.family);
    expect(back.config).toEqual(ckpt.config);
    for (const [n, t] of ckpt.tensors) expect(back.tensors.get(n)!.data, n).toEqual(t.data);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).architectures).toEqual(raw(name).architectures);
  });
});

describe('family blocks', () => {
  it('keep Hugging Face names, kinds and shapes; nn.Linear matrices are transposed to [in, out], Conv1D kept', () => {
    const gpt2 = readHfDir(join(FIXTURES, 'gpt2'));
    const blocks = hostBlocksFromCheckpoint(gpt2);
    const by = new Map(blocks.map((b) => [b.name, b]));
    expect(by.get('transformer.wte.weight')).toMatchObject({ kind: 'embedding', shape: [300, 32] });
    expect(by.get('transformer.wpe.weight')).toMatchObject({ kind: 'position', shape: [64, 32] });
    expect(by.get('transformer.h.0.attn.c_attn.weight')).toMatchObject({ kind: 'matrix', shape: [32, 96] });
    expect(by.get('transformer.h.0.attn.c_attn.weight')!.data).toEqual(gpt2.tensors.get('transformer.h.0.attn.c_attn.weight')!.data);
    expect(by.get('transformer.h.0.ln_1.bias')).toMatchObject({ kind: 'bias', shape: [32] });
    expect(by.has('lm_head.weight')).toBe(false); // tied

    const opt = readHfDir(join(FIXTURES, 'opt'));
    const ob = new Map(hostBlocksFromCheckpoint(opt).map((b) => [b.name, b]));
    expect(ob.get('model.decoder.embed_positions.weight')).toMatchObject({ kind: 'position', shape: [66, 32] }); // offset 2
    expect(ob.get('model.decoder.layers.0.fc1.weight')).toMatchObject({ kind: 'matrix', shape: [32, 64] });
    expect(ob.get('model.decoder.layers.0.self_attn_layer_norm.weight')).toMatchObject({ kind: 'norm' });
    expect(ob.has('model.decoder.final_layer_norm.weight')).toBe(true);
    expect(archOf(readHfDir(join(FIXTURES, 'opt-postnorm')).config).finalNorm).toBeUndefined();

    const qwen = readHfDir(join(FIXTURES, 'qwen2'));
    const names = hostBlocksFromCheckpoint(qwen).map((b) => b.name);
    expect(names.filter((n) => n.endsWith('.bias'))).toEqual([0, 1].flatMap((l) => ['q', 'k', 'v'].map((p) => `model.layers.${l}.self_attn.${p}_proj.bias`)));
    expect(names.at(-1)).toBe('lm_head.weight'); // untied
  });
});

describe('family configs: refusals name the field', () => {
  const f = 'x/config.json';
  it.each([
    ['qwen2', { use_sliding_window: true }, /field "use_sliding_window" is true \(sliding-window attention is not supported; expected false\)/],
    ['qwen2', { rope_scaling: { type: 'yarn' } }, /field "rope_scaling"/],
    ['qwen2', { hidden_act: 'gelu' }, /field "hidden_act" is "gelu"/],
    ['opt', { word_embed_proj_dim: 16 }, /field "word_embed_proj_dim" is 16 \(project_in\/project_out are not supported/],
    ['opt', { activation_function: 'gelu' }, /field "activation_function" is "gelu"/],
    ['opt', { enable_bias: false }, /field "enable_bias" is false/],
    ['opt', { _remove_final_layer_norm: true }, /field "_remove_final_layer_norm" is true/],
    ['opt', { do_layer_norm_before: 'yes' }, /field "do_layer_norm_before" is "yes" \(expected true or false\)/],
    ['opt', { ffn_dim: undefined }, /field "ffn_dim" is missing/],
    ['gpt2', { activation_function: 'relu' }, /field "activation_function" is "relu" \(not supported; expected "gelu_new"\)/],
    ['gpt2', { scale_attn_by_inverse_layer_idx: true }, /field "scale_attn_by_inverse_layer_idx" is true/],
    ['gpt2', { add_cross_attention: true }, /field "add_cross_attention" is true/],
    ['gpt2', { n_embd: undefined }, /field "n_embd" is missing/],
    ['gpt2', { architectures: ['GPT2Model'], model_type: undefined }, /architectures \["GPT2Model"\] is not supported and model_type is missing/],
    ['gpt2', { model_type: 'opt' }, /architectures "GPT2LMHeadModel" is not supported for model_type "opt"/],
  ] as const)('%s with %j', (family, patch, want) => {
    expect(errorOf(() => parseHfConfig({ ...raw(family), ...patch }, f), f)).toMatch(want);
  });

  it('takes transformers defaults (GPT-2: n_inner null = 4·n_embd, tied; OPT: pre-norm, tied; Qwen2: untied)', () => {
    const g = raw('gpt2');
    expect(parseHfConfig({ ...g, n_inner: null, tie_word_embeddings: undefined, n_positions: undefined }, f)).toMatchObject({ hiddenDim: 128, tiedEmbeddings: true, maxSeqLen: 1024 });
    expect(parseHfConfig({ ...raw('opt'), do_layer_norm_before: undefined, tie_word_embeddings: undefined }, f)).toMatchObject({ preNorm: true, tiedEmbeddings: true, normEps: 1e-5 });
    expect(parseHfConfig({ ...raw('qwen2'), tie_word_embeddings: undefined, rms_norm_eps: undefined }, f)).toMatchObject({ family: 'qwen2', tiedEmbeddings: false, normEps: 1e-6 });
  });
});
