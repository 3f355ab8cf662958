// The resumable meta-training checkpoint: one msgpack file (the codec of @zotune/artifacts) holding the
// whole MetaState plus what identifies the run (config, tasks, base model), written atomically so a
// kill leaves the previous checkpoint or the new one, never a torn file.
import { readFileSync } from 'node:fs';
import { isPlainObject, packValue, startsWithMap, unpackValue } from '@zotune/artifacts';
import { sha256Hex, writeFileAtomic } from '@zotune/io';
import { POLICY_INPUTS, PertNN } from '@zotune/policy';
import { z } from 'zod';
import type { MetaState } from './trainer';

export const META_CHECKPOINT_MAGIC = 'zotune-meta-checkpoint';
export const META_CHECKPOINT_VERSION = 1;
const WHAT = 'a zotune meta-training checkpoint';

const f32 = z.instanceof(Float32Array, { message: 'expected a Float32Array' });

const checkpointSchema = z.object({
  /** always META_CHECKPOINT_MAGIC */
  magic: z.literal(META_CHECKPOINT_MAGIC),
  /** always 1 for this reader */
  formatVersion: z.literal(META_CHECKPOINT_VERSION),
  /** sha256 (hex) of the run identity below, compared on resume */
  runId: z.string().regex(/^[0-9a-f]{64}$/),
  /** steps completed */
  step: z.number().int().min(0),
  /** block names, in model order */
  blocks: z.array(z.string()),
  /** θ per block */
  theta: z.array(f32),
  /** momentum per block */
  momentum: z.array(f32),
  /** the policy's packed weights */
  policy: z.object({ hidden: z.number().int().min(1), inputs: z.number().int().min(1).optional(), w1: f32, b1: f32, w2: f32, b2: f32 }),
  /** per task: L±_{t−1} and the effective σ_{t−1} (null = ones) */
  features: z.array(z.object({ lossPlus: z.number(), lossMinus: z.number(), sigma: z.array(z.number()).nullable() })),
  /** seconds of training before this checkpoint (resumed runs add theirs) */
  seconds: z.number().min(0),
});

/** What ties a checkpoint to its run: model digest, tasks and the meta config, as plain JSON. */
export function runIdentity(identity: unknown): string {
  return sha256Hex(JSON.stringify(identity));
}

export interface SavedCheckpoint {
  state: MetaState;
  runId: string;
  seconds: number;
}

export function encodeMetaCheckpoint(state: MetaState, blockNames: readonly string[], runId: string, seconds: number): Uint8Array {
  const { w1, b1, w2, b2 } = state.policy.weights;
  return packValue({
    magic: META_CHECKPOINT_MAGIC,
    formatVersion: META_CHECKPOINT_VERSION,
    runId,
    step: state.step,
    blocks: [...blockNames],
    theta: state.theta,
    momentum: state.momentum,
    // inputs only when not the base 5, so a base run's checkpoint bytes are those of before the variant
    policy: { hidden: state.policy.hidden, ...(state.policy.inputs !== POLICY_INPUTS ? { inputs: state.policy.inputs } : {}), w1, b1, w2, b2 },
    features: state.features.map((f) => ({ lossPlus: f.lossPlus, lossMinus: f.lossMinus, sigma: f.sigma === null ? null : [...f.sigma] })),
    seconds,
  });
}

export function decodeMetaCheckpoint(bytes: Uint8Array, source: string): SavedCheckpoint {
  if (bytes.length > 0 && !startsWithMap(bytes)) throw new Error(`${source}: not ${WHAT} (the file does not start with a msgpack map)`);
  const v = unpackValue(bytes, source, WHAT);
  if (!isPlainObject(v)) throw new Error(`${source}: not ${WHAT}`);
  if (v.magic !== META_CHECKPOINT_MAGIC) throw new Error(`${source}: not ${WHAT} (magic ${JSON.stringify(v.magic) ?? 'missing'})`);
  if (v.formatVersion !== META_CHECKPOINT_VERSION)
    throw new Error(`${source}: unknown meta checkpoint format version ${JSON.stringify(v.formatVersion)}; this zotune reads version ${META_CHECKPOINT_VERSION}`);
  const r = checkpointSchema.safeParse(v);
  if (!r.success) throw new Error(`${source}: corrupted meta checkpoint: field ${r.error.issues[0].path.join('.') || '(root)'}: ${r.error.issues[0].message}`);
  const c = r.data;
  const n = c.blocks.length;
  if (c.theta.length !== n || c.momentum.length !== n)
    throw new Error(`${source}: corrupted meta checkpoint: ${n} blocks but ${c.theta.length} θ and ${c.momentum.length} momentum arrays`);
  let policy: PertNN;
  try {
    policy = new PertNN(c.blocks, c.policy.hidden, { w1: c.policy.w1, b1: c.policy.b1, w2: c.policy.w2, b2: c.policy.b2 }, c.policy.inputs ?? POLICY_INPUTS);
  } catch (e) {
    throw new Error(`${source}: corrupted meta checkpoint: ${(e as Error).message}`);
  }
  return {
    runId: c.runId,
    seconds: c.seconds,
    state: { step: c.step, theta: c.theta, momentum: c.momentum, policy, features: c.features },
  };
}

/** Write atomically (temp file + rename). */
export function writeMetaCheckpoint(path: string, state: MetaState, blockNames: readonly string[], runId: string, seconds: number): void {
  writeFileAtomic(path, encodeMetaCheckpoint(state, blockNames, runId, seconds));
}

export function readMetaCheckpoint(path: string): SavedCheckpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read the meta checkpoint (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`);
  }
  return decodeMetaCheckpoint(bytes, path);
}
