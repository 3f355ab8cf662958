// nx run @zotune/tensor:mutate — the noise (the checks, dispatch and sums around the kernel) and the
// perturb passes; the scalar noise (noise-ref.ts, noise-js.ts) has its own stryker.noise.config.mjs
// with a lean test set (the same target runs both). Out of scope: the
// WebAssembly kernel (noise-wasm.generated.ts is AssemblyScript compiled to a base64 blob; Stryker
// mutates TypeScript, and the kernel is held to the reference bit for bit by noise.spec.ts and to its
// source by noise-wasm.spec.ts), its loader noise-wasm.ts, and the worker pool (noise-pool.ts,
// noise-worker.ts: plumbing that splits the same arithmetic over threads, whose workers run the
// unmutated sources). vitest.mutate.config.ts leaves out the specs that cost minutes per mutant.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/tensor',
  mutate: ['noise', 'perturb', 'noise-arrays'].map((f) => `libs/tensor/src/${f}.ts`),
  vitestConfig: 'libs/tensor/vitest.mutate.config.ts',
});
