// nx run @zotune/zo:mutate — the ZO core: the evaluations of a step, the four estimators and the
// update. perturb.ts, replay.ts, scale.ts, config.ts and header.ts (the other 388 mutants) are next
// in line; adam.ts (first-order, no trajectory) and loss.ts (a tf bridge) are out of scope: a silent
// bug there does not corrupt a ZO run or its replay.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/zo',
  mutate: ['step', 'guided', 'mezo', 'update', 'estimator'].map((f) => `libs/zo/src/${f}.ts`),
});
