// Test helpers shared by the ORT specs that compare two graphs' outputs (fused.spec.ts, lora.spec.ts;
// not exported from the lib): models opened on one thread and released after the file's tests, and the
// error measures (logits relative to their scale, as model.spec.ts; log-probs absolute).
import { afterAll, expect } from 'vitest';
import type { Checkpoint } from '@zotune/models';
import { createOrtModel, type OrtModel } from './model';
import type { AttentionKind } from './graph';

/** open(checkpoint, attention): a one-thread OrtModel, disposed after the calling spec file's tests. */
export function openerForFile(): (ckpt: Checkpoint, attention: AttentionKind) => Promise<OrtModel> {
  const opened: OrtModel[] = [];
  afterAll(async () => {
    for (const m of opened) await m.dispose();
  });
  return async (ckpt, attention) => {
    const m = await createOrtModel(ckpt, { threads: 1, attention });
    opened.push(m);
    return m;
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |a − b| over max |b|: the logits' error relative to their scale (model.spec.ts's measure) */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]));
  return maxAbsDiff(a, b) / m;
}
