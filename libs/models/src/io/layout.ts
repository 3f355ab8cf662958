// The checks every reader and writer applies to a Checkpoint (its tensors come from the family's Arch).
import type { Checkpoint } from '../checkpoint';
import { archOf } from '../families/arch';
import type { LlamaConfig } from '../types';

export function headSize(c: LlamaConfig): number {
  return c.dim / c.nHeads;
}

/** One-line reason why a config cannot describe a LLaMA model, or undefined. */
export function configProblem(c: LlamaConfig): string | undefined {
  const ints: (keyof LlamaConfig)[] = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'maxSeqLen'];
  for (const k of ints) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v <= 0 || v > 1 << 24) return `${k} is ${v} (expected a positive integer up to 2^24)`;
  }
  if (c.dim % c.nHeads !== 0) return `dim ${c.dim} is not a multiple of n_heads ${c.nHeads}`;
  const rope = c.family === undefined || c.family === 'llama' || c.family === 'qwen2';
  if (rope && (c.dim / c.nHeads) % 2 !== 0) return `head size ${c.dim / c.nHeads} is odd (RoPE needs pairs)`;
  if (c.nHeads % c.nKvHeads !== 0) return `n_heads ${c.nHeads} is not a multiple of n_kv_heads ${c.nKvHeads}`;
  if (!(c.normEps > 0 && c.normEps < 1)) return `normEps is ${c.normEps} (expected in (0, 1))`;
  if (!(c.ropeTheta > 0)) return `ropeTheta is ${c.ropeTheta} (expected > 0)`;
  return undefined;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Throw a one-line error unless the checkpoint holds exactly the tensors its config implies. */
export function validateCheckpoint(ckpt: Checkpoint): void {
  const problem = configProblem(ckpt.config);
  if (problem) throw new Error(`${ckpt.source}: bad model config: ${problem}`);
  // exactly the tensors of the family (LLaMA files with linear biases are refused, as their config is)
  const specs = archOf(ckpt.config).tensors.map((t) => ({ name: t.name, shape: t.hfShape }));
  for (const { name, shape } of specs) {
    const t = ckpt.tensors.get(name);
    if (!t) throw new Error(`${ckpt.source}: tensor ${name} is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new Error(`${ckpt.source}: tensor ${name} has shape [${t.shape}], the config implies [${shape}]`);
    if (t.data.length !== numel(shape)) throw new Error(`${ckpt.source}: tensor ${name} holds ${t.data.length} values, shape [${shape}] needs ${numel(shape)}`);
  }
  if (ckpt.tensors.size !== specs.length) {
    const known = new Set(specs.map((s) => s.name));
    const extra = [...ckpt.tensors.keys()].filter((n) => !known.has(n));
    throw new Error(`${ckpt.source}: unexpected tensors ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}`);
  }
}
