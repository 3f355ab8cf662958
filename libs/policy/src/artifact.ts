// Between a PertNN and its on-disk artifact (@zotune/artifacts): per-block weights keyed by block
// name, tied to the base model by a fingerprint (name, family, blocks, weights hash).
import {
  checkFingerprint,
  type CurvatureProbe,
  validatePolicyArtifact,
  type ModelFingerprint,
  type PolicyArtifact,
  type PolicyTraining,
} from '@zotune/artifacts';
import type { Model } from '@zotune/models';
import { CURVATURE_INPUTS, PertNN } from './pertnn';

/**
 * The fingerprint of a base model: its name, family, blocks (name, shape as the model holds it,
 * kind) in model order, and `weightsSha256`, the hex digest of its base weights. Pass
 * checkpointDigest(checkpoint) from @zotune/models, computed on the checkpoint the model was built
 * from; the publisher and every loader must use the same digest function.
 */
export function modelFingerprint(model: Pick<Model, 'family' | 'blocks'>, weightsSha256: string, modelName: string): ModelFingerprint {
  if (!/^[0-9a-f]{64}$/.test(weightsSha256)) throw new Error(`modelFingerprint: weightsSha256 "${weightsSha256}" is not 64 lower-case hex digits`);
  if (modelName === '') throw new Error('modelFingerprint: empty model name');
  return {
    model: modelName,
    family: model.family,
    blocks: model.blocks.map((b) => ({ name: b.name, shape: [...b.shape], kind: b.kind })),
    weightsSha256,
  };
}

export interface PolicyArtifactOptions {
  /** a curvature policy (6 inputs): the probe its κ was measured with, recorded so fine-tuning measures alike */
  probe?: CurvatureProbe;
  /** the base model the policy was trained on (modelFingerprint) */
  fingerprint: ModelFingerprint;
  /** meta-training configuration, tasks and final metrics */
  training: PolicyTraining;
  /** short label, e.g. default */
  name?: string;
  /** free text */
  description?: string;
  /** creation time (default now) */
  createdAt?: Date;
}

/** A validated artifact holding a copy of the policy's weights. */
export function policyToArtifact(policy: PertNN, opts: PolicyArtifactOptions): PolicyArtifact {
  const fp = opts.fingerprint;
  if (fp.blocks.length !== policy.numBlocks)
    throw new Error(`policyToArtifact: the policy has ${policy.numBlocks} block networks, the fingerprint lists ${fp.blocks.length} blocks`);
  fp.blocks.forEach((b, j) => {
    if (b.name !== policy.blockNames[j]) throw new Error(`policyToArtifact: block ${j} is ${policy.blockNames[j]} in the policy, ${b.name} in the fingerprint`);
  });
  const weights: PolicyArtifact['weights'] = {};
  policy.blockNames.forEach((name, j) => {
    const w = policy.block(j);
    weights[name] = { w1: w.w1.slice(), b1: w.b1.slice(), w2: w.w2.slice(), b2: w.b2.slice() };
  });
  const artifact: PolicyArtifact = {
    magic: 'zotune-policy',
    formatVersion: 1,
    fingerprint: { ...fp, blocks: fp.blocks.map((b) => ({ ...b, shape: [...b.shape] })) },
    architecture: {
      type: 'pertnn',
      inputs: policy.inputs as 5 | 6,
      hidden: policy.hidden,
      activation: 'tanh',
      ...(policy.inputs === CURVATURE_INPUTS ? { features: 'curvature' as const, ...(opts.probe ? { probe: { ...opts.probe } } : {}) } : {}),
    },
    weights,
    training: opts.training,
    createdAt: (opts.createdAt ?? new Date()).toISOString(),
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.description !== undefined ? { description: opts.description } : {}),
  };
  return validatePolicyArtifact(artifact, 'policyToArtifact');
}

/**
 * The frozen policy of an artifact, for `model`. Refuses (naming the differing blocks) when the
 * artifact's fingerprint differs from `fingerprint`, the model's own (modelFingerprint).
 */
export function policyFromArtifact(artifact: PolicyArtifact, model: Pick<Model, 'blocks'>, fingerprint: ModelFingerprint): PertNN {
  const label = artifact.name ? `policy ${artifact.name}` : 'policy';
  validatePolicyArtifact(artifact, label);
  try {
    checkFingerprint(artifact.fingerprint, fingerprint);
  } catch (e) {
    throw new Error(`${label}: ${(e as Error).message}`);
  }
  fingerprint.blocks.forEach((b, j) => {
    if (model.blocks[j]?.name !== b.name) throw new Error(`${label}: the fingerprint passed is not this model's (block ${j} is ${model.blocks[j]?.name ?? 'missing'}, not ${b.name})`);
  });
  if (model.blocks.length !== fingerprint.blocks.length)
    throw new Error(`${label}: the fingerprint passed lists ${fingerprint.blocks.length} blocks, the model has ${model.blocks.length}`);
  const { hidden, inputs } = artifact.architecture;
  const n = model.blocks.length;
  const w1 = new Float32Array(n * inputs * hidden);
  const b1 = new Float32Array(n * hidden);
  const w2 = new Float32Array(n * hidden);
  const b2 = new Float32Array(n);
  model.blocks.forEach((b, j) => {
    const w = artifact.weights[b.name];
    if (!w) throw new Error(`${label}: no weights for block ${b.name}`);
    w1.set(w.w1, j * inputs * hidden);
    b1.set(w.b1, j * hidden);
    w2.set(w.w2, j * hidden);
    b2.set(w.b2, j);
  });
  return new PertNN(model.blocks.map((b) => b.name), hidden, { w1, b1, w2, b2 }, inputs);
}
