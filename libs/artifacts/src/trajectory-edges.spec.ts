// The trajectory file's edges, each pinned to its exact answer: the frame layout byte by byte, every
// way a frame can be damaged (torn at the end vs bad in the middle, zero length, an absurd length,
// zero fill), the header and record refusals in full, and what resumeTrajectory leaves on disk.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  appendRecord, crc32, createTrajectory, encodeFrame, FRAME_PREFIX_BYTES, openTrajectory, parseStepRecord, parseTrajectoryHeader,
  resumeTrajectory, TRAJECTORY_MAGIC, TRAJECTORY_VERSION, TRAJECTORY_VERSIONS_READ, type StepRecord, type TrajectoryHeader,
} from './trajectory';

const header: TrajectoryHeader = {
  magic: 'zotune-trajectory', version: 2, createdAt: '2026-01-01T00:00:00.000Z', runSeed: 7,
  model: { family: 'llama', digest: 'cd'.repeat(32), blocks: [{ name: 'w', shape: [2, 3], kind: 'matrix' }] },
  estimator: { name: 'mezo' }, engine: 'ort',
};
const record = (step: number): StepRecord => ({
  step, seed: 5, estimator: 'mezo', eps: 1e-3, sigma: null, candidates: [{ seed: 6, loss: null }],
  probes: [{ weights: [1], lossPlus: 1, lossMinus: 0.5, projectedGrad: 250 }], lossPlus: 1, lossMinus: 0.5, projectedGrad: 250, forwardPasses: 2,
});

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'zotune-traj-edges-'));
  file = join(dir, 'trajectory');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A frame prefix by hand: u32 LE length, u32 LE checksum. */
function prefix(len: number, crc: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, len, true);
  new DataView(b.buffer).setUint32(4, crc, true);
  return b;
}

describe('trajectory constants and layout', () => {
  it('magic, version, the versions read and the prefix size', () => {
    expect([TRAJECTORY_MAGIC, TRAJECTORY_VERSION, TRAJECTORY_VERSIONS_READ, FRAME_PREFIX_BYTES]).toEqual(['zotune-trajectory', 4, [1, 2, 3, 4], 8]);
  });

  it('a frame is [u32 LE length][u32 LE crc32][payload]', () => {
    const f = encodeFrame({ a: 1 });
    const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
    expect(v.getUint32(0, true)).toBe(f.length - 8);
    expect(v.getUint32(4, true)).toBe(crc32(f.subarray(8)));
    // msgpack of {a: 1} as msgpackr writes it: map16 of 1 entry, fixstr "a", positive fixint 1
    expect(Array.from(f.subarray(8))).toEqual([0xde, 0x00, 0x01, 0xa1, 0x61, 0x01]);
  });
});

describe('reading a damaged trajectory', () => {
  const write = (...parts: Uint8Array[]) => writeFileSync(file, Buffer.concat(parts));
  const head = () => encodeFrame(header);
  const rec = (s: number) => encodeFrame(record(s));

  it('no file, an empty file, a header cut short, a header with a bad checksum', () => {
    expect(() => openTrajectory(file)).toThrow(`${file}: no such trajectory file`);
    write();
    expect(() => openTrajectory(file)).toThrow(`${file}: empty file, expected a zotune trajectory`);
    write(head().subarray(0, 20));
    expect(() => openTrajectory(file)).toThrow(`${file}: header is corrupted (truncated)`);
    write(head().subarray(0, 5));
    expect(() => openTrajectory(file)).toThrow(`${file}: header is corrupted (truncated)`);
    const bad = head();
    bad[bad.length - 1] ^= 1;
    write(bad, rec(0));
    expect(() => openTrajectory(file)).toThrow(`${file}: header is corrupted (checksum or length mismatch)`);
  });

  it('a last frame cut anywhere, even inside its 8-byte prefix, is torn; the records before it stand', () => {
    const good = Buffer.concat([head(), rec(0)]);
    for (const cut of [1, 4, 7, 8, 9, rec(1).length - 1]) {
      write(good, rec(1).subarray(0, cut));
      expect(openTrajectory(file), `cut ${cut}`).toMatchObject({ records: [record(0)], validBytes: good.length, tornBytes: cut });
    }
  });

  it('a zero length or an absurd length is damage, unless everything after it is zero fill', () => {
    const good = Buffer.concat([head(), rec(0)]);
    write(good, prefix(0, 0), Buffer.from([1]));
    expect(() => openTrajectory(file)).toThrow(`${file}: record 1 at byte ${good.length} is corrupted (checksum or length mismatch) and more data follows it`);
    write(good, prefix(64 * 1024 * 1024 + 1, 0), new Uint8Array(16).fill(2));
    expect(() => openTrajectory(file)).toThrow(`record 1 at byte ${good.length} is corrupted (checksum or length mismatch)`);
    write(good, new Uint8Array(12));
    expect(openTrajectory(file)).toMatchObject({ records: [record(0)], tornBytes: 12 });
    // a length of exactly 64 MiB is not absurd: here it runs past the end of the file, so torn
    write(good, prefix(64 * 1024 * 1024, 0), new Uint8Array(16).fill(2));
    expect(openTrajectory(file)).toMatchObject({ records: [record(0)], tornBytes: 24 });
  });

  it('a complete frame with a bad checksum: torn at the end (or before zero fill), damage before data', () => {
    const bad = rec(1);
    bad[9] ^= 4;
    write(head(), rec(0), bad);
    expect(openTrajectory(file).tornBytes).toBe(bad.length);
    write(head(), rec(0), bad, new Uint8Array(9));
    expect(openTrajectory(file).tornBytes).toBe(bad.length + 9);
    write(head(), rec(0), bad, new Uint8Array([0, 0, 3]));
    expect(() => openTrajectory(file)).toThrow(/record 1 at byte \d+ is corrupted \(checksum or length mismatch\) and more data follows it$/);
  });

  it('records must be consecutive from step 0, and valid', () => {
    write(head(), rec(1));
    expect(() => openTrajectory(file)).toThrow(`${file}: record 0 at byte ${head().length} has step 1, expected 0 (records must be consecutive from 0)`);
    write(head(), encodeFrame({ ...record(0), probes: [] }));
    expect(() => openTrajectory(file)).toThrow(`${file} (record 0 at byte ${head().length}): bad step record: probes: `);
  });
});

describe('header and record validation', () => {
  it('names a foreign magic, a missing one, an unknown version and the first bad field', () => {
    expect(() => parseTrajectoryHeader({ ...header, magic: 'x' })).toThrow('trajectory: not a zotune trajectory (magic "x", expected "zotune-trajectory")');
    expect(() => parseTrajectoryHeader([1], 'f')).toThrow('f: not a zotune trajectory (magic [1], expected "zotune-trajectory")');
    expect(() => parseTrajectoryHeader({ ...header, version: 5 })).toThrow('trajectory: trajectory format version 5 is not supported (this zotune reads versions 1, 2, 3 and 4)');
    expect(() => parseTrajectoryHeader({ ...header, runSeed: -1 })).toThrow(/^trajectory: bad trajectory header: runSeed: /);
    expect(() => parseTrajectoryHeader({ ...header, model: { ...header.model, blocks: [] } })).toThrow(/^trajectory: bad trajectory header: model\.blocks: /);
    // version 1 (no engine) is still read, and version 3 (the fused update) beside version 2 and 4 (noise stream 2)
    const { engine: _e, ...v1 } = { ...header, version: 1 as const };
    expect(parseTrajectoryHeader(v1)).toEqual(v1);
    expect(parseTrajectoryHeader({ ...header, version: 3 })).toEqual({ ...header, version: 3 });
    expect(parseTrajectoryHeader({ ...header, version: 2 })).toEqual({ ...header, version: 2 });
  });

  it('a record: the first bad field, by path; NaN and ±Infinity losses are kept', () => {
    expect(() => parseStepRecord({ ...record(0), seed: 2 ** 32 })).toThrow(/^step record: bad step record: seed: /);
    expect(() => parseStepRecord({ ...record(0), candidates: [{ seed: 1, loss: 'x' }] }, 'r')).toThrow('r: bad step record: candidates.0.loss: expected a number');
    expect(() => parseStepRecord({ ...record(0), eps: 0 })).toThrow(/bad step record: eps: /);
    expect(() => parseStepRecord({ ...record(0), forwardPasses: 1.5 })).toThrow(/bad step record: forwardPasses: /);
    expect(() => parseStepRecord({ ...record(0), estimator: '' })).toThrow(/bad step record: estimator: /);
    const r = { ...record(0), lossPlus: NaN, lossMinus: -Infinity, projectedGrad: Infinity };
    expect(parseStepRecord(r)).toEqual(r);
  });
});

describe('writing and resuming', () => {
  it('createTrajectory refuses an existing file unless overwrite, and an invalid header', () => {
    createTrajectory(file, header);
    expect(() => createTrajectory(file, header)).toThrow(`${file}: trajectory already exists (resume it, or pass overwrite)`);
    appendRecord(file, record(0));
    createTrajectory(file, { ...header, runSeed: 8 }, { overwrite: true });
    expect(openTrajectory(file)).toMatchObject({ header: { runSeed: 8 }, records: [] });
    expect(() => createTrajectory(join(dir, 'other'), { ...header, magic: 'nope' } as unknown as TrajectoryHeader)).toThrow(/not a zotune trajectory/);
    expect(existsSync(join(dir, 'other'))).toBe(false);
  });

  it('resumeTrajectory cuts a torn tail off the file and leaves a clean file alone', () => {
    createTrajectory(file, header);
    appendRecord(file, record(0));
    const good = statSync(file).size;
    appendFileSync(file, rec1Prefix());
    const t = resumeTrajectory(file);
    expect(t).toMatchObject({ validBytes: good, tornBytes: 5, records: [record(0)] });
    expect(statSync(file).size).toBe(good);
    const bytes = readFileSync(file);
    expect(resumeTrajectory(file)).toMatchObject({ validBytes: good, tornBytes: 0 });
    expect(readFileSync(file).equals(bytes)).toBe(true);
    appendRecord(file, record(1));
    expect(openTrajectory(file).records).toEqual([record(0), record(1)]);
  });
});

function rec1Prefix(): Uint8Array {
  return encodeFrame(record(1)).subarray(0, 5);
}
