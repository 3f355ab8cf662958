// The weight files of a run: model.safetensors (best by dev accuracy) and final.safetensors, in
// Hugging Face names and layout, written atomically. The metadata names the base model and the step,
// so that a resumed run can check which step a file holds, and so that `zotune replay --step N`
// writes byte-identical files.
import { existsSync } from 'node:fs';
import { loadModelSafetensors, readSafetensors, writeModelSafetensors, writeSafetensors, type Model, type Checkpoint } from '@zotune/models';
import { openModel, type EngineChoice } from '@zotune/engine';
import { createAdapter, peftLabel, type Adapter, type PeftConfig } from '@zotune/peft';
import { UserError } from '@zotune/report';

/** File names inside a run directory. */
export const WEIGHT_FILES = { best: 'model.safetensors', final: 'final.safetensors', trajectory: 'trajectory' } as const;

/**
 * Write the model's current weights with the step they belong to; a PEFT run writes its adapter's
 * tensors instead (with the PEFT setting in the metadata), the base weights being the model's own.
 */
export function writeRunWeights(file: string, model: Model, meta: { model: string; step: number }, adapter?: Adapter): void {
  const stamp = { format: 'pt', 'zotune.model': meta.model, 'zotune.step': String(meta.step) };
  if (adapter) writeSafetensors(file, adapter.tensors(), { ...stamp, 'zotune.peft': JSON.stringify(adapter.config) });
  // the bytes of writeSafetensors(toCheckpoint(model).tensors), one tensor in memory at a time
  else writeModelSafetensors(file, model, stamp);
}

/**
 * Put the weights of a run file written by writeRunWeights at `step` back into the model in place (a
 * PEFT run: into its adapter), one tensor at a time: the live model becomes the file's checkpoint with
 * no second model. Refuses a file of another step (one line).
 */
export function loadRunWeights(file: string, step: number, model: Model, adapter?: Adapter): void {
  const got = weightsStep(file);
  if (got !== step) throw new Error(`${file}: ${got === undefined ? 'missing or without a step' : `holds step ${got}`}, expected step ${step} (\`zotune replay --step ${step}\` rebuilds it)`);
  if (adapter) adapter.load(readSafetensors(file).tensors, file);
  else loadModelSafetensors(model, file);
}

/** The adapter of a PEFT setting over a model, its errors as one-line --peft errors. */
export function openAdapter(model: Model, peft: PeftConfig): Adapter {
  try {
    return createAdapter(model, peft);
  } catch (e) {
    throw new UserError(`--peft ${peftLabel(peft)}: ${(e as Error).message}`, 2);
  }
}

/** The step recorded in a run weight file, or undefined when the file is missing or has none. */
export function weightsStep(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const { metadata } = readSafetensors(file, () => false);
  const s = Number(metadata['zotune.step']);
  return Number.isInteger(s) && s >= 0 ? s : undefined;
}

/**
 * A model with the base checkpoint's architecture and the weights of a run file. Refuses a file whose
 * tensor names or shapes differ from the base (one line naming the tensor). The base checkpoint is
 * handed over (openModel's handOver) and the file read into the model one tensor at a time, so the
 * weights are held once.
 */
export async function modelFromWeights(base: Checkpoint, file: string, engine: EngineChoice, peft?: PeftConfig): Promise<Model> {
  if (peft) {
    const { tensors } = readSafetensors(file);
    // an adapter file: the base model seen through the adapter it holds
    const model = await openModel(base, engine, { handOver: true });
    try {
      const adapter = openAdapter(model, peft);
      adapter.load(tensors, file);
      return adapter.model;
    } catch (e) {
      await model.dispose();
      throw e;
    }
  }
  const model = await openModel(base, engine, { handOver: true });
  try {
    loadModelSafetensors(model, file);
  } catch (e) {
    await model.dispose();
    throw e;
  }
  return model;
}
