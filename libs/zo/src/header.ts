// What a run writes about its base model and estimator at the top of its trajectory.
import { createWeightsHasher, TRAJECTORY_MAGIC, TRAJECTORY_VERSION, type TrajectoryHeader } from '@zotune/artifacts';
import { blockValuesAsync, type Block, type BlockKind } from '@zotune/models';
import type { EstimatorConfig } from './config';

/** Block descriptions (name, shape, kind) in model order, no tensors. */
export function blockInfo(blocks: readonly Block[]): { name: string; shape: number[]; kind: BlockKind }[] {
  return blocks.map((b) => ({ name: b.name, shape: [...b.shape], kind: b.kind }));
}

/** sha256 of the weights, as the policy fingerprint's weightsSha256 (name, shape, float32 LE bytes per block). */
export async function weightsDigest(blocks: readonly Block[]): Promise<string> {
  const h = createWeightsHasher();
  for (const b of blocks) h.update(b.name, b.shape, await blockValuesAsync(b));
  return h.digest();
}

/**
 * The header of a new run's trajectory; call it on the base weights, before the first step. `version`
 * (default TRAJECTORY_VERSION) must be the estimator's trajectoryVersion: it fixes replay's arithmetic.
 */
export async function trajectoryHeader(
  blocks: readonly Block[],
  opts: {
    runSeed: number; family: string; estimator: EstimatorConfig; run?: Record<string, unknown>; createdAt?: Date; engine?: 'tfjs' | 'ort';
    version?: TrajectoryHeader['version'];
  },
): Promise<TrajectoryHeader> {
  return {
    magic: TRAJECTORY_MAGIC,
    version: opts.version ?? TRAJECTORY_VERSION,
    createdAt: (opts.createdAt ?? new Date()).toISOString(),
    runSeed: opts.runSeed,
    model: { family: opts.family, digest: await weightsDigest(blocks), blocks: blockInfo(blocks) },
    estimator: { ...opts.estimator },
    ...(opts.run ? { run: opts.run } : {}),
    engine: opts.engine ?? 'tfjs',
  };
}
