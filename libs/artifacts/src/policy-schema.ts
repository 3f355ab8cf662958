// The zod schemas of the policy artifact (format version 1): what a policy file holds once decoded.
// Structure is checked here; the cross-field rules (block count, array lengths, finite weights)
// live in policy-artifact.ts because they need the header to judge the weights.
import { z } from 'zod';

export const POLICY_MAGIC = 'zotune-policy';
export const POLICY_FORMAT_VERSION = 1;

/** One trainable block of the base model, as the fingerprint records it. */
export const FingerprintBlockSchema = z.object({
  /** Hugging Face parameter name, e.g. model.layers.3.mlp.down_proj.weight */
  name: z.string().min(1),
  /** the block's shape as the model holds it */
  shape: z.array(z.number().int().nonnegative()),
  /** embedding | matrix | norm | bias (the rescale treats embeddings specially) */
  kind: z.enum(['embedding', 'position', 'matrix', 'norm', 'bias']),
});
export type FingerprintBlock = z.infer<typeof FingerprintBlockSchema>;

/** What a policy is tied to: a base model, identified by its blocks and the hash of its weights. */
export const ModelFingerprintSchema = z.object({
  /** the model's name, e.g. stories260K: the MODEL part of registry references */
  model: z.string().min(1),
  /** model family, e.g. llama */
  family: z.string().min(1),
  /** trainable blocks in the model's stable order */
  blocks: z.array(FingerprintBlockSchema),
  /** sha256 (hex) of the base weights, see createWeightsHasher */
  weightsSha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits'),
});
export type ModelFingerprint = z.infer<typeof ModelFingerprintSchema>;

/**
 * The feature sets a policy can read (libs/policy features.ts): `base` = mean, unbiased variance,
 * previous L+, previous L-, previous sigma (5 inputs); `curvature` adds the block's relative curvature
 * at the fine-tune's start from a forward-only probe (6 inputs). Absent = base (every file before it).
 */
export const POLICY_FEATURE_SETS = { base: 5, curvature: 6 } as const;
export type PolicyFeatureSet = keyof typeof POLICY_FEATURE_SETS;

/** How a `curvature` policy's probe measures (the same at meta-training and at fine-tuning). */
export const CurvatureProbeSchema = z.object({
  /** finite-difference step δ of the second differences L(θ ± δ·z_j) */
  delta: z.number().positive().max(1),
  /** random directions per block */
  probes: z.number().int().min(1).max(64),
  /** training examples in the probe's one batch */
  examples: z.number().int().min(1).max(4096),
});
export type CurvatureProbe = z.infer<typeof CurvatureProbeSchema>;

/** The per-block network (ALGORITHMS.md §4): Linear(inputs→hidden), activation, Linear(hidden→1). */
export const PolicyArchitectureSchema = z.object({
  /** the only architecture so far: one MLP per block */
  type: z.literal('pertnn'),
  /** features per block: 5 for the base set, 6 with curvature (must match `features`) */
  inputs: z.union([z.literal(5), z.literal(6)]),
  /** the feature set (absent: base) */
  features: z.enum(['base', 'curvature']).optional(),
  /** the curvature probe's settings: present exactly when features is curvature */
  probe: CurvatureProbeSchema.optional(),
  /** hidden width (64 in the paper) */
  hidden: z.number().int().positive().max(4096),
  /** hidden activation */
  activation: z.literal('tanh'),
});
export type PolicyArchitecture = z.infer<typeof PolicyArchitectureSchema>;

const f32 = z.instanceof(Float32Array, { message: 'expected a Float32Array' });

/** One block's MLP. Matrices are row-major [in, out], the layout tfjs matMul wants. */
export const BlockMlpWeightsSchema = z.object({
  /** first layer weights, [inputs, hidden] */
  w1: f32,
  /** first layer bias, [hidden] */
  b1: f32,
  /** second layer weights, [hidden, 1] */
  w2: f32,
  /** second layer bias, [1] */
  b2: f32,
});
export type BlockMlpWeights = z.infer<typeof BlockMlpWeightsSchema>;

/** How the policy was meta-trained. */
export const PolicyTrainingSchema = z.object({
  /** the meta-training configuration, as plain JSON */
  config: z.record(z.string(), z.json()),
  /** tasks the policy was meta-trained on, e.g. ["copa"] */
  tasks: z.array(z.string()),
  /** final metrics of meta-training, as plain JSON */
  metrics: z.record(z.string(), z.json()),
});
export type PolicyTraining = z.infer<typeof PolicyTrainingSchema>;

/** A decoded policy artifact. */
export const PolicyArtifactSchema = z.object({
  /** always 'zotune-policy' */
  magic: z.literal(POLICY_MAGIC),
  /** always 1 for this reader */
  formatVersion: z.literal(POLICY_FORMAT_VERSION),
  /** the base model the policy belongs to */
  fingerprint: ModelFingerprintSchema,
  /** the network's shape */
  architecture: PolicyArchitectureSchema,
  /** block name → its MLP; exactly the fingerprint's blocks */
  weights: z.record(z.string(), BlockMlpWeightsSchema),
  /** meta-training configuration, tasks and metrics */
  training: PolicyTrainingSchema,
  /** creation time, ISO 8601 */
  createdAt: z.iso.datetime({ offset: true }),
  /** optional short label */
  name: z.string().optional(),
  /** optional free text */
  description: z.string().optional(),
});
export type PolicyArtifact = z.infer<typeof PolicyArtifactSchema>;
