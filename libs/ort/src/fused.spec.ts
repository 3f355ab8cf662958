// The fused-op graphs (RotaryEmbedding + GroupQueryAttention or MultiHeadAttention, the last layer only at
// the scored rows) against the plain-op graph: the same logits and token log-probs to 1e-5 on every family
// fixture (tests/fixtures/families) and on the real stories260K, on plain padded batches and on packed
// prompt + candidates batches (positions restart per candidate, rows padded to the longest). Logits are
// compared relative to their scale (max |Δ| / max |logit|, as model.spec.ts), log-probs absolutely.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packBatch, packSequences, PAD_SEGMENT, resolveModel } from '@zotune/models';
import { scoredRowLayout, type OrtModel } from './model';
import { maxAbsDiff, openerForFile, relErr } from './compare.testkit';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO, '../shared/data');
const FIXTURES = join(REPO, 'tests/fixtures/families');

const open = openerForFile();

/** rows of ids in [1, V) of the given lengths */
function rowsOf(V: number, lengths: number[], seed: number): number[][] {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % (V - 1)) + 1;
  return lengths.map((n) => Array.from({ length: n }, next));
}

/**
 * fused vs plain: the logits of every real (non-padding) row of a padded plain batch and the logits at a
 * few rows (the scored-rows graph), relative to the logits' scale; the token log-probs and candidate
 * scores of a packed batch, absolute.
 */
async function compare(plain: OrtModel, fused: OrtModel, sequences: number[][], packed: ReturnType<typeof packBatch>) {
  const V = plain.config.vocabSize;
  const batch = packSequences(sequences);
  const real = (a: Float32Array) => a.filter((_, i) => batch.segments[Math.floor(i / V)] !== PAD_SEGMENT);
  const full = relErr(real(await fused.logits(batch)), real(await plain.logits(batch)));
  // the last real row of each sequence: few rows per batch row, so the last layer runs at those rows only
  const last = Int32Array.from(sequences, (s, b) => b * batch.length + s.length - 1);
  expect(scoredRowLayout(batch.batch, batch.length, last)).toBeDefined();
  const rows = relErr(await fused.logits(batch, last), await plain.logits(batch, last));
  const lp = maxAbsDiff(await fused.tokenLogProbs(packed), await plain.tokenLogProbs(packed));
  const scores = maxAbsDiff(await fused.scoreCandidates(packed), await plain.scoreCandidates(packed));
  return { full, rows, lp, scores };
}

describe('scoredRowLayout', () => {
  it('groups the distinct selected rows by batch row, pads each to m, and indexes the selection into them', () => {
    // B = 3, T = 10: batch row 0 selects 3 and 5 (5 twice), row 1 nothing, row 2 selects 21
    const l = scoredRowLayout(3, 10, Int32Array.of(5, 3, 5, 21))!;
    expect(l.m).toBe(2);
    expect(Array.from(l.rows)).toEqual([5, 3, 10, 10, 21, 21]);
    expect(Array.from(l.index)).toEqual([0, 1, 0, 4]);
    // every row of a batch row selected: the fused attention over all rows is cheaper, no layout
    expect(scoredRowLayout(1, 4, Int32Array.of(0, 1, 2, 3))).toBeUndefined();
  });
});

describe.each(['llama', 'qwen2', 'opt', 'opt-postnorm', 'gpt2'])('family fixture %s: fused graphs equal the plain graph', (name) => {
  it.each(['gqa', 'mha'] as const)('%s: logits and scored-row logits to 1e-5 of their scale, packed token log-probs and scores to 1e-5', async (attention) => {
    const dir = join(FIXTURES, name);
    const { checkpoint } = resolveModel(dir);
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as { sequences: number[][] };
    const plain = await open(checkpoint, 'plain');
    const fused = await open(checkpoint, attention);
    // the learned-position families run the fused attention too (without RotaryEmbedding)
    expect(fused.attention).toBe(attention);
    const [a, b] = ref.sequences;
    const P = 5; // sequences 0 and 1 share a 5-token prompt (tests/families.test.ts)
    const packed = packBatch([a.slice(0, P), b.slice(0, 3)], [[a.slice(P), b.slice(P)], [b.slice(3, 4), a.slice(P, P + 3)]]);
    const e = await compare(plain, fused, ref.sequences, packed);
    expect(e.full).toBeLessThanOrEqual(1e-5);
    expect(e.rows).toBeLessThanOrEqual(1e-5);
    expect(e.lp).toBeLessThanOrEqual(1e-5);
    expect(e.scores).toBeLessThanOrEqual(1e-5);
  });
});

describe('stories260K (GQA 8/4, tied): fused graphs equal the plain graph', () => {
  it.each(['gqa', 'mha'] as const)('%s', async (attention) => {
    const { checkpoint } = resolveModel('stories260K', DATA);
    const V = checkpoint.config.vocabSize;
    const plain = await open(checkpoint, 'plain');
    const fused = await open(checkpoint, attention);
    const prompts = rowsOf(V, [40, 9, 23], 5);
    const cands = prompts.map((_, i) => rowsOf(V, [1 + i, 3, 2], 9 + i));
    const e = await compare(plain, fused, rowsOf(V, [64, 17, 40], 3), packBatch(prompts, cands));
    expect(e.full).toBeLessThanOrEqual(1e-5);
    expect(e.rows).toBeLessThanOrEqual(1e-5);
    expect(e.lp).toBeLessThanOrEqual(1e-5);
    expect(e.scores).toBeLessThanOrEqual(1e-5);
  });
});
