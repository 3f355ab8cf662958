// nx run @zotune/tensor:mutate — the noise (the reference and the JS fast path every backend must
// match) and the perturb passes. Out of scope: the WebAssembly kernel (noise-wasm.generated.ts is
// AssemblyScript compiled to a base64 blob; Stryker mutates TypeScript, and the kernel is held to the
// reference bit for bit by noise.spec.ts and to its source by noise-wasm.spec.ts), its loader
// noise-wasm.ts and the worker pool (noise-pool.ts, noise-worker.ts: plumbing that splits the same
// arithmetic over threads; a mutant there runs in worker threads Stryker's switch does not reach).
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/tensor',
  mutate: ['libs/tensor/src/noise-ref.ts', 'libs/tensor/src/noise-js.ts', 'libs/tensor/src/noise.ts', 'libs/tensor/src/perturb.ts', 'libs/tensor/src/noise-arrays.ts'],
  vitestConfig: 'libs/tensor/vitest.mutate.config.ts',
});
