// What every PEFT method gives the rest of zotune: trainable blocks of its own (weights in JS memory,
// Block.data, on either engine: the ZO engine perturbs them with its NoisePool as it does ORT's), and
// the base model seen through them (`model`): a Proxy whose every forward first brings the base
// model up to date with the adapters (`sync`; a no-op where the engine reads the adapter arrays
// itself). The estimators, the policy and the trajectory are handed `blocks` only; tasks and
// evaluation are handed `model`.
import { transposeHost, type Model, type Block, type Checkpoint, type HostTensor } from '@zotune/models';
import type { PeftConfig } from './config';

export interface Adapter {
  readonly config: PeftConfig;
  /** the trainable blocks, index 0..k-1 in a stable order, kind 'matrix', weights in `data` */
  readonly blocks: Block[];
  /** the base model with the adapters applied to every forward */
  readonly model: Model;
  /** make the base model compute with the adapters' current values (a no-op when they did not change) */
  sync(): void;
  /**
   * how the adapters reach a forward: 'engine', the engine reads the adapter arrays at every forward
   * (prefix: Model.setPrefix; LoRA on a model with setLora, ORT: its branch in the graph), sync is a
   * no-op; 'merge', sync writes W0 + (alpha/r)·A·B into the weights the engine reads (LoRA on tfjs)
   */
  readonly applied: AdapterApplied;
  /** the adapter weights as a file holds them (Hugging Face PEFT names and layout for LoRA) */
  tensors(): Map<string, HostTensor>;
  /** set the adapter weights from tensors() of an earlier run; throws naming a missing or misshapen tensor */
  load(tensors: ReadonlyMap<string, HostTensor>, source: string): void;
  /** LoRA: the base checkpoint with W0 + (alpha/r)·A·B merged into every target; prefix: throws */
  merged(): Checkpoint;
  dispose(): void;
}

export type AdapterApplied = 'engine' | 'merge';

/** How an adapter block is named and laid out in a file. */
export interface FileLayout {
  /** tensor name in the file */
  name: string;
  /** the file holds the block transposed (HF [out, in] for a block stored [in, out]) */
  transpose: boolean;
}

export function adapterBlock(name: string, shape: [number, number], index: number): Block {
  const size = shape[0] * shape[1];
  return { name, shape, kind: 'matrix', size, index, data: new Float32Array(size) };
}

/** What every adapter shares: its blocks and their file layout, the model seen through `sync`. */
export function adapterParts(config: PeftConfig, blocks: Block[], layout: readonly FileLayout[], model: Model, sync: () => void, applied: AdapterApplied = 'engine'): Omit<Adapter, 'merged' | 'dispose'> {
  return {
    config,
    blocks,
    model: withSync(model, sync),
    sync,
    applied,
    tensors: () => blocksToTensors(blocks, layout),
    load: (tensors, source) => tensorsToBlocks(tensors, blocks, layout, source),
  };
}

/** tensors() of adapter blocks. */
export function blocksToTensors(blocks: readonly Block[], layout: readonly FileLayout[]): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  blocks.forEach((b, i) => {
    const [r, c] = b.shape;
    const { name, transpose } = layout[i];
    out.set(name, transpose ? { shape: [c, r], data: transposeHost(b.data!, r, c) } : { shape: [r, c], data: Float32Array.from(b.data!) });
  });
  return out;
}

/** load() of adapter blocks: every tensor must be there with its shape. */
export function tensorsToBlocks(tensors: ReadonlyMap<string, HostTensor>, blocks: readonly Block[], layout: readonly FileLayout[], source: string): void {
  blocks.forEach((b, i) => {
    const [r, c] = b.shape;
    const { name, transpose } = layout[i];
    const t = tensors.get(name);
    if (!t) throw new Error(`${source}: adapter tensor ${name} is missing`);
    const want = transpose ? [c, r] : [r, c];
    if (t.shape.join(',') !== want.join(',')) throw new Error(`${source}: adapter tensor ${name} has shape [${t.shape}], expected [${want}]`);
    if (transpose) transposeHost(t.data, c, r, b.data!);
    else b.data!.set(t.data);
  });
}

const FORWARDS = new Set(['forward', 'logitsAt', 'logits', 'tokenLogProbs', 'scoreCandidates', 'tokenLogProbsTensor', 'scoreCandidatesTensor']);

/**
 * The model with `sync` run before each of its forward functions; everything else (config, blocks,
 * toCheckpoint, instanceof) is the base model's.
 */
export function withSync<M extends Model>(model: M, sync: () => void): M {
  return new Proxy(model, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      if (typeof prop === 'string' && FORWARDS.has(prop))
        return (...args: unknown[]) => {
          sync();
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

/** True when a and b hold the same bits (NaN-safe, +0/−0 distinct: what a cache keyed on values needs). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ia.length; i++) if (ia[i] !== ib[i]) return false;
  return true;
}
