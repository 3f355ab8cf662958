// MODEL arguments of the CLI → checkpoint + tokenizer. MODEL is a name under <dataDir>/models/
// (stories260K → models/stories260K/stories260K.bin + tok512.bin; smollm2-135m → the .gguf inside), a
// llama2.c .bin with its tokenizer beside it, a Hugging Face directory (config.json + model.safetensors
// + tokenizer), or a GGUF file (weights and tokenizer in one file).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { resolveDataDir } from '@zotune/data';
import { RemedyError } from '@zotune/io';
import { findTokenizerFile, loadTokenizer, type Tokenizer } from '@zotune/tokenizers';
import type { Checkpoint } from '../checkpoint';
import { readGgufCheckpoint, readGgufTokenizer, isGgufFile } from './gguf';
import { readGguf } from '@zotune/gguf';
import { isHfDir, readHfDir } from './hf-dir';
import { readLlama2c } from './llama2c';

export interface ResolvedModel {
  checkpoint: Checkpoint;
  tokenizer: Tokenizer;
  tokenizerPath: string;
  /** the model's short name (the data-dir name, the .bin's stem or the directory's name) */
  name: string;
}

/** Read a checkpoint: a Hugging Face directory (or its .safetensors file), a GGUF file or a llama2.c .bin. */
export function readCheckpoint(path: string): Checkpoint {
  if (existsSync(path) && statSync(path).isDirectory()) {
    if (!isHfDir(path)) throw new Error(`${path}: not a Hugging Face model directory (no config.json)`);
    return readHfDir(path);
  }
  if (extname(path) === '.safetensors') return readHfDir(dirname(path));
  if (isGguf(path)) return readGgufCheckpoint(path);
  return readLlama2c(path);
}

/** The llama2.c checkpoint in a model folder: <name>.bin, else the only non-tokenizer .bin. */
function binInDir(dir: string, name: string): string | undefined {
  if (existsSync(join(dir, `${name}.bin`))) return join(dir, `${name}.bin`);
  const bins = readdirSync(dir).filter((f) => f.endsWith('.bin') && !/^tok.*\.bin$/.test(f) && f !== 'tokenizer.bin');
  if (bins.length > 1) throw new Error(`${dir}: several checkpoints (${bins.join(', ')}); pass the .bin path`);
  return bins.length ? join(dir, bins[0]) : undefined;
}

/** A .gguf by name, or any file that starts with the GGUF magic. */
function isGguf(path: string): boolean {
  return extname(path).toLowerCase() === '.gguf' || isGgufFile(path);
}

/** The single GGUF model in a model folder, else undefined. */
function ggufInDir(dir: string): string | undefined {
  const ggufs = readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.gguf'));
  if (ggufs.length > 1) throw new Error(`${dir}: several GGUF models (${ggufs.join(', ')}); pass the .gguf path`);
  return ggufs.length ? join(dir, ggufs[0]) : undefined;
}

/** A GGUF file: weights and tokenizer both come from it. */
function fromGguf(path: string, name: string): ResolvedModel {
  const file = readGguf(path);
  // the tokenizer first: it is cheap, and a file without one should not cost a full dequantization
  const tokenizer = readGgufTokenizer(path, file);
  const checkpoint = readGgufCheckpoint(path, file);
  if (tokenizer.vocabSize > checkpoint.config.vocabSize)
    throw new Error(`${path}: tokenizer has ${tokenizer.vocabSize} ids, more than the model's vocabulary of ${checkpoint.config.vocabSize}`);
  return { checkpoint, tokenizer, tokenizerPath: path, name };
}

function withTokenizer(checkpoint: Checkpoint, where: string, name: string): ResolvedModel {
  const tokenizerPath = findTokenizerFile(where, checkpoint.config.vocabSize);
  if (!tokenizerPath)
    throw new Error(`${checkpoint.source}: no tokenizer beside the checkpoint (expected tokenizer.json, tokenizer.bin or tok*.bin in ${where})`);
  return { checkpoint, tokenizer: loadTokenizer(tokenizerPath, { vocabSize: checkpoint.config.vocabSize }), tokenizerPath, name };
}

function fromDir(dir: string, name: string): ResolvedModel {
  if (isHfDir(dir)) return withTokenizer(readHfDir(dir), dir, name);
  const gguf = ggufInDir(dir);
  if (gguf) return fromGguf(gguf, name);
  const bin = binInDir(dir, name);
  if (!bin) throw new Error(`${dir}: no model here (expected config.json with model.safetensors, a .gguf, or a llama2.c .bin)`);
  return withTokenizer(readLlama2c(bin), dir, name);
}

export function resolveModel(arg: string, dataDir: string = resolveDataDir()): ResolvedModel {
  if (arg.trim() === '') throw new Error('model: empty argument (expected a name under the data directory, a .bin path or a Hugging Face directory)');
  if (existsSync(arg)) {
    const path = resolve(arg);
    if (statSync(path).isDirectory()) return fromDir(path, basename(path));
    if (extname(path) === '.safetensors') return fromDir(dirname(path), basename(dirname(path)));
    if (isGguf(path)) return fromGguf(path, basename(path, extname(path)));
    return withTokenizer(readLlama2c(path), dirname(path), basename(path, extname(path)));
  }
  const looksLikePath = arg.includes('/') || arg.includes('\\') || arg.endsWith('.bin') || arg.endsWith('.gguf');
  const dir = join(dataDir, 'models', arg);
  if (!looksLikePath && existsSync(dir) && statSync(dir).isDirectory()) return fromDir(dir, arg);
  if (looksLikePath) throw new Error(`${arg}: no such file or directory`);
  throw new RemedyError(
    `model "${arg}": not a file or directory, and ${dir} does not exist; fetch it with ensureData({ model: '${arg}' }) or pullData() from @zotune/data, or pass a data directory with models/${arg}/`,
    `model "${arg}": not a file or directory, and ${dir} does not exist; run \`zotune data pull --only ${arg}\` (or \`zotune data pull --from DIR\` from a mirror), or set ZOTUNE_DATA to a directory with models/${arg}/`,
  );
}
