// The forward-only meta-gradient against the exact one (issue 23: check it before trusting it): the same
// base weights, policy ω, batch, feature state and seeds on both engines — metaGradient on the tfjs model
// (one LLM backward), spsaMetaGradient on the host model (engine ort, forward passes only) for each K —
// and how well each estimate points along the exact ∇_ω (cosine, sign agreement), and for the sigma
// space also its dMeta/dσ along the exact one. ĝ differs between the engines at float tolerance; it
// scales the whole gradient (one look-ahead step), so neither figure depends on it.
import type { Model, TensorModel } from '@zotune/models';
import { initPertNN, TfPertNN, type PertNN } from '@zotune/policy';
import type { Objective, TaskBatch } from '@zotune/tasks';
import type { MetaConfig } from './config';
import { metaGradient, type MetaStepCommon } from './meta-step';
import { MetaPlan } from './plan';
import type { MetaTask } from './trainer';
import { flatGrads, gradientAgreement, spsaMetaGradient, type SpsaSpace } from './spsa';

export interface MetaGradientCheckInput extends Omit<MetaStepCommon, 'curvature'> {
  /** the tfjs model (exact gradient) */
  model: TensorModel;
  /** the same weights on the host engine (SPSA) */
  host: Model;
  policy: PertNN;
  objective: Objective;
  /** the K to try */
  directions: readonly number[];
  scale: number;
  space: SpsaSpace;
}

export interface MetaGradientCheckRow {
  directions: number;
  /** cosine of the SPSA ∇_ω with the exact one */
  cosine: number;
  signAgreement: number;
  /** the same for dMeta/dσ (sigma space only) */
  cosineSigma?: number;
  signAgreementSigma?: number;
  forwardPasses: number;
}

export interface MetaGradientCheck {
  /** L(θ'; B) on tfjs and on the host engine */
  metaLossExact: number;
  metaLossHost: number;
  /** ĝ on each engine */
  projectedGradExact: number;
  projectedGradHost: number;
  rows: MetaGradientCheckRow[];
}

export async function checkMetaGradient(o: MetaGradientCheckInput): Promise<MetaGradientCheck> {
  const tfPolicy = TfPertNN.fromPolicy(o.policy);
  let exact;
  try {
    exact = await metaGradient({
      model: o.model, policy: tfPolicy, objective: o.objective, batch: o.batch, features: o.features, seed: o.seed, eps: o.eps, metaLr: o.metaLr, nfGrad: o.nfGrad,
    });
  } finally {
    tfPolicy.dispose();
  }
  const ref = flatGrads(exact.grads);
  const rows: MetaGradientCheckRow[] = [];
  let host = { metaLoss: NaN, projectedGrad: NaN };
  for (const K of o.directions) {
    const r = await spsaMetaGradient({
      model: o.host, policy: o.policy, batch: o.batch, features: o.features, seed: o.seed, eps: o.eps, metaLr: o.metaLr, nfGrad: o.nfGrad,
      spsa: { directions: K, scale: o.scale, space: o.space },
    });
    host = r;
    const a = gradientAgreement(ref, flatGrads(r.grads));
    const s = r.dMetaDSigma ? gradientAgreement(exact.dMetaDSigma, r.dMetaDSigma) : undefined;
    rows.push({
      directions: K, cosine: a.cosine, signAgreement: a.signAgreement,
      ...(s ? { cosineSigma: s.cosine, signAgreementSigma: s.signAgreement } : {}),
      forwardPasses: r.forwardPasses,
    });
  }
  return { metaLossExact: exact.metaLoss, metaLossHost: host.metaLoss, projectedGradExact: exact.projectedGrad, projectedGradHost: host.projectedGrad, rows };
}

/** One planned meta step as a check case: its batch, objective and noise seed. */
export interface MetaGradientCase {
  step: number;
  task: string;
  batch: TaskBatch;
  objective: Objective;
  seed: number;
}

/** The first `n` planned meta steps of a run with this config and these tasks, and the run's starting policy ω. */
export function plannedCases(config: MetaConfig, tasks: readonly MetaTask[], blockNames: readonly string[], n: number): { policy: PertNN; cases: MetaGradientCase[] } {
  const plan = new MetaPlan(config, tasks.map((t) => t.train.length));
  const policy = initPertNN(blockNames, { seed: plan.policySeed, hidden: config.hidden });
  const cases = Array.from({ length: n }, (_, step) => {
    const p = plan.at(step);
    const t = tasks[p.task];
    return { step, task: t.name, batch: t.collator.batch(p.examples.map((i) => t.train[i]), { goldOnly: t.goldOnly }), objective: t.objective, seed: p.seed };
  });
  return { policy, cases };
}
