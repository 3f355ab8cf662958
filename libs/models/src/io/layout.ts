// The checks every reader and writer applies to a Checkpoint (its tensors come from the family's Arch).
import type { Checkpoint } from '../checkpoint';
import { archOf } from '../families/arch';
import { configProblem } from '../config';
import type { ModelConfig } from '../types';

export function headSize(c: ModelConfig): number {
  return c.dim / c.nHeads;
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
