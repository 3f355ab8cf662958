// The task objective. objectiveValue is the loss of any model (either engine) as a number, computed on
// the host from its candidate scores or token log-probs: what ZO steps, curvature probes and logs use.
// What needs gradients (Adam, meta-training, oracles) uses the same losses as tf functions of a
// differentiable model (TensorModel) → scalar, usable inside tf.tidy and under tf.variableGrads.
import * as tf from '@tensorflow/tfjs-core';
import type { Model, TensorModel } from '@zotune/models';
import type { TaskBatch } from './collate';
import type { TaskKind } from './types';

/** A task loss as a differentiable tf function (for gradients). */
export type Objective = (model: TensorModel, batch: TaskBatch) => tf.Scalar;

/**
 * Cross-entropy of the softmax over candidate scores (each the mean log-prob of the candidate's
 * tokens) against the gold candidate, averaged over the batch.
 */
export function classificationLoss(model: TensorModel, batch: TaskBatch): tf.Scalar {
  if (batch.packed.numCandidates < 2) throw new Error('classificationLoss: the batch holds one candidate per example (packed with goldOnly?)');
  return tf.tidy(() => {
    const scores = model.scoreCandidatesTensor(batch.packed); // [batch, K]
    const logp = tf.logSoftmax(scores); // [batch, K]
    const onehot = tf.oneHot(tf.tensor1d(batch.gold, 'int32'), batch.packed.numCandidates); // [batch, K]
    return tf.neg(tf.mean(tf.sum(tf.mul(logp, onehot), 1))) as tf.Scalar;
  });
}

/** Teacher-forced cross-entropy: mean −log p over all gold-candidate tokens of the batch. */
export function lmLoss(model: TensorModel, batch: TaskBatch): tf.Scalar {
  return tf.tidy(() => {
    const lp = model.tokenLogProbsTensor(batch.packed); // [numTargets]
    const mask = tf.tensor1d(batch.goldMask); // [numTargets]
    return tf.div(tf.neg(tf.sum(tf.mul(lp, mask))), batch.goldTokens) as tf.Scalar;
  });
}

/** The training objective of a task kind (ALGORITHMS.md §6: COPA trains on teacher-forced CE). */
export function objectiveFor(kind: TaskKind): Objective {
  return kind === 'generation-lm' ? lmLoss : classificationLoss;
}

/** The batch's own objective as a number (tidy + dataSync): for logging and tests, not hot loops. */
export function lossValue(model: TensorModel, batch: TaskBatch, objective: Objective = objectiveFor(batch.kind)): number {
  const loss = objective(model, batch);
  try {
    return loss.dataSync()[0];
  } finally {
    loss.dispose();
  }
}

/**
 * The task objective of any model, computed on the host from its scores or token log-probs:
 * classificationLoss and lmLoss in float32 arithmetic, same order of sums.
 */
export async function objectiveValue(model: Model, batch: TaskBatch): Promise<number> {
  return combineObjective(batch.kind, [await objectivePartial(model, batch)]);
}

/**
 * A batch's (or a shard's) share of the objective: the sum of its loss terms (−log-softmax at the gold
 * candidate per example, float64 sum; or −log p per gold token, float32 sum) and how many terms.
 */
export interface ObjectivePartial {
  sum: number;
  count: number;
}

/** The partial of one batch: what objectiveValue sums before it divides. */
export async function objectivePartial(model: Model, batch: TaskBatch): Promise<ObjectivePartial> {
  const f = Math.fround;
  if (batch.kind === 'generation-lm') {
    const lp = await model.tokenLogProbs(batch.packed); // [numTargets]
    let s = 0;
    for (let i = 0; i < lp.length; i++) s = f(s + f(lp[i] * batch.goldMask[i]));
    return { sum: -s, count: batch.goldTokens };
  }
  const K = batch.packed.numCandidates;
  if (K < 2) throw new Error('classificationLoss: the batch holds one candidate per example (packed with goldOnly?)');
  const scores = await model.scoreCandidates(batch.packed); // [batch · K]
  let total = 0;
  for (let b = 0; b < batch.packed.batch; b++) {
    const row = scores.subarray(b * K, (b + 1) * K);
    let m = -Infinity;
    for (const x of row) m = Math.max(m, x);
    let z = 0;
    for (const x of row) z += Math.exp(x - m);
    total += f(row[batch.gold[b]] - m - f(Math.log(z))); // log-softmax at the gold candidate
  }
  return { sum: -total, count: batch.packed.batch };
}

/**
 * The objective of a batch from its shards' partials, added in order (one partial: objectiveValue of
 * the batch, bit for bit). A run split into shards (data-parallel) fixes the shards in its config, so
 * every process adds the same partials in the same order.
 */
export function combineObjective(kind: TaskBatch['kind'], partials: readonly ObjectivePartial[]): number {
  const f = Math.fround;
  if (partials.length === 0) throw new Error('combineObjective: no partials');
  // from the first partial, not from 0: one partial is then the batch's own sum (a −0 stays −0)
  let { sum, count } = partials[0];
  for (const p of partials.slice(1)) {
    sum = kind === 'generation-lm' ? f(sum + p.sum) : sum + p.sum;
    count += p.count;
  }
  return f(sum / count);
}
