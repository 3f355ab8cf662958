// The trajectory fixtures of libs/zo/fixtures (tests only): short live runs on a model whose weights
// live in plain Float32Arrays (as engine ort's do) with a loss of the weights alone, so that neither
// tfjs nor a forward engine is involved. trajectory-v2/ was written by the code of trajectory format
// version 2 (restore, then update: four passes per MeZO step) before version 3 fused them; the spec
// replays those files with today's code and checks the pinned digest of the weights they reached.
// trajectory-v3/ was written the same way by the code of version 3 (fused restore and update, the
// noise stream of versions 1–3) before version 4 changed the noise stream.
//
//   npx tsx --conditions=@zotune/source libs/zo/src/trajectory-fixture.testkit.ts OUT_DIR
//
// writes OUT_DIR/<run>.trajectory and OUT_DIR/expected.json ({ run: sha256 of the final weights }).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { appendRecord, createTrajectory, type StepRecord, type TrajectoryHeader } from '@zotune/artifacts';
import type { Block, BlockKind } from '@zotune/models';
import { normalFill } from '@zotune/tensor';
import { stepSeed, type EstimatorConfigInput } from './config';
import { createEstimator, type EstimatorOptions } from './estimator';
import { trajectoryHeader, weightsDigest } from './header';
import type { Scale } from './scale';

const SPECS: [string, number[], BlockKind][] = [
  ['model.embed_tokens.weight', [37, 19], 'embedding'],
  ['model.layers.0.mlp.up_proj.weight', [19, 23], 'matrix'],
  ['model.layers.0.mlp.up_proj.bias', [23], 'bias'],
  ['model.norm.weight', [19], 'norm'],
];

/** The base weights: seeded, deterministic, in plain Float32Arrays. */
export function fixtureBlocks(): Block[] {
  return SPECS.map(([name, shape, kind], index) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    normalFill(data, 77, index);
    for (let i = 0; i < size; i++) data[i] = Math.fround(data[i] * 0.1 + (kind === 'norm' ? 1 : 0));
    return { name, shape, kind, size, index, data };
  });
}

/** A loss of the weights alone (float64, fixed order), nonlinear so that every step's g differs. */
export function fixtureLoss(blocks: readonly Block[]): () => number {
  return () => {
    let s = 0;
    for (const b of blocks) for (let i = 0; i < b.size; i++) s += Math.tanh(b.data![i] - 0.03 * (i % 5)) ** 2 * (1 + (i % 3));
    return s / 1e3;
  };
}

/**
 * σ_j = 0.5 + perBlock·j + |mean θ_j| + 0.1·tanh(gain·(L⁺ − L⁻)_{t−1}): from the weights' statistics and
 * the previous losses, as a policy's would be (tests).
 */
export function policyLikeScale(perBlock: number, gain: number): Scale {
  return {
    name: 'policy-like',
    async sigma(ctx) {
      const stats = await ctx.stats();
      const l = ctx.prev ? ctx.prev.lossPlus - ctx.prev.lossMinus : 0;
      return stats.map((s, j) => 0.5 + j * perBlock + Math.abs(s.mean) + Math.tanh(gain * l) * 0.1);
    },
  };
}
const policyLike = policyLikeScale(0.3, 1e4);

export interface FixtureRun {
  name: string;
  config: EstimatorConfigInput;
  policy: boolean;
}

/** Every estimator, n-SPSA, a policy's σ, weight decay and the noise cache. */
export const FIXTURE_RUNS: readonly FixtureRun[] = [
  { name: 'mezo', config: { name: 'mezo', eps: 1e-3, lr: 2e-2, weightDecay: 0.1 }, policy: false },
  { name: 'mezo-q2-policy', config: { name: 'mezo', eps: 1e-3, lr: 2e-2, queries: 2, cacheNoise: false }, policy: true },
  { name: 'guided-policy', config: { name: 'guided', candidates: 4, eps: 1e-3, lr: 2e-2, weightDecay: 0.2 }, policy: true },
  { name: 'greedy', config: { name: 'greedy', candidates: 3, eps: 1e-3, lr: 2e-2, cacheNoise: true }, policy: false },
  { name: 'elite-policy', config: { name: 'elite', eps: 1e-3, lr: 2e-2, weightDecay: 0.1 }, policy: true },
];

export const FIXTURE_STEPS = 8;
export const FIXTURE_CREATED_AT = new Date('2026-12-07T00:00:00Z');

/** A live run from the base weights: its header, records and the digest of the weights it ends with. */
export async function fixtureLiveRun(run: FixtureRun, opts: EstimatorOptions = {}): Promise<{ header: TrajectoryHeader; records: StepRecord[]; digest: string; blocks: Block[] }> {
  const blocks = fixtureBlocks();
  const est = createEstimator(run.config, opts);
  const version = est.trajectoryVersion as TrajectoryHeader['version'];
  const header = await trajectoryHeader(blocks, { runSeed: 5, family: 'fixture', estimator: est.config, run: { fixture: run.name }, createdAt: FIXTURE_CREATED_AT, engine: 'ort', version });
  const records: StepRecord[] = [];
  let prev: StepRecord | undefined;
  try {
    for (let step = 0; step < FIXTURE_STEPS; step++) {
      prev = await est.step({ blocks, lossValue: fixtureLoss(blocks), step, seed: stepSeed(5, step), scale: run.policy ? policyLike : undefined, prev });
      await est.update(blocks, prev);
      records.push(prev);
    }
  } finally {
    est.dispose();
  }
  return { header, records, digest: await weightsDigest(blocks), blocks };
}

async function main(out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  const expected: Record<string, string> = {};
  for (const run of FIXTURE_RUNS) {
    const r = await fixtureLiveRun(run);
    const path = join(out, `${run.name}.trajectory`);
    createTrajectory(path, r.header, { overwrite: true });
    for (const rec of r.records) appendRecord(path, rec);
    expected[run.name] = r.digest;
  }
  writeFileSync(join(out, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!process.argv[2]) {
    process.stderr.write('usage: trajectory-fixture.testkit.ts OUT_DIR\n');
    process.exit(2);
  }
  main(process.argv[2]).catch((e) => {
    process.stderr.write(`trajectory-fixture: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
