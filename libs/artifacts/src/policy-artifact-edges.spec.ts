// The policy artifact's remaining edges, pinned: sizes and summary by hand, the digest of the file's
// bytes, the feature-set and probe rules, a block listed twice, the envelope's missing fields, and
// reading and writing files.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@zotune/io';
import { describe, expect, test } from 'vitest';
import { packValue, unpackValue } from './codec';
import { examplePolicyArtifact } from './policy-example';
import { decodePolicyArtifact, encodePolicyArtifact, mlpSizes, policyDigest, readPolicyArtifactFile, summarizePolicyArtifact, validatePolicyArtifact, writePolicyArtifactFile } from './policy-artifact';
import type { PolicyArtifact } from './policy-schema';

const dir = mkdtempSync(join(tmpdir(), 'zotune-policy-edges-'));

/** The example with a 6-input (curvature) architecture: w1 grows to 6·hidden. */
function curvature(withProbe: boolean): PolicyArtifact {
  const a = examplePolicyArtifact({ hidden: 4 });
  const weights = Object.fromEntries(Object.entries(a.weights).map(([n, w]) => [n, { ...w, w1: new Float32Array(24).fill(0.5) }]));
  return {
    ...a, weights,
    architecture: { ...a.architecture, inputs: 6, features: 'curvature', ...(withProbe ? { probe: { delta: 0.01, probes: 2, examples: 8 } } : {}) },
  };
}

describe('policy artifact edges', () => {
  test('mlpSizes: w1 inputs·hidden, b1 hidden, w2 hidden, b2 one', () => {
    expect(mlpSizes({ inputs: 5, hidden: 64 })).toEqual({ w1: 320, b1: 64, w2: 64, b2: 1 });
    expect(mlpSizes({ inputs: 6, hidden: 3 })).toEqual({ w1: 18, b1: 3, w2: 3, b2: 1 });
  });

  test('the digest names the sha256 of every byte of the file', () => {
    const bytes = encodePolicyArtifact(examplePolicyArtifact());
    expect(policyDigest(bytes)).toBe(`sha256:${sha256Hex(bytes)}`);
    expect(policyDigest(new TextEncoder().encode('abc'))).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('the summary: 5 blocks of (5·64 + 64 + 64 + 1) weights, the metadata without weights', () => {
    const s = summarizePolicyArtifact(examplePolicyArtifact({ seed: 3 }));
    expect(s).toMatchObject({ magic: 'zotune-policy', formatVersion: 1, model: 'tiny-test', blockCount: 5, parameters: 5 * 449, name: 'example-3', createdAt: '2026-01-02T03:04:05.000Z' });
    expect(s).not.toHaveProperty('description');
    expect(s).not.toHaveProperty('weights');
    expect(summarizePolicyArtifact({ ...examplePolicyArtifact(), name: undefined, description: 'd' })).toMatchObject({ description: 'd' });
    expect(summarizePolicyArtifact({ ...examplePolicyArtifact(), name: undefined })).not.toHaveProperty('name');
  });

  test('a curvature policy round-trips with its probe; the feature set and the probe must agree', () => {
    const a = curvature(true);
    expect(decodePolicyArtifact(encodePolicyArtifact(a), 'f').architecture).toEqual(a.architecture);
    expect(() => validatePolicyArtifact(curvature(false), 'f')).toThrow('f: architecture.probe: missing; a curvature policy must record its probe (delta, probes, examples)');
    const base = examplePolicyArtifact();
    expect(() => validatePolicyArtifact({ ...base, architecture: { ...base.architecture, probe: { delta: 0.01, probes: 2, examples: 8 } } }, 'f')).toThrow('f: architecture.probe: present, but the feature set is base');
    expect(() => validatePolicyArtifact({ ...base, architecture: { ...base.architecture, features: 'curvature' } }, 'f')).toThrow('f: architecture.inputs is 5, the curvature feature set has 6');
    expect(() => validatePolicyArtifact({ ...a, architecture: { ...a.architecture, features: undefined, probe: undefined } }, 'f')).toThrow('f: architecture.inputs is 6, the base feature set has 5');
    // a base policy's bytes hold no features or probe keys (its digest is that of format 1 before them)
    const body = unpackValue((unpackValue(encodePolicyArtifact(base), 't', 'x') as { body: Uint8Array }).body, 't', 'x') as { architecture: object };
    expect(Object.keys(body.architecture)).toEqual(['type', 'inputs', 'hidden', 'activation']);
  });

  test('a block listed twice in the fingerprint is refused by name', () => {
    const a = examplePolicyArtifact();
    const dup = { ...a, fingerprint: { ...a.fingerprint, blocks: [...a.fingerprint.blocks, a.fingerprint.blocks[1]] } };
    expect(() => validatePolicyArtifact(dup, 'f')).toThrow('f: the fingerprint lists block model.layers.0.input_layernorm.weight twice');
  });

  test('the envelope: a missing or non-string bodySha256, a body that is not a map, fields by name', () => {
    const outer = unpackValue(encodePolicyArtifact(examplePolicyArtifact()), 't', 'x') as Record<string, unknown>;
    expect(() => decodePolicyArtifact(packValue({ ...outer, bodySha256: undefined }), 'f')).toThrow('f: corrupted policy artifact: missing field bodySha256');
    expect(() => decodePolicyArtifact(packValue({ ...outer, bodySha256: 7 }), 'f')).toThrow('f: corrupted policy artifact: missing field bodySha256');
    expect(() => decodePolicyArtifact(packValue({ ...outer, body: 'text' }), 'f')).toThrow('f: corrupted policy artifact: missing field body');
    const list = packValue([1, 2]);
    expect(() => decodePolicyArtifact(packValue({ ...outer, body: list, bodySha256: sha256Hex(list) }), 'f')).toThrow('f: corrupted policy artifact: the body is a msgpack array, expected a map');
    const wrong = packValue({ ...outer, bodySha256: 'f'.repeat(64) });
    expect(() => decodePolicyArtifact(wrong, 'f')).toThrow(`f: corrupted policy artifact: the body's sha256 is ${sha256Hex(outer.body as Uint8Array).slice(0, 12)}…, the header says ffffffffffff…`);
    expect(() => decodePolicyArtifact(packValue({ magic: 'zotune-policy' }), 'f')).toThrow('f: unknown policy format version (missing); this zotune reads version 1');
    expect(() => validatePolicyArtifact({ ...examplePolicyArtifact(), createdAt: 5 }, 'f')).toThrow('f: field createdAt: ');
    expect(() => validatePolicyArtifact({ ...examplePolicyArtifact(), createdAt: 5 }, 'f')).toThrow(/ \(got 5\)$/);
    const a = examplePolicyArtifact();
    expect(() => validatePolicyArtifact({ ...a, fingerprint: { ...a.fingerprint, blocks: [{ ...a.fingerprint.blocks[0], shape: ['x'] }] } }, 'f')).toThrow(/^f: field fingerprint\.blocks\[0\]\.shape\[0\]: .* \(got "x"\)$/);
  });

  test('files: written atomically with their digest and size, read back equal; unreadable ones in one line', () => {
    const a = examplePolicyArtifact({ seed: 9 });
    const path = join(dir, 'p.zpol');
    const w = writePolicyArtifactFile(path, a);
    const bytes = readFileSync(path);
    expect(w).toEqual({ digest: `sha256:${sha256Hex(bytes)}`, bytes: bytes.length });
    expect(readPolicyArtifactFile(path)).toEqual(decodePolicyArtifact(bytes, path));
    expect(() => readPolicyArtifactFile(join(dir, 'none.zpol'))).toThrow(`${join(dir, 'none.zpol')}: cannot read policy artifact (no such file)`);
    expect(() => readPolicyArtifactFile(dir)).toThrow(`${dir}: cannot read policy artifact (EISDIR)`);
    writeFileSync(join(dir, 'bad.zpol'), 'x');
    expect(() => readPolicyArtifactFile(join(dir, 'bad.zpol'))).toThrow(/bad\.zpol: not a zotune policy artifact/);
  });
});
