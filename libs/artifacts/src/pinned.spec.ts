// What the mutation run of libs/artifacts (docs/results/mutation/artifacts.md) found unchecked, pinned:
// the codec's predicates on every msgpack map header and on non-maps, whole error lines (not
// prefixes), the policy file's bytes (its digest, with and without the optional fields), a body that
// is not a map, a block named like an Object.prototype key, and the trajectory's frame edges where a
// frame's prefix ends the file or a cut frame's checksum happens to match what is left of it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@zotune/io';
import { afterAll, describe, expect, test } from 'vitest';
import { isPlainObject, packValue, startsWithMap, unpackValue } from './codec';
import { decodePolicyArtifact, encodePolicyArtifact, validatePolicyArtifact } from './policy-artifact';
import { examplePolicyArtifact } from './policy-example';
import type { PolicyArtifact } from './policy-schema';
import { crc32, encodeFrame, openTrajectory, parseStepRecord, parseTrajectoryHeader, type StepRecord, type TrajectoryHeader } from './trajectory';

/** The whole message of the error `fn` throws (toThrow(string) only checks a substring). */
function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('codec', () => {
  test('startsWithMap: fixmap 0x80–0x8f, map16 0xde, map32 0xdf; not arrays, strings, nil or nothing', () => {
    for (const b of [0x80, 0x81, 0x8f, 0xde, 0xdf]) expect(startsWithMap(Uint8Array.of(b)), `0x${b.toString(16)}`).toBe(true);
    for (const b of [0x00, 0x7f, 0x90, 0x9f, 0xa0, 0xc0, 0xdc, 0xdd, 0xff]) expect(startsWithMap(Uint8Array.of(b)), `0x${b.toString(16)}`).toBe(false);
    expect(startsWithMap(new Uint8Array(0))).toBe(false);
  });

  test('isPlainObject: only a map-like object', () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject({ a: 1 })).toBe(true);
    for (const v of [null, undefined, 0, 'x', true, [], [1], new Uint8Array(2), new Float32Array(1)]) expect(isPlainObject(v), String(v)).toBe(false);
  });

  test('not msgpack: the first line of the parser\'s reason, whole', () => {
    // 0x00 is the whole value 0; the second byte is left over
    expect(message(() => unpackValue(Uint8Array.of(0, 0), 'f', 'a thing'))).toBe('f: not a thing (not valid msgpack: Data read, but end of buffer not reached 0)');
  });
});

describe('policy artifact', () => {
  const ex = examplePolicyArtifact({ hidden: 2, layers: 1 });
  const { name: _n, ...noName } = ex;

  test('the file\'s bytes are pinned: digests of the example, without its name, with a description', () => {
    // sha256 of the encoded file, recorded when format 1 was fixed: any change to the key order, the
    // optional fields or the envelope changes them
    expect(sha256Hex(encodePolicyArtifact(ex))).toBe('2d9692566f7d5fa1aac9304f0976383c6747142380a0a4fdbdbbbd0f8e7ff167');
    expect(sha256Hex(encodePolicyArtifact(noName as PolicyArtifact))).toBe('1da6c5044d9a6daf6bdbc0ca0bf632374dd933aa518193c5981e4aee5adce265');
    expect(sha256Hex(encodePolicyArtifact({ ...ex, description: 'd' }))).toBe('014e9457a96755cb7f70a320f1acbc1f6323c0717e6a9d9a4fab2e50e9600e6f');
    // and the absent fields come back absent, not as keys holding undefined
    const back = decodePolicyArtifact(encodePolicyArtifact(noName as PolicyArtifact), 'f');
    expect(Object.keys(back).filter((k) => k === 'name' || k === 'description')).toEqual([]);
    expect(decodePolicyArtifact(encodePolicyArtifact({ ...ex, description: 'd' }), 'f').description).toBe('d');
  });

  test('an invalid artifact is refused before encoding, named "policy artifact"', () => {
    expect(message(() => encodePolicyArtifact({ ...ex, createdAt: 'x' }))).toBe('policy artifact: field createdAt: Invalid ISO datetime (got "x")');
  });

  /** An envelope around `body` with a correct checksum. */
  const envelope = (body: Uint8Array) => packValue({ magic: 'zotune-policy', formatVersion: 1, bodySha256: sha256Hex(body), body });

  test('a body that is not a map, or not whole, is named', () => {
    expect(message(() => decodePolicyArtifact(envelope(packValue([1, 2])), 'f'))).toBe('f: corrupted policy artifact: the body is a msgpack array, expected a map');
    expect(message(() => decodePolicyArtifact(envelope(packValue(null)), 'f'))).toBe('f: corrupted policy artifact: the body is a msgpack nil, expected a map');
    expect(message(() => decodePolicyArtifact(envelope(packValue(Uint8Array.of(1, 2))), 'f'))).toBe('f: corrupted policy artifact: the body is a msgpack byte string, expected a map');
    expect(message(() => decodePolicyArtifact(envelope(packValue(7)), 'f'))).toBe('f: corrupted policy artifact: the body is a msgpack number, expected a map');
    const cut = packValue({ a: 'a long enough string to cut' }).subarray(0, 10);
    expect(message(() => decodePolicyArtifact(envelope(cut), 'f'))).toBe('f (body): truncated file (10 bytes end inside the msgpack data), expected a zotune policy artifact');
  });

  test('field errors: the path, the zod reason, the offending scalar (not an object), missing only when absent', () => {
    expect(message(() => validatePolicyArtifact(42, 'src'))).toBe('src: field (root): Invalid input: expected object, received number (got 42)');
    expect(message(() => validatePolicyArtifact({ ...ex, architecture: { ...ex.architecture, hidden: 'x' } }, 'src'))).toBe(
      'src: field architecture.hidden: Invalid input: expected number, received string (got "x")',
    );
    expect(message(() => validatePolicyArtifact({ ...ex, fingerprint: { ...ex.fingerprint, blocks: {} } }, 'src'))).toBe('src: field fingerprint.blocks: Invalid input: expected array, received object');
    // absent, but the reason is a wrong literal, not a wrong type: not "missing"
    expect(message(() => validatePolicyArtifact({ ...ex, architecture: { ...ex.architecture, type: undefined } }, 'src'))).toBe('src: field architecture.type: Invalid input: expected "pertnn"');
    const { hidden: _h, ...noHidden } = ex.architecture;
    expect(message(() => validatePolicyArtifact({ ...ex, architecture: noHidden }, 'src'))).toBe('src: missing field architecture.hidden');
  });

  test('weights for another block than the header lists: both names in the line, also for an Object.prototype name', () => {
    const swap = (listed: string, held: string): PolicyArtifact => {
      const blocks = ex.fingerprint.blocks.map((b, i) => (i === 1 ? { ...b, name: listed } : b));
      const weights = Object.fromEntries(Object.entries(ex.weights).map(([n, w], i) => [i === 1 ? held : n, w]));
      return { ...ex, fingerprint: { ...ex.fingerprint, blocks }, weights };
    };
    expect(message(() => validatePolicyArtifact(swap('a', 'b'), 'src'))).toBe('src: no weights for block a (the file holds weights for b instead, which the header does not list)');
    // `constructor` is not undefined on a plain object: the own-property check must catch it
    expect(message(() => validatePolicyArtifact(swap('constructor', 'b'), 'src'))).toBe(
      'src: no weights for block constructor (the file holds weights for b instead, which the header does not list)',
    );
  });
});

describe('trajectory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zotune-artifacts-pinned-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const header: TrajectoryHeader = {
    magic: 'zotune-trajectory', version: 2, createdAt: '2026-01-01T00:00:00.000Z', runSeed: 7,
    model: { family: 'llama', digest: 'cd'.repeat(32), blocks: [{ name: 'w', shape: [2, 3], kind: 'matrix' }] },
    estimator: { name: 'mezo' }, engine: 'ort',
  };
  const record: StepRecord = {
    step: 0, seed: 5, estimator: 'mezo', eps: 1e-3, sigma: null, candidates: [{ seed: 6, loss: null }],
    probes: [{ weights: [1], lossPlus: 1, lossMinus: 0.5, projectedGrad: 250 }], lossPlus: 1, lossMinus: 0.5, projectedGrad: 250, forwardPasses: 2,
  };
  const prefix = (len: number, crc: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, len, true);
    new DataView(b.buffer).setUint32(4, crc, true);
    return b;
  };
  let n = 0;
  const write = (...parts: Uint8Array[]) => {
    const file = join(dir, `t${n++}`);
    writeFileSync(file, Buffer.concat(parts));
    return file;
  };

  test('header: every block kind and both engines are accepted; the digest is exactly 64 hex digits; the estimator has a name', () => {
    const kinds = ['embedding', 'position', 'matrix', 'norm', 'bias'] as const;
    const h = { ...header, model: { ...header.model, blocks: kinds.map((kind, i) => ({ name: `b${i}`, shape: [i], kind })) } };
    expect(parseTrajectoryHeader(h)).toEqual(h);
    expect(parseTrajectoryHeader({ ...header, engine: 'tfjs' }).engine).toBe('tfjs');
    expect(message(() => parseTrajectoryHeader({ ...header, model: { ...header.model, digest: `0${'cd'.repeat(32)}` } }))).toBe(
      'trajectory: bad trajectory header: model.digest: expected 64 lower-case hex digits',
    );
    expect(message(() => parseTrajectoryHeader({ ...header, model: { ...header.model, digest: `${'cd'.repeat(32)}0` } }))).toMatch(/model\.digest: expected 64 lower-case hex digits$/);
    expect(message(() => parseTrajectoryHeader({ ...header, estimator: {} }))).toBe('trajectory: bad trajectory header: estimator.name: Invalid input: expected string, received undefined');
  });

  test('a record that is not an object: the root named', () => {
    expect(message(() => parseStepRecord(42))).toBe('step record: bad step record: (root): Invalid input: expected object, received number');
  });

  test('a header cut or damaged: the line ends there (no "more data follows")', () => {
    const head = encodeFrame(header);
    const bad = head.slice();
    bad[bad.length - 1] ^= 1;
    const f = write(bad, encodeFrame(record));
    expect(message(() => openTrajectory(f))).toBe(`${f}: header is corrupted (checksum or length mismatch)`);
  });

  test('a last frame that is only its prefix, of length 0 with a nonzero checksum: damage, not a torn append', () => {
    const head = encodeFrame(header);
    const f = write(head, prefix(0, 5));
    expect(message(() => openTrajectory(f))).toBe(`${f}: record 0 at byte ${head.length} is corrupted (checksum or length mismatch) and more data follows it`);
    // all zero: zero fill, torn
    expect(openTrajectory(write(head, prefix(0, 0)))).toMatchObject({ records: [], tornBytes: 8 });
  });

  test('a cut last frame is torn even when the checksum matches the bytes that are left', () => {
    const head = encodeFrame(header);
    const left = Uint8Array.of(0x93, 1, 2); // what reached the disk of a longer payload
    const f = write(head, prefix(10, crc32(left)), left);
    expect(openTrajectory(f)).toMatchObject({ records: [], validBytes: head.length, tornBytes: 11 });
  });

  test('a frame whose checksum is right but whose payload is not msgpack: named with its place', () => {
    const head = encodeFrame(header);
    const payload = Uint8Array.of(0, 0);
    const f = write(head, prefix(2, crc32(payload)), payload);
    expect(message(() => openTrajectory(f))).toBe(`${f} (record 0 at byte ${head.length}): not a msgpack value (not valid msgpack: Data read, but end of buffer not reached 0)`);
  });
});
