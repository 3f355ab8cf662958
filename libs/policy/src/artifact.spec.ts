import { describe, expect, it } from 'vitest';
import { decodePolicyArtifact, encodePolicyArtifact } from '@zotune/artifacts';
import { checkpointDigest, createTfjsModel, packBatch, randomCheckpoint, type ModelConfig } from '@zotune/models';
import { scaleContext } from '@zotune/zo';
import { modelFingerprint, policyFromArtifact, policyToArtifact } from './artifact';
import { initPertNN } from './pertnn';
import { evaluatePolicy, policyScale } from './scale';

const config: ModelConfig = {
  dim: 16, hiddenDim: 40, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 48, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: true,
};
const training = { config: { epochs: 15, lrMlp: 0.1 }, tasks: ['sst2', 'copa'], metrics: { finalLoss: 0.69 } };

function tiny(cfg: ModelConfig, seed = 3) {
  const ckpt = randomCheckpoint(cfg, seed);
  const model = createTfjsModel(ckpt);
  return { model, fp: modelFingerprint(model, checkpointDigest(ckpt), 'tiny') };
}

describe('policy artifacts', () => {
  it('round-trip through artifact bytes with identical σ', () => {
    const { model, fp } = tiny(config);
    try {
      expect(fp.blocks[0]).toEqual({ name: 'model.embed_tokens.weight', shape: [48, 16], kind: 'embedding' });
      expect(fp.blocks).toHaveLength(model.blocks.length);
      const policy = initPertNN(model.blocks.map((b) => b.name), { seed: 12 });
      const art = policyToArtifact(policy, { fingerprint: fp, training, name: 'default', createdAt: new Date('2026-02-03T04:05:06Z') });
      expect(art.architecture).toEqual({ type: 'pertnn', inputs: 5, hidden: 64, activation: 'tanh' });
      const bytes = encodePolicyArtifact(art);
      const back = policyFromArtifact(decodePolicyArtifact(bytes, 'memory'), model, fp);
      for (const k of ['w1', 'b1', 'w2', 'b2'] as const) expect(back.weights[k]).toEqual(policy.weights[k]);
      const x = Float32Array.from({ length: 5 * model.blocks.length }, (_, i) => Math.sin(i) * (i % 5 === 4 ? 1 : 0.7));
      expect(back.sigma(x)).toEqual(policy.sigma(x));
      // the encoding is canonical: the same policy gives the same bytes
      const again = encodePolicyArtifact(policyToArtifact(back, { fingerprint: fp, training, name: 'default', createdAt: new Date('2026-02-03T04:05:06Z') }));
      expect(Buffer.compare(again, bytes)).toBe(0);
    } finally {
      model.dispose();
    }
  });

  it('a curvature policy (6 inputs) round-trips with its probe, and its scale needs κ', async () => {
    const { model, fp } = tiny(config);
    try {
      const names = model.blocks.map((b) => b.name);
      const policy = initPertNN(names, { seed: 12, inputs: 6 });
      const probe = { delta: 1e-2, probes: 2, examples: 32 };
      expect(() => policyToArtifact(policy, { fingerprint: fp, training })).toThrow(/architecture\.probe: missing; a curvature policy must record its probe/);
      const art = policyToArtifact(policy, { fingerprint: fp, training, probe });
      expect(art.architecture).toEqual({ type: 'pertnn', inputs: 6, hidden: 64, activation: 'tanh', features: 'curvature', probe });
      const back = decodePolicyArtifact(encodePolicyArtifact(art), 'memory');
      expect(back.architecture).toEqual(art.architecture);
      const net = policyFromArtifact(back, model, fp);
      expect(net.inputs).toBe(6);
      const x = Float32Array.from({ length: 6 * names.length }, (_, i) => Math.cos(i));
      expect(net.sigma(x)).toEqual(policy.sigma(x));
      // the header and the weights must agree on the feature set
      expect(() => decodePolicyArtifact(encodePolicyArtifact({ ...art, architecture: { ...art.architecture, features: undefined, probe: undefined } }), 'f')).toThrow(
        'policy artifact: architecture.inputs is 6, the base feature set has 5',
      );
      const kappa = names.map((_, j) => (j % 3) - 1);
      expect(() => policyScale(net, 'p')).toThrow(/no curvature \(κ\) was measured/);
      expect(() => policyScale(initPertNN(names, { seed: 1 }), 'p', kappa)).toThrow(/not the curvature set/);
      const ctx = scaleContext(0, model.blocks, undefined, packBatch([[1, 5, 9]], [[[40], [41]]]));
      const e = await evaluatePolicy(net, ctx, kappa);
      expect(Array.from(e.features.filter((_, i) => i % 6 === 5))).toEqual(kappa);
      expect(await policyScale(net, 'p', kappa).sigma(ctx)).toEqual(e.effective);
    } finally {
      model.dispose();
    }
  });

  it('refuses another base model and names the blocks that differ', () => {
    const { model, fp } = tiny(config);
    const wider = tiny({ ...config, hiddenDim: 48 });
    const deeper = tiny({ ...config, nLayers: 3 });
    const retrained = tiny(config, 4);
    try {
      const art = policyToArtifact(initPertNN(model.blocks.map((b) => b.name), { seed: 1 }), { fingerprint: fp, training, name: 'p' });
      expect(() => policyFromArtifact(art, wider.model, wider.fp)).toThrow(
        /^policy p: the policy was trained for a different base model: shape differs: model\.layers\.0\.mlp\.gate_proj\.weight \(policy matrix \[16,40\], model matrix \[16,48\]\)/,
      );
      // six blocks differ (gate, up, down in two layers): five are named, then "and 1 more"
      expect(() => policyFromArtifact(art, wider.model, wider.fp)).toThrow(/model\.layers\.1\.mlp\.up_proj\.weight .* and 1 more; base weights differ/);
      expect(() => policyFromArtifact(art, deeper.model, deeper.fp)).toThrow(/missing from the policy: model\.layers\.2\.self_attn\.q_proj\.weight/);
      expect(() => policyFromArtifact(art, retrained.model, retrained.fp)).toThrow(/base weights differ/);
      // the matching model loads
      expect(policyFromArtifact(art, model, fp).numBlocks).toBe(model.blocks.length);
      // a policy for other blocks cannot be written under this fingerprint
      expect(() => policyToArtifact(initPertNN(deeper.model.blocks.map((b) => b.name), { seed: 1 }), { fingerprint: fp, training })).toThrow(
        /policy has 29 block networks, the fingerprint lists 20 blocks/,
      );
      expect(() => modelFingerprint(model, 'abc', 'tiny')).toThrow(/weightsSha256 "abc" is not 64 lower-case hex digits/);
    } finally {
      [model, wider.model, deeper.model, retrained.model].forEach((m) => m.dispose());
    }
  });
});
