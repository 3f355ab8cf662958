// --policy auto: the model's shipped default (MODEL/default:latest) is taken only for the blocks it was
// meta-trained over (every block, or the same PEFT adapter label); a policy of other blocks means none with
// a note, not a failed run (a LoRA policy published as the default must not break full-parameter runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { encodePolicyArtifact, examplePolicyArtifact } from '@zotune/artifacts';
import type { Model } from '@zotune/models';
import { openRegistry, parseRef } from '@zotune/registry';
import { resolvePolicy, type PolicyContext } from './policy';

const work = mkdtempSync(join(tmpdir(), 'zotune-policy-auto-'));
const before = process.env.ZOTUNE_REGISTRY;
const LORA = 'lora-r8-a16-q_proj,v_proj';

beforeAll(async () => {
  process.env.ZOTUNE_REGISTRY = work;
  const store = openRegistry(work);
  // full: a policy over every block of tiny-full; lora: a policy of tiny-lora made by meta-train --peft lora
  await store.publish(parseRef('tiny-full/default'), encodePolicyArtifact(examplePolicyArtifact({ model: 'tiny-full' })));
  const lora = examplePolicyArtifact({ model: 'tiny-lora' });
  await store.publish(parseRef('tiny-lora/default'), encodePolicyArtifact({ ...lora, training: { ...lora.training, config: { ...lora.training.config, peft: LORA } } }));
});
afterAll(() => {
  if (before === undefined) delete process.env.ZOTUNE_REGISTRY;
  else process.env.ZOTUNE_REGISTRY = before;
  rmSync(work, { recursive: true, force: true });
});

/** the example artifact's blocks and base digest, so that a matching policy loads */
const context = (modelName: string, peft?: string): PolicyContext => ({
  estimator: 'mezo',
  modelName,
  model: { family: 'llama', blocks: examplePolicyArtifact().fingerprint.blocks.map((b) => ({ ...b, size: b.shape.reduce((a, n) => a * n, 1) })) as unknown as Model['blocks'] },
  ...(peft ? { peft } : {}),
  baseDigest: () => 'ab'.repeat(32),
});

test('auto takes a shipped default of the same blocks', async () => {
  const full = await resolvePolicy('auto', context('tiny-full'));
  expect([full.policy, full.digest?.startsWith('sha256:')]).toEqual(['tiny-full/default:latest', true]);
  const lora = await resolvePolicy('auto', context('tiny-lora', LORA));
  expect(lora.policy).toBe('tiny-lora/default:latest');
});

test('auto means none, with a note, for a shipped default of other blocks', async () => {
  const full = await resolvePolicy('auto', context('tiny-lora'));
  expect([full.policy, full.note]).toEqual(['none', `policy: none (the shipped tiny-lora/default:latest is for ${LORA} adapter blocks, this run trains every block: pass --policy REF for a policy of these blocks)`]);
  const otherRank = await resolvePolicy('auto', context('tiny-lora', 'lora-r4-a8-q_proj,v_proj'));
  expect(otherRank.note).toContain('is for lora-r8-a16-q_proj,v_proj adapter blocks, this run trains lora-r4-a8-q_proj,v_proj adapter blocks');
  expect((await resolvePolicy('auto', context('tiny-full', LORA))).note).toContain('is for every block, this run trains lora-r8-a16');
  expect((await resolvePolicy('auto', context('tiny-none'))).note).toMatch(/^policy: none \(no shipped policy for tiny-none in /);
  // an explicit reference is still checked against the run's blocks: refused in one line
  await expect(resolvePolicy('tiny-lora/default', context('tiny-full'))).rejects.toThrow(/^--policy tiny-lora\/default: /);
});
