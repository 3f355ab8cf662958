// The estimators' names: plain data that imports nothing, the package's "./names" entry, so that the
// fine-tune settings schema (@zotune/finetune/schema, which `zotune --help` loads to generate the
// finetune options) names them without loading the engine and tfjs.

/** Zeroth-order estimators (forward passes only). */
export const zoEstimatorNames = ['mezo', 'guided', 'greedy', 'elite'] as const;
/** Every estimator the engine runs, the first-order baseline included. */
export const estimatorNames = [...zoEstimatorNames, 'adam'] as const;
export type ZoEstimatorName = (typeof zoEstimatorNames)[number];
export type EstimatorName = (typeof estimatorNames)[number];

/** Parse an estimator name; unknown → one line listing the valid ones. */
export function parseEstimatorName(name: string, source = 'estimator'): EstimatorName {
  if ((estimatorNames as readonly string[]).includes(name)) return name as EstimatorName;
  throw new Error(`${source}: unknown estimator "${name}"; expected one of ${estimatorNames.join(', ')}`);
}
