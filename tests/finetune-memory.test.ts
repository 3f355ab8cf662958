// Issue 4's memory target, measured as `zotune bench memory` measures it: the peak RSS of short MeZO
// and guided (M = 4) runs is at most 1.25× the peak of `zotune eval` on the same model and batch;
// Adam (backpropagation) is measured beside them. Every figure is a child process of the real bin.
import { resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { expect, test } from 'vitest';
import { benchMemory, MEMORY_TARGET_RATIO } from '../apps/toolbox/src/bench-memory';

test('ZO fine-tuning peaks within 1.25x of inference; Adam above it', async () => {
  process.env.ZOTUNE_DATA ??= resolve(REPO_ROOT, '../shared/data');
  process.env.ZOTUNE_BACKEND ??= 'wasm';
  const r = await benchMemory({ model: 'stories260K', task: 'sst2', batch: 16, steps: 3, evalN: 64 });
  expect(r.eval.peakRssMiB).toBeGreaterThan(r.baseline.peakRssMiB);
  expect(r.ratios.mezo).toBeLessThanOrEqual(MEMORY_TARGET_RATIO);
  expect(r.ratios.guided).toBeLessThanOrEqual(MEMORY_TARGET_RATIO);
  expect(r.target).toEqual({ ratio: MEMORY_TARGET_RATIO, mezo: true, guided: true });
  expect(r.adam.peakRssMiB).toBeGreaterThan(r.guided.peakRssMiB);
}, 360_000);
