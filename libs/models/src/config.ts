// What a model config must satisfy, whichever file it came from: every reader (llama2.c, HF config,
// GGUF), the tensor names of a family (llama/names.ts) and the family's Arch (families/arch.ts) check it
// first. It sits below all of them, needing nothing but the config's type, so none of them imports another
// just for this check.
import type { ModelConfig } from './types';

/** One-line reason why a config cannot describe a LLaMA model, or undefined. */
export function configProblem(c: ModelConfig): string | undefined {
  const ints: (keyof ModelConfig)[] = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'maxSeqLen'];
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
