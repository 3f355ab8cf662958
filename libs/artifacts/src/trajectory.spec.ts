import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  appendRecord, crc32, createTrajectory, encodeFrame, openTrajectory, resumeTrajectory,
  type StepRecord, type TrajectoryHeader,
} from './trajectory';

const header: TrajectoryHeader = {
  magic: 'zotune-trajectory',
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  runSeed: 7,
  model: { family: 'llama', digest: 'ab'.repeat(32), blocks: [{ name: 'w', shape: [2, 3], kind: 'matrix' }] },
  estimator: { name: 'guided', candidates: 4 },
  run: { task: 'sst2' },
};

function record(step: number): StepRecord {
  return {
    step, seed: 1000 + step, estimator: 'guided', eps: 1e-3, sigma: step % 2 ? [0.5] : null,
    candidates: [{ seed: 11, loss: 0.1 + step / 3 }, { seed: 12, loss: NaN }],
    probes: [{ weights: [Math.SQRT1_2, -Math.SQRT1_2], lossPlus: 0.3, lossMinus: Infinity, projectedGrad: -1 / 3 }],
    lossPlus: 0.3, lossMinus: Infinity, projectedGrad: -1 / 3, forwardPasses: 4,
  };
}

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'zotune-traj-'));
  file = join(dir, 'trajectory');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('trajectory', () => {
  it('crc32 matches the IEEE check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('round-trips header and records exactly (NaN, Infinity, float64 bits)', () => {
    createTrajectory(file, header);
    for (let s = 0; s < 5; s++) appendRecord(file, record(s), { fsync: s === 4 });
    const t = openTrajectory(file);
    expect(t.header).toEqual(header);
    expect(t.records).toEqual([0, 1, 2, 3, 4].map(record));
    expect(t.records[2].candidates[0].loss).toBe(0.1 + 2 / 3);
    expect(t.validBytes).toBe(statSync(file).size);
    expect(t.tornBytes).toBe(0);
    expect(() => createTrajectory(file, header)).toThrow(/already exists/);
  });

  it('detects and truncates a torn last record at every cut point', () => {
    createTrajectory(file, header);
    for (let s = 0; s < 3; s++) appendRecord(file, record(s));
    const whole = readFileSync(file);
    const good = openTrajectory(file).validBytes;
    const last = encodeFrame(record(3));
    for (let cut = 1; cut < last.length; cut++) {
      writeFileSync(file, whole);
      appendFileSync(file, last.subarray(0, cut));
      const t = openTrajectory(file);
      expect(t.records.length).toBe(3);
      expect(t.validBytes).toBe(good);
      expect(t.tornBytes).toBe(cut);
    }
    // resume cuts the tail; the next append continues cleanly
    const r = resumeTrajectory(file);
    expect(r.records.length).toBe(3);
    expect(statSync(file).size).toBe(good);
    appendRecord(file, record(3));
    expect(openTrajectory(file).records.map((x) => x.step)).toEqual([0, 1, 2, 3]);
  });

  it('treats a complete last frame with a bad checksum, or zero fill, as torn', () => {
    createTrajectory(file, header);
    appendRecord(file, record(0));
    const good = statSync(file).size;
    const bad = encodeFrame(record(1));
    bad[bad.length - 1] ^= 0xff;
    appendFileSync(file, bad);
    expect(openTrajectory(file)).toMatchObject({ validBytes: good, tornBytes: bad.length });
    writeFileSync(file, readFileSync(file).subarray(0, good));
    appendFileSync(file, new Uint8Array(4096));
    expect(openTrajectory(file)).toMatchObject({ validBytes: good, tornBytes: 4096 });
  });

  it('refuses damage in the middle of the file', () => {
    createTrajectory(file, header);
    for (let s = 0; s < 3; s++) appendRecord(file, record(s));
    const bytes = readFileSync(file);
    const t = openTrajectory(file);
    const secondRecord = t.validBytes - 2 * encodeFrame(record(1)).length;
    bytes[secondRecord + 12] ^= 0x55;
    writeFileSync(file, bytes);
    expect(() => openTrajectory(file)).toThrow(/record 1 at byte \d+ is corrupted .* more data follows/);
  });

  it('refuses an unknown version and a foreign magic by name', () => {
    writeFileSync(file, encodeFrame({ ...header, version: 5 }));
    expect(() => openTrajectory(file)).toThrow(/trajectory format version 5 is not supported \(this zotune reads versions 1, 2, 3 and 4\)/);
    // a version-1 file (before engines were recorded) still opens: its engine is tfjs by default
    writeFileSync(file, encodeFrame({ ...header, version: 1, engine: undefined }));
    expect(openTrajectory(file).header.engine).toBeUndefined();
    writeFileSync(file, encodeFrame({ ...header, magic: 'zotune-policy' }));
    expect(() => openTrajectory(file)).toThrow(/not a zotune trajectory \(magic "zotune-policy"/);
    writeFileSync(file, encodeFrame({ ...header, model: { ...header.model, digest: 'xyz' } }));
    expect(() => openTrajectory(file)).toThrow(/bad trajectory header: model\.digest/);
    writeFileSync(file, 'hello world, not a trajectory');
    expect(() => openTrajectory(file)).toThrow(/header is corrupted/);
  });

  it('refuses non-consecutive steps and invalid records', () => {
    createTrajectory(file, header);
    appendRecord(file, record(0));
    appendFileSync(file, encodeFrame(record(5)));
    expect(() => openTrajectory(file)).toThrow(/has step 5, expected 1/);
    expect(() => appendRecord(file, { ...record(1), eps: -1 })).toThrow(/record for step 1: bad step record: eps/);
  });
});
