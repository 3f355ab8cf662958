// A model's weights to and from disk without a second copy of them in memory: the writer and the
// digest build each Hugging Face layout tensor from its block on the spot (a transposed block costs one
// tensor of scratch), and the loader reads one tensor at a time into the blocks' own arrays. They give
// the bytes and hashes of writeSafetensors(toCheckpoint(model).tensors) and checkpointDigest.
import { hfLayoutOfBlocks, hfTensorOf, setBlockFromHf } from '../llama/weights';
import type { Block, ModelConfig } from '../types';
import { tensorsDigest } from './digest';
import { withFile } from './file-reader';
import { readSafetensorsHeader, readSafetensorsTensor, writeSafetensorsStreaming } from './safetensors';

/** What these helpers need of a model (Model has it). */
export interface WeightsHolder {
  readonly config: ModelConfig;
  readonly blocks: readonly Block[];
}

/** writeSafetensors(file, toCheckpoint(model).tensors, metadata), byte for byte, one tensor in memory at a time. */
export function writeModelSafetensors(file: string, model: WeightsHolder, metadata: Record<string, string>): void {
  const layout = hfLayoutOfBlocks(model.config, model.blocks);
  const shapes = new Map([...layout].map(([n, l]) => [n, l.shape]));
  writeSafetensorsStreaming(file, shapes, (name) => hfTensorOf(layout.get(name)!).data, metadata);
}

/** checkpointDigest(toCheckpoint(model)) without the copy: the base-model fingerprint while the blocks hold the base weights. */
export function modelDigest(model: WeightsHolder): string {
  const layout = hfLayoutOfBlocks(model.config, model.blocks);
  return tensorsDigest([...layout.keys()], (name) => hfTensorOf(layout.get(name)!));
}

/**
 * Overwrite the model's weights in place with a safetensors file of the same tensors (HF names and
 * shapes, e.g. a run's model.safetensors), one tensor at a time; returns the file's metadata. Checks
 * every name and shape before any weight changes (one line naming the tensor).
 */
export function loadModelSafetensors(model: WeightsHolder, file: string): Record<string, string> {
  return withFile(file, (r) => {
    const { entries, metadata } = readSafetensorsHeader(r);
    const layout = hfLayoutOfBlocks(model.config, model.blocks);
    for (const [name, l] of layout) {
      const e = entries.get(name);
      if (!e) throw new Error(`${file}: tensor ${name} is missing (the model has it)`);
      if (e.shape.join(',') !== l.shape.join(',')) throw new Error(`${file}: tensor ${name} has shape [${e.shape}], the model's is [${l.shape}]`);
    }
    for (const name of entries.keys()) if (!layout.has(name)) throw new Error(`${file}: tensor ${name} is not one of the model's`);
    for (const [name, l] of layout) setBlockFromHf(l, readSafetensorsTensor(r, name, entries.get(name)!), file);
    return metadata;
  });
}
