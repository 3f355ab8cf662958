// Old runs still replay: the trajectories of libs/zo/fixtures/trajectory-v2 were written by the code of
// format version 2 (restore, then update) before version 3 fused the two, and those of trajectory-v3 by
// version 3 before version 4 changed the noise stream; replayed today they must reach the very weights
// they reached then (their sha256 was pinned when they were written), on any thread count. A version-3
// run of the same setting differs from version 2 by round-off only; a version-4 run takes other
// directions (noise stream 2). Each replays to its own bits.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendRecord, createTrajectory, openTrajectory, TRAJECTORY_VERSION } from '@zotune/artifacts';
import { sharedNoisePool } from '@zotune/tensor';
import { weightsDigest } from './header';
import { replay } from './replay';
import { FIXTURE_RUNS, fixtureBlocks, fixtureLiveRun } from './trajectory-fixture.testkit';

const fixtureDir = (version: number) => fileURLToPath(new URL(`../fixtures/trajectory-v${version}/`, import.meta.url));
const pinned = (version: number): Record<string, string> => JSON.parse(readFileSync(join(fixtureDir(version), 'expected.json'), 'utf8'));
const DIR = fixtureDir(2);
const expected = pinned(2);

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'zotune-fixture-'));
  // the fixture's blocks are small: split every pass so that 2 and 3 threads really share them
  sharedNoisePool(2).setMinParallel(0);
  sharedNoisePool(3).setMinParallel(0);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Version 3 (fused restore and update) was pinned the same way before version 4 changed the noise stream.
describe('trajectory format version 3 fixtures', () => {
  const expected3 = pinned(3);
  it('cover every estimator setting, and only those', () => {
    expect(Object.keys(expected3).sort()).toEqual(FIXTURE_RUNS.map((r) => r.name).sort());
  });
  for (const run of FIXTURE_RUNS) {
    it(`${run.name}: replays to the pinned weights on 1, 2 and 3 threads, and today's version-3 run writes the same records`, async () => {
      const t = openTrajectory(join(fixtureDir(3), `${run.name}.trajectory`));
      expect(t.header.version).toBe(3);
      for (const threads of [1, 2, 3]) {
        const blocks = fixtureBlocks();
        await replay(blocks, t.header, t.records, { threads });
        expect(await weightsDigest(blocks), `${threads} thread(s)`).toBe(expected3[run.name]);
      }
      const live = await fixtureLiveRun(run, { trajectoryVersion: 3 });
      expect(live.records).toEqual(t.records);
      expect(live.digest).toBe(expected3[run.name]);
    });

    it(`${run.name}: version 4 (noise stream 2) takes other directions, replays to its own bits, and the version decides the stream`, async () => {
      const old = openTrajectory(join(fixtureDir(3), `${run.name}.trajectory`));
      const live = await fixtureLiveRun(run);
      expect(live.header.version).toBe(TRAJECTORY_VERSION);
      expect(TRAJECTORY_VERSION).toBe(4);
      expect(live.digest).not.toBe(expected3[run.name]);
      // the same seeds at step 0 (elite's later seeds follow the losses), another z from the first move
      expect(live.records[0].candidates.map((c) => c.seed)).toEqual(old.records[0].candidates.map((c) => c.seed));
      expect(live.records[0].lossPlus).not.toBe(old.records[0].lossPlus);
      const path = join(tmp, `${run.name}.v4.trajectory`);
      createTrajectory(path, live.header, { overwrite: true });
      for (const r of live.records) appendRecord(path, r);
      const t = openTrajectory(path);
      for (const threads of [1, 3]) {
        const blocks = fixtureBlocks();
        await replay(blocks, t.header, t.records, { threads });
        expect(await weightsDigest(blocks), `${threads} thread(s)`).toBe(live.digest);
      }
      // the version-3 records under a version-4 header: replayed along stream 2's directions, other weights
      const blocks = fixtureBlocks();
      await replay(blocks, { ...old.header, version: 4 }, old.records);
      expect(await weightsDigest(blocks)).not.toBe(expected3[run.name]);
    });
  }
});

describe('trajectory format version 2 fixtures', () => {
  it('cover every estimator setting, and only those', () => {
    expect(Object.keys(expected).sort()).toEqual(FIXTURE_RUNS.map((r) => r.name).sort());
  });

  for (const run of FIXTURE_RUNS) {
    it(`${run.name}: replays to the pinned weights on 1, 2 and 3 threads, and today's version-2 run writes the same records`, async () => {
      const t = openTrajectory(join(DIR, `${run.name}.trajectory`));
      expect(t.header.version).toBe(2);
      for (const threads of [1, 2, 3]) {
        const blocks = fixtureBlocks();
        await replay(blocks, t.header, t.records, { threads });
        expect(await weightsDigest(blocks), `${threads} thread(s)`).toBe(expected[run.name]);
      }
      const live = await fixtureLiveRun(run, { trajectoryVersion: 2 });
      expect(live.records).toEqual(t.records);
      expect(live.digest).toBe(expected[run.name]);
    });

    it(`${run.name}: version 3 (fused) differs by round-off, replays to its own bits, and the version decides the arithmetic`, async () => {
      const old = openTrajectory(join(DIR, `${run.name}.trajectory`));
      const live = await fixtureLiveRun(run, { trajectoryVersion: 3 });
      expect(live.header.version).toBe(3);
      expect(live.digest).not.toBe(expected[run.name]);
      live.records.forEach((r, i) => {
        expect(r.candidates.map((c) => c.seed)).toEqual(old.records[i].candidates.map((c) => c.seed));
        expect(Math.abs(r.lossPlus - old.records[i].lossPlus)).toBeLessThan(1e-5);
      });
      const path = join(tmp, `${run.name}.trajectory`);
      createTrajectory(path, live.header, { overwrite: true });
      for (const r of live.records) appendRecord(path, r);
      const t = openTrajectory(path);
      for (const threads of [1, 3]) {
        const blocks = fixtureBlocks();
        await replay(blocks, t.header, t.records, { threads });
        expect(await weightsDigest(blocks), `${threads} thread(s)`).toBe(live.digest);
      }
      // the old records under a version-3 header: replayed with the fused arithmetic, other weights
      const blocks = fixtureBlocks();
      await replay(blocks, { ...old.header, version: 3 }, old.records);
      expect(await weightsDigest(blocks)).not.toBe(expected[run.name]);
    });
  }
});
