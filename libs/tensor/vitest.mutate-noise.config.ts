// The tests Stryker runs on the scalar noise (stryker.noise.config.mjs): noise-scalar.spec.ts alone,
// whose inputs are small enough for the instrumented hot loops (a mutant switch per expression).
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

export default mergeConfig(shared, defineConfig({ test: { include: ['src/noise-scalar.spec.ts'] } }));
