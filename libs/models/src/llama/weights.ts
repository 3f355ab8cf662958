// Checkpoint (HF names, HF layout: nn.Linear [out, in], GPT-2's Conv1D [in, out]) ⇄ the model's blocks
// (matrices stored [in, out], because on wasm a matMul with a transposed operand runs ten times slower
// than a plain one). Every family's tensors come from its Arch (families/arch.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { Checkpoint, HostTensor } from '../checkpoint';
import type { Block, ModelConfig } from '../types';
import { blockValues } from '../block';
import { archOf, familyOf } from '../families/arch';
import { validateModelConfig } from './names';

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

export interface HostBlocksOptions {
  /**
   * The checkpoint is handed over: a tensor whose array owns its whole plain ArrayBuffer becomes the
   * block's array (a matrix transposed in place through one tensor of scratch), so the blocks cost no
   * new memory and leave no garbage behind; any other array is copied and released as soon as its
   * block exists. ckpt.tensors is empty afterwards (reading it would otherwise see the trained weights
   * through the adopted arrays). With an `alloc` (shared memory) every array is copied, and released.
   */
  handOver?: boolean;
}

/**
 * Blocks in HF order from a checkpoint with their weights in JS memory (Block.data, matrices
 * transposed to [in, out]), each array from `alloc(size)`; throws naming the tensor when one is missing
 * or misshapen (before any tensor is handed over).
 */
export function hostBlocksFromCheckpoint(ckpt: Checkpoint, alloc?: (size: number) => Float32Array, opts: HostBlocksOptions = {}): Block[] {
  const adopt = opts.handOver === true && alloc === undefined;
  if (opts.handOver) for (const _ of hostBlocks(ckpt, null)); // validate everything first: a bad file leaves the checkpoint whole
  const blocks = [...hostBlocks(ckpt, alloc ?? ((n) => new Float32Array(n)), adopt, opts.handOver === true)];
  if (opts.handOver) ckpt.tensors.clear();
  return blocks;
}

/** An array that owns its whole, non-shared buffer (a view into a larger file buffer would keep that buffer alive). */
function ownsBuffer(a: Float32Array): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer;
}

/** alloc null: only check the tensors (yields blocks without data). */
function* hostBlocks(ckpt: Checkpoint, alloc: ((size: number) => Float32Array) | null, adopt = false, release = false): Generator<Block> {
  validateModelConfig(ckpt.config, ckpt.source);
  let scratch = new Float32Array(0); // adopt: [size] of the largest transposed tensor so far
  const specs = archOf(ckpt.config, (name) => ckpt.tensors.has(name)).tensors;
  for (const [index, spec] of specs.entries()) {
    const t = ckpt.tensors.get(spec.name);
    if (!t) throw new Error(`${ckpt.source}: tensor ${spec.name} is missing`);
    if (!sameShape(t.shape, spec.hfShape))
      throw new Error(`${ckpt.source}: tensor ${spec.name} has shape [${t.shape}], expected [${spec.hfShape}]`);
    const size = spec.hfShape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) throw new Error(`${ckpt.source}: tensor ${spec.name} holds ${t.data.length} values, expected ${size}`);
    const shape = spec.transpose ? [spec.hfShape[1], spec.hfShape[0]] : spec.hfShape;
    if (alloc === null) {
      yield { name: spec.name, shape, kind: spec.kind, size, index };
      continue;
    }
    let data: Float32Array;
    if (adopt && ownsBuffer(t.data)) {
      data = t.data;
      if (spec.transpose) {
        if (scratch.length < size) scratch = new Float32Array(size);
        const copy = scratch.subarray(0, size);
        copy.set(data);
        transposeHost(copy, spec.hfShape[0], spec.hfShape[1], data);
      }
    } else {
      data = alloc(size);
      if (spec.transpose) transposeHost(t.data, spec.hfShape[0], spec.hfShape[1], data);
      else data.set(t.data);
    }
    if (release) ckpt.tensors.delete(spec.name);
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

/** Where a block's weights sit relative to the Hugging Face layout. */
export interface HfLayout {
  block: Block;
  /** stored [in, out]: the HF tensor is the transpose */
  transposed: boolean;
  /** the HF shape */
  shape: number[];
}

/** Every block's HF layout, by name, in block order (no weights read). */
export function hfLayoutOfBlocks(config: ModelConfig, blocks: readonly Block[]): Map<string, HfLayout> {
  const names = new Set(blocks.map((b) => b.name));
  const transposed = new Set(archOf(config, (name) => names.has(name)).tensors.filter((t) => t.transpose).map((t) => t.name));
  return new Map(blocks.map((b) => {
    const tr = transposed.has(b.name);
    return [b.name, { block: b, transposed: tr, shape: tr ? [b.shape[1], b.shape[0]] : [...b.shape] }];
  }));
}

/**
 * One block's weights as an HF-layout tensor: a transposed block as a fresh [out, in] array, any other
 * as its own array (`copy`: a copy of it; without, the caller must not write it). Writers and digests
 * call this one tensor at a time, so no second copy of the whole model ever exists.
 */
export function hfTensorOf(l: HfLayout, copy = false): HostTensor {
  const data = blockValues(l.block);
  if (l.transposed) return { shape: [...l.shape], data: transposeHost(data, l.block.shape[0], l.block.shape[1]) };
  return { shape: [...l.shape], data: copy ? Float32Array.from(data) : data };
}

/**
 * Overwrite a block's weights from an HF-layout tensor (the inverse of hfTensorOf), in place:
 * Block.data is written (ORT feeds and worker views stay valid), a tfjs variable is reassigned.
 */
export function setBlockFromHf(l: HfLayout, t: HostTensor, where: string): void {
  const b = l.block;
  if (!sameShape(t.shape, l.shape)) throw new Error(`${where}: tensor ${b.name} has shape [${t.shape}], the model's is [${l.shape}]`);
  if (b.data) {
    if (l.transposed) transposeHost(t.data, l.shape[0], l.shape[1], b.data);
    else b.data.set(t.data);
    return;
  }
  const v = tf.tensor(l.transposed ? transposeHost(t.data, l.shape[0], l.shape[1]) : t.data, b.shape, 'float32');
  b.variable!.assign(v);
  v.dispose();
}

/** The blocks back in a checkpoint (HF layout), e.g. for the safetensors writer. */
export function checkpointFromBlocks(
  config: ModelConfig,
  blocks: Block[],
  meta: Pick<Checkpoint, 'format' | 'source'>,
): Checkpoint {
  const tensors = new Map<string, HostTensor>();
  for (const [name, l] of hfLayoutOfBlocks(config, blocks)) tensors.set(name, hfTensorOf(l, true));
  return { family: familyOf(config), config: { ...config }, tensors, format: meta.format, source: meta.source };
}
