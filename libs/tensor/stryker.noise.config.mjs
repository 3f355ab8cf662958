// scripts/mutate.sh libs/tensor/stryker.noise.config.mjs — the scalar noise: noise-ref.ts (the
// specification every implementation must match bit for bit) and noise-js.ts (its JavaScript port, the
// fallback without WebAssembly SIMD). Apart from stryker.config.mjs because their hot loops, instrumented,
// run an order of magnitude slower: noise.spec.ts's 1e5-sample checksums and 1.4e5-float spans would
// cost minutes per mutant, and nearly every test reaches these files. vitest.mutate-noise.config.ts runs
// noise-scalar.spec.ts alone: small inputs against murmur3's values, keys and seeds derived in Python,
// the golden bits, and the WebAssembly kernel (not mutated: a separate implementation).
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/tensor',
  name: 'tensor-noise',
  mutate: ['libs/tensor/src/noise-ref.ts', 'libs/tensor/src/noise-js.ts'],
  vitestConfig: 'libs/tensor/vitest.mutate-noise.config.ts',
});
