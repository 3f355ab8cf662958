// The policy on the LayerNorm families (OPT, GPT-2 golden fixtures): block lists with biases,
// LayerNorm weights and a learned position table drive the features, the embedding rule and the
// fingerprint, and a policy artifact for them round-trips.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodePolicyArtifact, encodePolicyArtifact } from '@zotune/artifacts';
import { checkpointDigest, createTfjsModel, packBatch, readHfDir } from '@zotune/models';
import { scaleContext } from '@zotune/zo';
import { modelFingerprint, policyFromArtifact, policyToArtifact } from './artifact';
import { distinctPositions } from './features';
import { initPertNN } from './pertnn';
import { evaluatePolicy } from './scale';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../tests/fixtures/families');
const batch = packBatch([[296, 79, 110, 99], [296, 5, 6]], [[[40], [41, 42]], [[40], [41]]]);

describe.each(['opt', 'gpt2'])('policy on %s', (family) => {
  it('features and size factors per block kind (token table: distinct tokens, position table: distinct positions)', async () => {
    const ckpt = readHfDir(join(FIXTURES, family));
    const model = createTfjsModel(ckpt);
    try {
      const kinds = new Set(model.blocks.map((b) => b.kind));
      expect(kinds).toEqual(new Set(['embedding', 'position', 'matrix', 'norm', 'bias']));
      const policy = initPertNN(model.blocks.map((b) => b.name), { seed: 3 });
      const ev = await evaluatePolicy(policy, scaleContext(0, model.blocks, undefined, batch));
      const dim = ckpt.config.dim;
      const tokens = new Set([296, 79, 110, 99, 5, 6, 40, 41, 42]).size;
      expect(distinctPositions(batch)).toBe(6); // prompt 0..3, candidates restart at 4 and 3
      model.blocks.forEach((b, j) => {
        const want = b.kind === 'embedding' ? (tokens * dim) / 1e6 : b.kind === 'position' ? (6 * dim) / 1e6 : b.size / 1e6;
        expect(ev.sizes[j], b.name).toBe(want);
      });
      const sumF = ev.sizes.reduce((a, b) => a + b, 0);
      expect(ev.sizes.reduce((s, f, j) => s + f * ev.effective[j] ** 2, 0)).toBeCloseTo(sumF, 10);
      expect(ev.effective.every((s) => Number.isFinite(s) && s > 0)).toBe(true);

      // the fingerprint keeps every block's kind; an artifact round-trips and is tied to this model
      const fp = modelFingerprint(model, checkpointDigest(ckpt), family);
      expect(fp.family).toBe(family);
      expect(fp.blocks.map((b) => b.kind)).toEqual(model.blocks.map((b) => b.kind));
      const art = policyToArtifact(policy, { fingerprint: fp, training: { config: {}, tasks: ['none'], metrics: {} }, name: family });
      const back = policyFromArtifact(decodePolicyArtifact(encodePolicyArtifact(art), 'memory'), model, fp);
      expect(back.weights.w1).toEqual(policy.weights.w1);
    } finally {
      model.dispose();
    }
  });
});
