// nx run @zotune/tensor:mutate — the noise (the reference and the JS fast path every backend must
// match) and the perturb passes. The WebAssembly kernel is generated code and the worker pool is
// plumbing around the same arithmetic; both are out of scope.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/tensor',
  mutate: ['libs/tensor/src/noise-ref.ts', 'libs/tensor/src/noise-js.ts', 'libs/tensor/src/noise.ts', 'libs/tensor/src/perturb.ts', 'libs/tensor/src/noise-arrays.ts'],
});
