// The bridge of `bench headroom --gradients torch`: PyTorch's per-block gradient energy on zotune's
// weights, loss and minibatches equals tfjs autodiff's (the path it replaces at 135M) on a model both
// can run, for both task losses (classification over candidates, teacher-forced CE). Needs the pinned
// venv: ZOTUNE_PYTHON (scripts/python/venv.sh prints it); without it the bridge reports skipped.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@zotune/data';
import { createTfjsModel, resolveModel } from '@zotune/models';
import { measureHeadroom } from '@zotune/policy';
import { Collator, lossValue, objectiveFor, resolveTask, sample } from '@zotune/tasks';
import { deriveSeed, initBackend } from '@zotune/tensor';
import { torchHeadroom } from './torch-grads';

process.env.ZOTUNE_DATA ??= resolve(REPO_ROOT, '../shared/data');
const haveData = existsSync(join(process.env.ZOTUNE_DATA, 'models', 'stories260K'));
const python = process.env.ZOTUNE_PYTHON;

describe.skipIf(!haveData || !python)('torchHeadroom (PyTorch backward on zotune batches)', () => {
  it.each(['story-name', 'copa'])('gives the G_j of tfjs autodiff to 1e-4 relative on stories260K, %s', async (taskName) => {
    await initBackend('wasm');
    const task = resolveTask(taskName);
    const resolved = resolveModel('stories260K');
    const model = createTfjsModel(resolved.checkpoint);
    try {
      const collator = new Collator(task, resolved.tokenizer, model.config.maxSeqLen);
      const train = task.splits(process.env.ZOTUNE_DATA!, 0).train;
      const goldOnly = task.kind === 'generation-lm';
      const batches = [0, 1].map((i) => collator.batch(sample(train, 8, deriveSeed(7, i)), { goldOnly }));
      const objective = objectiveFor(task.kind);
      const tfjs = await measureHeadroom(model.blocks, batches.map((b) => () => objective(model, b)), { probes: 0, delta: 1e-3, seed: 0 });
      const torch = torchHeadroom(resolved.checkpoint, model.blocks.map((b) => b.name), batches, { probes: 0, delta: 1e-3, seed: 0, python });
      // the same loss: torch's value at θ0 is zotune's
      batches.forEach((b, i) => expect(Math.abs(torch.losses[i] - lossValue(model, b)) / lossValue(model, b)).toBeLessThan(1e-5));
      expect(torch.blocks.map((b) => b.name)).toEqual(tfjs.map((b) => b.name));
      expect(torch.blocks.map((b) => b.size)).toEqual(tfjs.map((b) => b.size));
      const rel = tfjs.map((b, j) => Math.abs(torch.blocks[j].gradEnergy - b.gradEnergy) / b.gradEnergy);
      expect(Math.max(...rel)).toBeLessThan(1e-4);
      expect(torch.blocks.every((b) => b.curvature === null)).toBe(true);
    } finally {
      model.dispose();
    }
  }, 900_000);
});
