// @zotune/policy: the learned perturbation policy of ALGORITHMS.md §4 (ZO Fine-tuner's PertNN).
//
// Fine-tuning with a frozen policy (plain JS, no tensors):
//
//   const fp = modelFingerprint(model, checkpointDigest(ckpt), 'stories260K');
//   const policy = policyFromArtifact(readPolicyArtifactFile(path), model, fp);  // refuses another base model
//   const scale = policyScale(policy);           // a @zotune/zo Scale
//   record = await est.step({ blocks: model.blocks, lossValue, step, seed, scale, prev, batch: taskBatch.packed });
//
// Per step the scale reads mean and unbiased variance of every block (ctx.stats()), L± and the
// effective σ of the previous record (ctx.prev; see features.ts for why effective), runs one MLP per
// block and rescales by nf (embedding rule from ctx.batch). Nothing is kept between steps.
//
// The curvature feature set (6 inputs, a variant): κ = (await probeCurvature(blocks, loss, probe)).kappa
// once at θ₀, then policyScale(policy, name, κ); the artifact records the probe (architecture.probe).
//
// Meta-training (differentiable): const net = TfPertNN.fromPolicy(initPertNN(names, { seed }));
// inside tf.variableGrads: σ = net.sigma(x), u = effectiveSigmaTensor(σ, sizeFactors(blocks, batch))
// (nf a constant), then policyToArtifact(await net.toPolicy(), { fingerprint, training }).
export { CURVATURE_INPUTS, DEFAULT_HIDDEN, POLICY_INPUTS, PertNN, initPertNN, type PertNNWeights } from './pertnn';
export {
  INITIAL_FEATURE_STATE, distinctPositions, distinctTokens, featureStateFromRecord, nextFeatureState, normFactor, policyFeatures, sizeFactors,
  type FeatureState,
} from './features';
export { evaluatePolicy, policyScale, type PolicyEvaluation } from './scale';
export { TfPertNN, effectiveSigmaTensor, normFactorTensor } from './tf-pertnn';
export { modelFingerprint, policyFromArtifact, policyToArtifact, type PolicyArtifactOptions } from './artifact';
export { CURVATURE_SEED_DOMAIN, DEFAULT_CURVATURE_PROBE, KAPPA_CLIP, curvatureFeature, probeCurvature, type CurvatureMeasurement } from './curvature';
export {
  ORACLE_RULES, flooredCurvature, measureHeadroom, oracleRawSigma, oracleScale, predictedGain,
  type BlockHeadroom, type MeasureOptions, type OracleRule, type OracleScaleOptions,
} from './oracle';
