// nx run @zotune/tensor:mutate — the noise (the reference and the JS fast path every backend must
// match, the checks and the sums around the kernel) and the perturb passes. Out of scope: the
// WebAssembly kernel (noise-wasm.generated.ts is AssemblyScript compiled to a base64 blob; Stryker
// mutates TypeScript, and the kernel is held to the reference bit for bit by noise.spec.ts and to its
// source by noise-wasm.spec.ts), its loader noise-wasm.ts, and the worker pool (noise-pool.ts,
// noise-worker.ts: plumbing that splits the same arithmetic over threads, whose workers run the
// unmutated sources). vitest.mutate.config.ts leaves out the specs that cost minutes per mutant.
// The arithmetic files (noise-ref.ts, noise-js.ts: hot loops, slow when instrumented) can be run on
// their own: STRYKER_ARGS='--mutate libs/tensor/src/noise-ref.ts,libs/tensor/src/noise-js.ts'.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/tensor',
  mutate: ['libs/tensor/src/noise-ref.ts', 'libs/tensor/src/noise-js.ts', 'libs/tensor/src/noise.ts', 'libs/tensor/src/perturb.ts', 'libs/tensor/src/noise-arrays.ts'],
  vitestConfig: 'libs/tensor/vitest.mutate.config.ts',
});
