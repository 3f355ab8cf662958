// Checkpoint (HF names, HF [out, in] layout) ⇄ the model's blocks (matrices stored [in, out], because
// on wasm a matMul with a transposed operand runs ten times slower than a plain one).
import * as tf from '@tensorflow/tfjs-core';
import type { Checkpoint, HostTensor } from '../checkpoint';
import type { Block, LlamaConfig } from '../types';
import { blockValues } from '../block';
import { tensorSpecs, validateLlamaConfig } from './names';

/** [rows, cols] → [cols, rows] on the host. */
export function transposeHost(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
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

/** Blocks in HF order from a checkpoint; throws naming the tensor when one is missing or misshapen. */
export function blocksFromCheckpoint(ckpt: Checkpoint): Block[] {
  validateLlamaConfig(ckpt.config, ckpt.source);
  const specs = tensorSpecs(ckpt.config, (name) => ckpt.tensors.has(name));
  const blocks: Block[] = [];
  try {
    for (const spec of specs) {
      const t = ckpt.tensors.get(spec.name);
      if (!t) throw new Error(`${ckpt.source}: tensor ${spec.name} is missing`);
      if (!sameShape(t.shape, spec.hfShape))
        throw new Error(`${ckpt.source}: tensor ${spec.name} has shape [${t.shape}], expected [${spec.hfShape}]`);
      const size = spec.hfShape.reduce((a, b) => a * b, 1);
      if (t.data.length !== size) throw new Error(`${ckpt.source}: tensor ${spec.name} holds ${t.data.length} values, expected ${size}`);
      let shape = spec.hfShape;
      let data = t.data;
      if (spec.kind === 'matrix') {
        shape = [spec.hfShape[1], spec.hfShape[0]];
        data = transposeHost(t.data, spec.hfShape[0], spec.hfShape[1]);
      }
      const init = tf.tensor(data, shape, 'float32');
      const variable = tf.variable(init, true, `${spec.name}#${nextId++}`);
      init.dispose(); // the variable holds its own reference to the data
      blocks.push({ name: spec.name, shape, kind: spec.kind, size, index: blocks.length, variable });
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
  for (const b of blocks) {
    const data = blockValues(b);
    if (b.kind === 'matrix') tensors.set(b.name, { shape: [b.shape[1], b.shape[0]], data: transposeHost(data, b.shape[0], b.shape[1]) });
    else tensors.set(b.name, { shape: [...b.shape], data: Float32Array.from(data) });
  }
  return { family: 'llama', config: { ...config }, tensors, format: meta.format, source: meta.source };
}
