// The tests Stryker runs for `nx run @zotune/tensor:mutate` (stryker.config.mjs): the project's tests
// without backend.spec.ts (initBackend in child processes: it never reaches the noise or perturb code
// beyond what the other specs run) and noise-wasm.spec.ts (the embedded kernel's hash and an
// AssemblyScript rebuild: about generated code, which is not mutated). Each costs 20–40 s per run, and
// a module-level mutant reruns every test.
import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

export default mergeConfig(shared, defineConfig({ test: { exclude: [...configDefaults.exclude, 'src/backend.spec.ts', 'src/noise-wasm.spec.ts'] } }));
