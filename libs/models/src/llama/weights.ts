// Checkpoint (HF names, HF layout: nn.Linear [out, in], GPT-2's Conv1D [in, out]) ⇄ the model's blocks
// (matrices stored [in, out], because on wasm a matMul with a transposed operand runs ten times slower
// than a plain one). Every family's tensors come from its Arch (families/arch.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { Checkpoint, HostTensor } from '../checkpoint';
import type { Block, LlamaConfig } from '../types';
import { blockValues } from '../block';
import { archOf, familyOf } from '../families/arch';
import { validateLlamaConfig } from './names';

/** [rows, cols] → [cols, rows] on the host. */
export function transposeHost(data: Float32Array, rows: number, cols: number, out: Float32Array = new Float32Array(rows * cols)): Float32Array {
  // blocked, so both sides stay in cache for the large classifier
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B)
    for (let c0 = 0; c0 < cols; c0 += B) {
      const r1 = Math.min(rows, r0 + B);
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = data[r * cols + c];
    }
  return out;
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Blocks in HF order from a checkpoint with their weights in JS memory (Block.data, matrices
 * transposed to [in, out]), each array from `alloc(size)`; throws naming the tensor when one is missing
 * or misshapen.
 */
export function hostBlocksFromCheckpoint(ckpt: Checkpoint, alloc: (size: number) => Float32Array = (n) => new Float32Array(n)): Block[] {
  return [...hostBlocks(ckpt, alloc)];
}

function* hostBlocks(ckpt: Checkpoint, alloc: (size: number) => Float32Array): Generator<Block> {
  validateLlamaConfig(ckpt.config, ckpt.source);
  const specs = archOf(ckpt.config, (name) => ckpt.tensors.has(name)).tensors;
  for (const [index, spec] of specs.entries()) {
    const t = ckpt.tensors.get(spec.name);
    if (!t) throw new Error(`${ckpt.source}: tensor ${spec.name} is missing`);
    if (!sameShape(t.shape, spec.hfShape))
      throw new Error(`${ckpt.source}: tensor ${spec.name} has shape [${t.shape}], expected [${spec.hfShape}]`);
    const size = spec.hfShape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) throw new Error(`${ckpt.source}: tensor ${spec.name} holds ${t.data.length} values, expected ${size}`);
    const data = alloc(size);
    let shape = spec.hfShape;
    if (spec.transpose) {
      shape = [spec.hfShape[1], spec.hfShape[0]];
      transposeHost(t.data, spec.hfShape[0], spec.hfShape[1], data);
    } else data.set(t.data);
    yield { name: spec.name, shape, kind: spec.kind, size, index, data };
  }
}

/** Blocks in HF order from a checkpoint, each as a tfjs variable; throws naming the tensor when one is missing or misshapen. */
export function blocksFromCheckpoint(ckpt: Checkpoint): Block[] {
  const blocks: Block[] = [];
  try {
    // one block's host copy at a time: the tfjs variable becomes its only home
    for (const host of hostBlocks(ckpt, (n) => new Float32Array(n))) {
      const init = tf.tensor(host.data!, host.shape, 'float32');
      const variable = tf.variable(init, true, `${host.name}#${nextId++}`);
      init.dispose(); // the variable holds its own reference to the data
      blocks.push({ name: host.name, shape: host.shape, kind: host.kind, size: host.size, index: host.index, variable });
    }
  } catch (e) {
    for (const b of blocks) b.variable?.dispose();
    throw e;
  }
  return blocks;
}

// tfjs variable names must be unique per process; several models may coexist
let nextId = 0;

/** The blocks back in a checkpoint (HF layout), e.g. for the safetensors writer. */
export function checkpointFromBlocks(
  config: LlamaConfig,
  blocks: Block[],
  meta: Pick<Checkpoint, 'format' | 'source'>,
): Checkpoint {
  const tensors = new Map<string, HostTensor>();
  const names = new Set(blocks.map((b) => b.name));
  const transposed = new Set(archOf(config, (name) => names.has(name)).tensors.filter((t) => t.transpose).map((t) => t.name));
  for (const b of blocks) {
    const data = blockValues(b);
    if (transposed.has(b.name)) tensors.set(b.name, { shape: [b.shape[1], b.shape[0]], data: transposeHost(data, b.shape[0], b.shape[1]) });
    else tensors.set(b.name, { shape: [...b.shape], data: Float32Array.from(data) });
  }
  return { family: familyOf(config), config: { ...config }, tensors, format: meta.format, source: meta.source };
}
