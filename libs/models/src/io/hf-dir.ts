// Hugging Face directories of every family (LlamaForCausalLM, Qwen2ForCausalLM, OPTForCausalLM,
// GPT2LMHeadModel): config.json + model.safetensors (or sharded with
// model.safetensors.index.json), read into and written from a Checkpoint.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tempPathFor, writeJsonAtomic } from '@zotune/io';
import type { Checkpoint, HostTensor } from '../checkpoint';
import { type HfConfigExtras, parseHfConfig, toHfConfig } from './hf-config';
import { archOf } from '../families/arch';
import { validateCheckpoint } from './layout';
import { readSafetensors, writeSafetensors } from './safetensors';

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
}

/** name → shard file, from model.safetensors.index.json */
function shardMap(indexFile: string): Map<string, string> {
  const raw = readJson(indexFile) as { weight_map?: unknown };
  const wm = raw?.weight_map;
  if (wm === null || typeof wm !== 'object' || Array.isArray(wm)) throw new Error(`${indexFile}: field "weight_map" is missing (expected {tensor: file})`);
  const out = new Map<string, string>();
  for (const [name, f] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof f !== 'string' || f.includes('/') || f.includes('\\') || f === '..')
      throw new Error(`${indexFile}: weight_map[${JSON.stringify(name)}] is ${JSON.stringify(f)} (expected a file name in the same directory)`);
    out.set(name, f);
  }
  return out;
}

export function isHfDir(dir: string): boolean {
  return existsSync(join(dir, 'config.json'));
}

/** Read a Hugging Face directory of any family (weights only; see resolveModel for the tokenizer). */
export function readHfDir(dir: string): Checkpoint {
  const config = parseHfConfig(readJson(join(dir, 'config.json')), join(dir, 'config.json'));
  const wanted = new Set(archOf(config).tensors.map((s) => s.name));
  const tensors = new Map<string, HostTensor>();
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  // extra tensors (rotary inv_freq buffers, GPT-2's attn.bias masks, an lm_head duplicated although tied) are not read
  if (existsSync(single)) {
    for (const [n, t] of readSafetensors(single, (n) => wanted.has(n)).tensors) tensors.set(n, t);
  } else if (existsSync(index)) {
    const map = shardMap(index);
    const shards = new Set([...map].filter(([n]) => wanted.has(n)).map(([, f]) => f));
    for (const f of shards) {
      const file = join(dir, f);
      const got = readSafetensors(file, (n) => wanted.has(n) && map.get(n) === f).tensors;
      for (const [n, shard] of map) if (shard === f && wanted.has(n) && !got.has(n)) throw new Error(`${file}: tensor ${n} is missing (the index puts it in this shard)`);
      for (const [n, t] of got) tensors.set(n, t);
    }
  } else throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json in this Hugging Face directory`);
  const ckpt: Checkpoint = { family: config.family ?? 'llama', config, tensors, format: 'hf-safetensors', source: dir };
  validateCheckpoint(ckpt);
  return ckpt;
}

export interface WriteHfDirOptions extends HfConfigExtras {
  /** a tokenizer file to copy into the directory under its own name (tokenizer.json, tok512.bin, ...) */
  tokenizerPath?: string;
}

/** Write a checkpoint as a Hugging Face directory of its family (config.json + model.safetensors). */
export function writeHfDir(dir: string, ckpt: Checkpoint, opts: WriteHfDirOptions = {}): void {
  validateCheckpoint(ckpt);
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'), ckpt.tensors, { format: 'pt' });
  if (opts.tokenizerPath) {
    const target = join(dir, basename(opts.tokenizerPath));
    const tmp = tempPathFor(target);
    copyFileSync(opts.tokenizerPath, tmp);
    renameSync(tmp, target);
  }
  // config.json last: a directory with a config.json is complete
  writeJsonAtomic(join(dir, 'config.json'), toHfConfig(ckpt.config, opts));
}
