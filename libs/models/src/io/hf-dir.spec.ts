import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, describe, expect, it } from 'vitest';
import type { Checkpoint, HostTensor } from '../checkpoint';
import { checkpointDigest } from './digest';
import { readHfDir, writeHfDir } from './hf-dir';
import { parseHfConfig, toHfConfig } from './hf-config';
import { readLlama2c } from './llama2c';
import { writeSafetensors } from './safetensors';
import { errorOf } from './testing.testkit';

const DATA = process.env.ZOTUNE_DATA ?? resolve(REPO_ROOT, '../shared/data');
const tmp = mkdtempSync(join(tmpdir(), 'zotune-hf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const base = readLlama2c(join(DATA, 'models/stories260K/stories260K.bin'));

function expectSameTensors(a: Map<string, HostTensor>, b: Map<string, HostTensor>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, t] of a) {
    expect(b.get(name)!.shape).toEqual(t.shape);
    expect(Buffer.from(b.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
  }
}


/** stories260K with a separate classifier (the embedding scaled), to exercise lm_head.weight */
function untied(): Checkpoint {
  const tensors = new Map(base.tensors);
  const emb = base.tensors.get('model.embed_tokens.weight')!;
  tensors.set('lm_head.weight', { shape: emb.shape.slice(), data: emb.data.map((v) => v * 0.5) });
  return { ...base, config: { ...base.config, tiedEmbeddings: false }, tensors };
}

describe('Hugging Face directories', () => {
  it('round-trips stories260K: identical tensors and config, transformers-style config.json', () => {
    const dir = join(tmp, 'rt');
    writeHfDir(dir, base);
    const back = readHfDir(dir);
    expect(back.format).toBe('hf-safetensors');
    expect(back.config).toEqual(base.config);
    expectSameTensors(base.tensors, back.tensors);
    expect(checkpointDigest(back)).toBe(checkpointDigest(base));
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, num_key_value_heads: 4, tie_word_embeddings: true, rms_norm_eps: 1e-5 });
  });

  it('round-trips a separate classifier, and ignores an lm_head stored beside tied embeddings', () => {
    const dir = join(tmp, 'untied');
    const ck = untied();
    writeHfDir(dir, ck);
    const back = readHfDir(dir);
    expect(back.config.tiedEmbeddings).toBe(false);
    expectSameTensors(ck.tensors, back.tensors);
    // same files, config says tied: lm_head.weight is not read
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, tie_word_embeddings: true }));
    expect(readHfDir(dir).tensors.has('lm_head.weight')).toBe(false);
  });

  it('reads sharded checkpoints through model.safetensors.index.json', () => {
    const dir = join(tmp, 'sharded');
    const names = [...base.tensors.keys()].sort();
    const half = Math.floor(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((ns, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), new Map(ns.map((n) => [n, base.tensors.get(n)!])));
      for (const n of ns) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(base.config)));
    expectSameTensors(base.tensors, readHfDir(dir).tensors);
    // an index that points a tensor at the wrong shard
    const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const moved = { ...weightMap, 'model.norm.weight': shardNames.find((f) => f !== weightMap['model.norm.weight'])! };
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: moved }));
    expect(errorOf(() => readHfDir(dir), dir)).toMatch(/tensor model\.norm\.weight is missing \(the index puts it in this shard\)/);
  });

  it('maps config.json fields and refuses what the model does not implement', () => {
    const f = 'x/config.json';
    const good = toHfConfig(base.config);
    expect(parseHfConfig(good, f)).toEqual(base.config);
    const minimal = { model_type: 'llama', hidden_size: 64, intermediate_size: 172, num_hidden_layers: 5, num_attention_heads: 8, vocab_size: 512 };
    // transformers' ModelConfig defaults for the rest
    expect(parseHfConfig(minimal, f)).toEqual({ ...base.config, nKvHeads: 8, maxSeqLen: 2048, normEps: 1e-6, tiedEmbeddings: false });
    const without = (k: string) => Object.fromEntries(Object.entries(good).filter(([key]) => key !== k));
    for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'vocab_size'])
      expect(errorOf(() => parseHfConfig(without(k), f), f)).toBe(`${f}: field "${k}" is missing (expected a positive integer)`);
    expect(errorOf(() => parseHfConfig({ ...good, hidden_size: '64' }, f), f)).toMatch(/field "hidden_size" is "64" \(expected a positive integer\)/);
    expect(errorOf(() => parseHfConfig({ ...good, model_type: 'mistral' }, f), f)).toMatch(/model_type "mistral" is not supported/);
    expect(errorOf(() => parseHfConfig({ ...good, model_type: 'gpt2' }, f), f)).toMatch(/architectures "LlamaForCausalLM" is not supported for model_type "gpt2"/);
    expect(errorOf(() => parseHfConfig({ ...good, model_type: undefined, architectures: ['MistralForCausalLM'] }, f), f)).toMatch(/architectures \["MistralForCausalLM"\] is not supported/);
    expect(errorOf(() => parseHfConfig({ ...good, rope_scaling: { rope_type: 'llama3' } }, f), f)).toMatch(/rope_scaling/);
    expect(errorOf(() => parseHfConfig({ ...good, attention_bias: true }, f), f)).toMatch(/attention_bias/);
    expect(errorOf(() => parseHfConfig({ ...good, hidden_act: 'gelu' }, f), f)).toMatch(/hidden_act/);
    expect(errorOf(() => parseHfConfig({ ...good, head_dim: 16 }, f), f)).toMatch(/head_dim/);
    expect(errorOf(() => parseHfConfig({ ...good, num_key_value_heads: 3 }, f), f)).toMatch(/n_heads 8 is not a multiple of n_kv_heads 3/);
  });

  it('gives one-line errors for broken directories', () => {
    const dir = join(tmp, 'broken');
    writeHfDir(dir, base);
    const cfgPath = join(dir, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, num_hidden_layers: undefined }));
    expect(errorOf(() => readHfDir(dir), cfgPath)).toMatch(/field "num_hidden_layers" is missing/);
    writeFileSync(cfgPath, '{ not json');
    expect(errorOf(() => readHfDir(dir), cfgPath)).toMatch(/not JSON/);
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, num_hidden_layers: 6 }));
    expect(errorOf(() => readHfDir(dir), dir)).toMatch(/tensor model\.layers\.5\.\S+ is missing/);
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, intermediate_size: 170 }));
    expect(errorOf(() => readHfDir(dir), dir)).toMatch(/tensor model\.layers\.0\.mlp\.gate_proj\.weight has shape \[172,64\], the config implies \[170,64\]/);
    rmSync(join(dir, 'model.safetensors'));
    writeFileSync(cfgPath, JSON.stringify(cfg));
    expect(errorOf(() => readHfDir(dir), dir)).toMatch(/no model\.safetensors or model\.safetensors\.index\.json/);
  });
});
