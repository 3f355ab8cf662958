// A sweep hands each run to `zotune finetune` as a fine-tune config (libs/sweep finetuneInput), never
// as flags: the fields a sweep spec may set are the fine-tune config's own, and every run of every
// shipped spec is a config that finetune's schema accepts and resolves.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { finetuneInputSchema, parseInput, resolveConfig } from '@zotune/finetune';
import { expandRuns, finetuneOptionsSchema, finetuneInput, loadSpec, methodSchema } from '@zotune/sweep';
import { describe, expect, test } from 'vitest';

describe('sweep runs are fine-tune configs', () => {
  test("every field of a sweep method and of its options is one of finetune's settings", () => {
    const settings = Object.keys(finetuneInputSchema.shape);
    for (const k of [...Object.keys(methodSchema.shape), ...Object.keys(finetuneOptionsSchema.shape)]) expect(settings, k).toContain(k);
  });

  const dir = join(REPO_ROOT, 'configs/sweeps');
  test.each(readdirSync(dir).filter((f) => f.endsWith('.json')))('configs/sweeps/%s: each run parses and resolves as a fine-tune config', (f) => {
    const spec = loadSpec(join(dir, f));
    // a policy file the spec's author made (runs/…) that this checkout may not have: the policy field passes through as it is
    for (const m of Object.values(spec.methods)) if (m.policy.endsWith('.zpol') && !existsSync(join(REPO_ROOT, m.policy))) m.policy = 'none';
    const runs = expandRuns(spec, REPO_ROOT, f);
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      const c = resolveConfig([parseInput(finetuneInput(run), run.key)]);
      expect(c, run.key).toMatchObject({ model: run.config.model, task: run.config.task, estimator: run.config.estimator, seed: run.config.seed, forwardPasses: run.config.forwardPasses, threads: run.threads ?? 1 });
      if (run.config.lr !== undefined) expect(c.lr).toBe(run.config.lr);
    }
  });
});
