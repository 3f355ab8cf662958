// Meta-training configuration (ALGORITHMS.md §5): plain zod-validated data, recorded in the run's
// config.json, in every checkpoint and in the policy artifact. Defaults are the reference settings.
import { z } from 'zod';

export const metaConfigSchema = z.object({
  /** minibatch size of every meta step (reference: 8) */
  batch: z.number().int().min(1).max(4096).default(8),
  /** perturbation scale ε of the two-point estimate L± (reference: 1e-3) */
  eps: z.number().positive().default(1e-3),
  /** SGD learning rate of the policy weights ω (reference: 0.1) */
  lrMlp: z.number().nonnegative().default(0.1),
  /** peak learning rate of the first-order trajectory of θ, decayed linearly to 0 within each reset period (reference: 0.01) */
  lrLlm: z.number().positive().default(0.01),
  /** momentum of the θ optimiser (SGD, reference: 0.8) */
  momentum: z.number().min(0).lt(1).default(0.8),
  /** global-norm clip of θ's gradient (reference: 1.0) */
  clipNorm: z.number().positive().default(1),
  /**
   * η of the look-ahead θ' = θ − η·ĝ·nf·σ⊙z: the ZO fine-tuning learning rate the policy will be used
   * with (1e-4, MeZO's best lr on stories260K per ALGORITHMS.md §6 and zotune finetune's default)
   */
  metaLr: z.number().positive().default(1e-4),
  /**
   * variant: > metaLr draws the look-ahead η of each meta step log-uniformly from [metaLr, metaLrMax]
   * (from the step's seed), so the policy learns across a range of fine-tuning lrs; 0 = always metaLr
   */
  metaLrMax: z.number().nonnegative().default(0),
  /**
   * variant: differentiate the look-ahead through the norm factor nf(σ) too (the reference, and the
   * default, hold nf constant: only the allocation, not the overall scale, reaches ω)
   */
  nfGrad: z.boolean().default(false),
  /**
   * variant: K look-ahead steps θ → θ₁ → … → θ_K unrolled per meta step (each with the policy's σ at
   * θ_k and the features fine-tuning would see there), the meta-loss being L(θ_K); 1 = the reference
   */
  lookaheadSteps: z.number().int().min(1).max(64).default(1),
  /** passes over every task's training examples (reference: 15) */
  epochs: z.number().int().min(1).max(100_000).default(15),
  /** θ (and its optimiser, lr schedule and the policy's feature state) reset to the pretrained weights every R epochs (reference: 5) */
  resetEvery: z.number().int().min(1).max(100_000).default(5),
  /** stop after this many meta steps (0 = run every epoch) */
  maxSteps: z.number().int().min(0).default(0),
  /** training examples used per task (0 = the task's whole MeZO train split) */
  trainExamples: z.number().int().min(0).default(0),
  /** run seed: data order, noise seeds and the policy's initial weights derive from it */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  /** seed of the tasks' train/dev/test sampling (MeZO's protocol) */
  dataSeed: z.number().int().min(0).max(0xffffffff).default(0),
  /** hidden width of each block's PertNN (paper: 64) */
  hidden: z.number().int().min(1).max(4096).default(64),
  /** write a resumable checkpoint every N meta steps (0 = only at the end) */
  checkpointEvery: z.number().int().min(0).default(25),
  /**
   * variant: the policy's feature set. `curvature` adds each block's relative curvature κ_j at the
   * pretrained weights (a forward-only probe per task, @zotune/policy curvature.ts), which fine-tuning
   * measures the same way on its own task; `base` = the reference's five features
   */
  features: z.enum(['base', 'curvature']).default('base'),
  /**
   * how ∇_ω of the meta-loss is computed: `exact` backpropagates through the LLM (tfjs; θ follows
   * first-order SGD), `spsa` estimates it with forward passes only on the ORT engine (spsa.ts; θ follows
   * MeZO at metaLr). The command picks by model size when not told (docs/policies.md)
   */
  metaGrad: z.enum(['exact', 'spsa']).default('exact'),
  /** spsa: K, the random directions averaged per meta step (2 forward passes each) */
  spsaDirections: z.number().int().min(1).max(4096).default(16),
  /** spsa: c, the perturbation of σ (or ω) relative to its rms */
  spsaScale: z.number().positive().max(10).default(0.05),
  /** spsa: perturb the per-block σ (blocks dimensions, then exactly through the PertNN) or the policy weights ω themselves */
  spsaSpace: z.enum(['sigma', 'omega']).default('sigma'),
});

/** The SPSA settings, absent from what an exact run records (so its config, run identity and artifact are those of before they existed). */
const SPSA_FIELDS = ['metaGrad', 'spsaDirections', 'spsaScale', 'spsaSpace'] as const;

/** The config as a run records it: without the SPSA settings when the meta-gradient is exact. */
export function recordedMetaConfig(c: MetaConfig): Partial<MetaConfig> {
  const out: Partial<MetaConfig> = { ...c };
  if (c.metaGrad === 'exact') for (const k of SPSA_FIELDS) delete out[k];
  return out;
}
export type MetaConfig = z.infer<typeof metaConfigSchema>;

/** The look-ahead η of a meta step: metaLr, or log-uniform in [metaLr, metaLrMax] from u ∈ [0, 1). */
export function lookaheadLr(c: Pick<MetaConfig, 'metaLr' | 'metaLrMax'>, u: number): number {
  return c.metaLrMax > c.metaLr ? c.metaLr * (c.metaLrMax / c.metaLr) ** u : c.metaLr;
}
export type MetaConfigInput = z.input<typeof metaConfigSchema>;

/** Validate a config (defaults filled in); bad input → one line naming the field, value and expectation. */
export function parseMetaConfig(value: unknown, source = 'meta-training config'): MetaConfig {
  const r = metaConfigSchema.safeParse(value ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0];
  const path = i.path.join('.');
  const got = path ? (value as Record<string, unknown>)?.[String(i.path[0])] : value;
  throw new Error(`${source}: ${path || '(root)'}: ${i.message}${got !== undefined ? ` (got ${JSON.stringify(got)})` : ''}`);
}

/**
 * --meta-grad auto picks the exact (tfjs backward) meta-gradient below this many model parameters and the
 * forward-only SPSA one (ORT) from it on: the stories260K and 15M shapes backpropagate in tfjs-wasm, while
 * SmolLM2-135M's backward does not fit its 4 GiB heap (docs/results/meta-training-135m.md).
 */
export const SPSA_FROM_PARAMETERS = 50_000_000;

export type MetaGrad = MetaConfig['metaGrad'];

/** The --meta-grad choice: exact or spsa as given, auto by the model's parameter count. */
export function resolveMetaGrad(flag: string | undefined, parameters: number, peft = false): MetaGrad {
  const v = flag ?? 'auto';
  if (v === 'exact' || v === 'spsa') return v;
  if (v !== 'auto') throw new Error(`--meta-grad: expected auto, exact or spsa, got ${v}`);
  // adapter blocks have no exact meta-gradient here (run.ts): auto picks spsa for them at any size
  return peft || parameters >= SPSA_FROM_PARAMETERS ? 'spsa' : 'exact';
}

