// The tests Stryker runs for `nx run @zotune/tensor:mutate` (stryker.config.mjs): the project's tests
// without those that reach the mutated code no further than the others but cost a minute or more per
// run under Stryker's instrumentation (a mutant switch per expression) on a shared machine:
// - backend.spec.ts: initBackend in child processes (not the noise or perturb code);
// - noise-wasm.spec.ts: the embedded kernel's hash and an AssemblyScript rebuild (generated code, not mutated);
// - noise-pool.spec.ts: the same arithmetic in worker threads, which run the unmutated sources (Stryker's
//   mutant switch lives in the test process); bounds.spec.ts runs the ranges on this thread;
// - the 1e6-sample distribution, the 1M-float tfjs-ops comparison (bounds.spec.ts checks the ops path
//   on small blocks against the formula) and the leak counts: statistics and resources, not bits.
import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

const SLOW = ['looks standard normal on 1e6 samples', 'gives the bits of the tfjs-ops path', 'leaks no tensor and no byte over repeated passes'];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      exclude: [...configDefaults.exclude, 'src/backend.spec.ts', 'src/noise-wasm.spec.ts', 'src/noise-pool.spec.ts'],
      testNamePattern: new RegExp(`^(?!.*(${SLOW.map(escape).join('|')}))`),
      testTimeout: 900_000,
    },
  }),
);
