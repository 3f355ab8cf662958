// Prefix tuning on a random tfjs LLaMA (no model file): the init's token ids pinned, the blocks'
// names and shapes, the initial prefixes as a KV cache of those tokens (the adapted forward of an
// input equals the float64 reference forward of tokens + input, read at the input), a prefix that
// changes moves the logits, and load/tensors round-trip.
import { createTfjsModel, packSequences, randomCheckpoint, referenceLogits, STORIES260K_CONFIG } from '@zotune/models';
import { describe, expect, test } from 'vitest';
import { createPrefix, prefixInitTokens } from './prefix';
import { relErr } from './testing.testkit';

describe('prefix tuning', () => {
  test('init tokens: deriveSeed(seed, i) mod vocab, pinned', () => {
    expect(prefixInitTokens(21, 4, 512)).toEqual([207, 269, 341, 158]);
    // deriveSeed(21, 0) = 2819491535 and deriveSeed(21, 1) = 1802496781 (noise-ref.ts), mod 100
    expect(prefixInitTokens(21, 2, 100)).toEqual([35, 81]);
    expect(prefixInitTokens(21, 0, 512)).toEqual([]);
  });

  test('the initial prefixes are the keys and values of the init tokens: logits equal the reference forward of tokens + input', () => {
    const ckpt = randomCheckpoint(STORIES260K_CONFIG, 4);
    const model = createTfjsModel(ckpt);
    try {
      const P = 3;
      const adapter = createPrefix(model, { method: 'prefix', tokens: P, initSeed: 9 });
      const { nLayers, nKvHeads, dim, nHeads } = STORIES260K_CONFIG;
      expect(adapter.blocks.length).toBe(2 * nLayers);
      expect(adapter.blocks.slice(0, 2).map((b) => [b.name, b.shape, b.index, b.kind])).toEqual([
        ['model.layers.0.self_attn.prefix_key', [P, nKvHeads * (dim / nHeads)], 0, 'matrix'],
        ['model.layers.0.self_attn.prefix_value', [P, nKvHeads * (dim / nHeads)], 1, 'matrix'],
      ]);
      const ids = prefixInitTokens(9, P, STORIES260K_CONFIG.vocabSize);
      const input = [1, 403, 29, 71, 261];
      const ref = referenceLogits(ckpt, [...ids, ...input]).slice(P).flat();
      const run = () => {
        const t = (adapter.model as typeof model).forward(packSequences([input]));
        const out = Float32Array.from(t.dataSync());
        t.dispose();
        return out;
      };
      const got = run();
      expect(relErr(got, ref)).toBeLessThan(1e-4);
      // the prefix is used: another prefix, other logits; tensors() → load() restores the first
      const saved = adapter.tensors();
      adapter.blocks[0].data!.fill(0.5);
      expect(relErr(run(), ref)).toBeGreaterThan(1e-3);
      adapter.load(saved, 'f');
      expect(run()).toEqual(got);
      expect(() => adapter.merged()).toThrow('--merge: prefix tuning has no merged form (the prefixes are extra keys and values, not a change of the weights)');
      adapter.dispose();
    } finally {
      model.dispose();
    }
  });
});
