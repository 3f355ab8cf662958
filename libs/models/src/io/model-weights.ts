// A model's weights to and from disk without a second copy of them in memory: the writer and the
// digest build each Hugging Face layout tensor from its block on the spot, and the loader reads one
// tensor at a time into the blocks' own arrays. They give the bytes and hashes of
// writeSafetensors(toCheckpoint(model).tensors) and checkpointDigest. Where the blocks' weights are JS
// arrays (engine ort), a transposed block goes through one scratch array (the largest transposed
// block) and an untransposed fp32 tensor is read straight into its block: so a checkpoint save or load
// leaves no garbage the size of the weights behind for the collector (it did: a run's sampled memory
// peak held up to a third of the weights in dead arrays).
import { hfLayoutOfBlocks, hfTensorOf, setBlockFromHf, transposeHost, type HfLayout } from '../llama/weights';
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
  const scratch = transposeScratch(layout);
  // the writer writes each tensor before it asks for the next (synchronously), so one scratch serves all
  writeSafetensorsStreaming(file, shapes, (name) => hfData(layout.get(name)!, scratch), metadata);
}

/** checkpointDigest(toCheckpoint(model)) without the copy: the base-model fingerprint while the blocks hold the base weights. */
export function modelDigest(model: WeightsHolder): string {
  const layout = hfLayoutOfBlocks(model.config, model.blocks);
  const scratch = transposeScratch(layout);
  return tensorsDigest([...layout.keys()], (name) => ({ shape: layout.get(name)!.shape, data: hfData(layout.get(name)!, scratch) }));
}

/** A scratch array for the largest transposed block whose weights are a JS array (none: empty). */
function transposeScratch(layout: Map<string, HfLayout>): Float32Array {
  let n = 0;
  for (const l of layout.values()) if (l.transposed && l.block.data) n = Math.max(n, l.block.size);
  return new Float32Array(n);
}

/** A block's HF-layout values: its own array, or its transpose in `scratch` (valid until the next call); tfjs variables are read out. */
function hfData(l: HfLayout, scratch: Float32Array): Float32Array {
  const data = l.block.data;
  if (!data) return hfTensorOf(l).data;
  if (!l.transposed) return data;
  return transposeHost(data, l.block.shape[0], l.block.shape[1], scratch.subarray(0, data.length));
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
    const scratch = transposeScratch(layout);
    for (const [name, l] of layout) {
      const e = entries.get(name)!;
      const data = l.block.data;
      if (e.dtype !== 'F32' || !data) {
        setBlockFromHf(l, readSafetensorsTensor(r, name, e), file);
        continue;
      }
      // fp32 into the block's own array, or into the scratch and transposed from there (no new array)
      const into = l.transposed ? scratch.subarray(0, data.length) : data;
      r.readInto(new Uint8Array(into.buffer, into.byteOffset, into.byteLength), e.begin);
      if (l.transposed) transposeHost(into, l.shape[0], l.shape[1], data);
    }
    return metadata;
  });
}
