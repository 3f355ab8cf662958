// The committed SmolLM2-135M reference (tests/fixtures/smollm2, made by scripts/fixtures/make-smollm2-ref.sh)
// is consistent with itself and with the pinned GGUF: the logits tests read it by offset and shape.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MANIFEST, REPO_ROOT } from '@zotune/data';
import { expect, test } from 'vitest';

const DIR = join(REPO_ROOT, 'tests/fixtures/smollm2');

interface Reference {
  model: { file: string; sha256: string };
  logits: { text: string; ids: number[]; offset: number; shape: [number, number] }[];
  logitsFile: string;
  greedy: { ids: number[]; generated: number[]; generateIds: number[] };
  nll: { ids: number[]; meanNll: number; tokens: number };
  config: { vocab: number };
}

test('reference.json names the pinned GGUF, and logits.f32 holds exactly its blocks, finite', () => {
  const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8')) as Reference;
  const pin = MANIFEST.find((p) => p.group === 'smollm2-135m')!;
  expect(ref.model).toEqual({ file: pin.path.split('/').at(-1), sha256: pin.sha256 });
  const V = ref.config.vocab;
  expect(V).toBe(49152);
  let offset = 0;
  for (const l of ref.logits) {
    expect(l.offset, l.text).toBe(offset);
    expect(l.shape, l.text).toEqual([l.ids.length, V]);
    offset += l.ids.length * V;
  }
  expect(ref.logits.reduce((n, l) => n + l.ids.length, 0)).toBeLessThanOrEqual(24);
  expect(ref.logits.some((l) => l.text.startsWith('<|im_start|>'))).toBe(true);
  const bytes = gunzipSync(readFileSync(join(DIR, ref.logitsFile)));
  expect(bytes.length).toBe(offset * 4);
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, offset);
  expect(values.every((v) => Number.isFinite(v))).toBe(true);
  expect(ref.greedy.generated).toHaveLength(64);
  expect(ref.greedy.generated.slice(0, ref.greedy.generateIds.length)).toEqual(ref.greedy.generateIds);
  expect(ref.nll.tokens).toBe(ref.nll.ids.length - 1);
  expect(ref.nll.meanNll).toBeGreaterThan(0);
  expect(statSync(join(DIR, 'README.md')).size).toBeGreaterThan(0);
});
