// --policy: which σ the ZO estimator perturbs with. 'none' is plain N(0, I); a reference, digest or
// file loads a learned policy from the registry (libs/registry) and checks it against the model;
// 'auto' takes the model's shipped default (MODEL/default:latest in policies/) when there is one for the
// run's blocks (every block, or the same PEFT adapter).
import type { Model } from '@zotune/models';
import type { CurvatureProbe } from '@zotune/artifacts';
import { modelFingerprint, ORACLE_RULES, oracleScale, policyFromArtifact, policyScale, type OracleRule, type OracleScaleOptions, type PertNN } from '@zotune/policy';
import { defaultRegistryLocation, loadPolicy, openRegistry, type LoadedPolicy } from '@zotune/registry';
import { UserError } from '@zotune/report';
import { onesScale, type Scale } from '@zotune/zo';

export interface ResolvedPolicy {
  /** 'none' or the reference the policy was loaded by */
  policy: string;
  /** sha256:… of the artifact, null without a policy */
  digest: string | null;
  /** the σ of every step; a curvature policy's needs the run's κ first (`curvature`) and is a refusing placeholder until then */
  scale: Scale;
  /** a policy of the curvature feature set: its probe, and its scale once κ is measured (or read back on resume) */
  curvature?: { probe: CurvatureProbe; scaleWith(kappa: readonly number[]): Scale };
  /** one line for stderr: what was chosen and why */
  note: string;
}

const NONE = (note: string): ResolvedPolicy => ({ policy: 'none', digest: null, scale: onesScale, note });

/** The shipped default policy reference of a model, if the default registry has one. */
export async function shippedPolicy(modelName: string): Promise<string | undefined> {
  const ref = `${modelName}/default:latest`;
  try {
    const list = await openRegistry(defaultRegistryLocation()).list();
    return list.some((p) => p.ref === ref) ? ref : undefined;
  } catch {
    // an unreadable shipped registry means no default policy, not a failed run
    return undefined;
  }
}

/**
 * Resolve the config's policy for a model. `expectDigest` (a resumed run) must match the artifact's
 * digest. Adam takes no policy: 'auto' becomes none, an explicit policy is refused.
 */
export interface PolicyContext {
  estimator: string;
  /** the model's name (the fingerprint's model, and MODEL of the shipped default reference) */
  modelName: string;
  /** the model's family and its trainable blocks (a PEFT run: the adapter's) */
  model: Pick<Model, 'family' | 'blocks'>;
  /** a PEFT run's adapter label (peftLabel), as meta-train --peft records it in a policy it makes */
  peft?: string;
  /**
   * checkpointDigest of the base weights (the fingerprint's weightsSha256), asked for only when a
   * learned policy is loaded; the run computes it from the model's blocks (modelDigest), which hold the
   * base weights while policies are resolved, the checkpoint itself having been handed to the model
   */
  baseDigest: () => string;
  /** a resumed run: the digest of the policy it started with */
  expectDigest?: string | null;
  /** what an oracle policy measures on (--policy oracle-*) */
  oracle?: Omit<OracleScaleOptions, 'rule'>;
}

/** --policy oracle-density | oracle-curvature: a yardstick that measures true gradients (backward passes). */
function oraclePolicy(spec: string, opts: PolicyContext): ResolvedPolicy | undefined {
  const rule = spec.startsWith('oracle-') ? (spec.slice('oracle-'.length) as OracleRule) : undefined;
  if (rule === undefined) return undefined;
  if (!ORACLE_RULES.includes(rule)) throw new UserError(`--policy ${spec}: unknown oracle; expected ${ORACLE_RULES.map((r) => `oracle-${r}`).join(' or ')}`, 2);
  if (opts.estimator === 'adam') throw new UserError(`--policy ${spec}: adam is first-order and takes no perturbation policy`, 2);
  if (!opts.oracle) throw new Error(`--policy ${spec}: the run gave the oracle nothing to measure on`);
  const what = rule === 'density' ? 'σ_j² ∝ G_j/n_j' : 'σ_j² ∝ G_j/(n_j·h_j)';
  return {
    policy: spec,
    digest: null,
    scale: oracleScale({ ...opts.oracle, rule }),
    note: `policy: ${spec} (${what}, re-measured every ${opts.oracle.every} steps on ${opts.oracle.losses(0).length} minibatches) — a YARDSTICK: it needs backward passes, so this run is not forward-only`,
  };
}

export async function resolvePolicy(spec: string, opts: PolicyContext): Promise<ResolvedPolicy> {
  if (spec === 'none') return NONE('policy: none (σ = 1 for every block)');
  if (opts.estimator === 'adam') {
    if (spec === 'auto') return NONE('policy: none (adam is first-order)');
    throw new UserError(`--policy ${spec}: adam is first-order and takes no perturbation policy; use a ZO estimator or --policy none`, 2);
  }
  if (opts.peft && spec.startsWith('oracle-')) throw new UserError(`--policy ${spec}: not with --peft (the oracles measure the gradients of the model's own blocks)`, 2);
  const oracle = oraclePolicy(spec, opts);
  if (oracle) return oracle;
  if (spec !== 'auto') return loadLearnedPolicy(spec, opts);
  const shipped = await shippedPolicy(opts.modelName);
  if (!shipped) return NONE(`policy: none (no shipped policy for ${opts.modelName} in ${defaultRegistryLocation()})`);
  // 'auto' takes the shipped default only for the blocks it was meta-trained over: every block, or the same
  // adapter (meta-train --peft records its label); a policy of other blocks is not an error, just not this run's
  const madeFor = (await load(shipped)).artifact.training.config.peft;
  const blocksOf = (peft: unknown) => (typeof peft === 'string' ? `${peft} adapter blocks` : 'every block');
  if ((typeof madeFor === 'string' ? madeFor : undefined) !== opts.peft)
    return NONE(`policy: none (the shipped ${shipped} is for ${blocksOf(madeFor)}, this run trains ${blocksOf(opts.peft)}: pass --policy REF for a policy of these blocks)`);
  return loadLearnedPolicy(shipped, opts);
}

/** Load a learned policy as a Scale; the artifact must have been trained on this very base model. */
async function loadLearnedPolicy(ref: string, opts: PolicyContext): Promise<ResolvedPolicy> {
  let loaded: LoadedPolicy;
  if (opts.expectDigest) {
    // a resumed run: the artifact it started with, even if the reference has moved since
    loaded = await loadPolicy(opts.expectDigest).catch(() => load(ref));
    if (loaded.digest !== opts.expectDigest)
      throw new UserError(`policy ${ref}: now resolves to ${loaded.digest}, the run started with ${opts.expectDigest}, which the registry no longer has`, 2);
  } else loaded = await load(ref);
  let net: PertNN;
  try {
    const fingerprint = modelFingerprint(opts.model, opts.baseDigest(), opts.modelName);
    net = policyFromArtifact(loaded.artifact, opts.model, fingerprint);
  } catch (e) {
    throw new UserError(`--policy ${ref}: ${(e as Error).message}`, 2);
  }
  const shown = loaded.ref ?? ref;
  const note = `policy: ${shown} (${loaded.digest.slice(0, 19)}…, from ${loaded.source})`;
  const probe = loaded.artifact.architecture.probe;
  if (loaded.artifact.architecture.features === 'curvature' && probe) {
    const unmeasured: Scale = { name: `policy ${ref}`, sigma: () => { throw new Error(`policy ${ref}: its curvature features were not measured`); } };
    return { policy: shown, digest: loaded.digest, scale: unmeasured, curvature: { probe, scaleWith: (kappa) => policyScale(net, `policy ${ref}`, kappa) }, note: `${note}, curvature features` };
  }
  return { policy: shown, digest: loaded.digest, scale: policyScale(net, `policy ${ref}`), note };
}

async function load(ref: string): Promise<LoadedPolicy> {
  try {
    return await loadPolicy(ref);
  } catch (e) {
    throw new UserError(`--policy ${ref}: ${(e as Error).message}`, 2);
  }
}
