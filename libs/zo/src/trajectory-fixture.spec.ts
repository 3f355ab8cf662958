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
import { FIXTURE_RUNS, fixtureBlocks, fixtureLiveRun, type FixtureRun } from './trajectory-fixture.testkit';

const fixtureDir = (version: number) => fileURLToPath(new URL(`../fixtures/trajectory-v${version}/`, import.meta.url));
const pinned = (version: number): Record<string, string> => JSON.parse(readFileSync(join(fixtureDir(version), 'expected.json'), 'utf8'));

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'zotune-fixture-'));
  // the fixture's blocks are small: split every pass so that 2 and 3 threads really share them
  sharedNoisePool(2).setMinParallel(0);
  sharedNoisePool(3).setMinParallel(0);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fixture of `version` replays to its pinned weights on 1–3 threads; today's run at that version writes its records. */
async function expectPinnedReplay(version: 2 | 3, run: FixtureRun, want: string): Promise<void> {
  const t = openTrajectory(join(fixtureDir(version), `${run.name}.trajectory`));
  expect(t.header.version).toBe(version);
  for (const threads of [1, 2, 3]) {
    const blocks = fixtureBlocks();
    await replay(blocks, t.header, t.records, { threads });
    expect(await weightsDigest(blocks), `${threads} thread(s)`).toBe(want);
  }
  const live = await fixtureLiveRun(run, { trajectoryVersion: version });
  expect(live.records).toEqual(t.records);
  expect(live.digest).toBe(want);
}

/** A live run written to a file replays to its own weights on 1 and 3 threads. */
async function expectOwnReplay(live: Awaited<ReturnType<typeof fixtureLiveRun>>, file: string): Promise<void> {
  const path = join(tmp, file);
  createTrajectory(path, live.header, { overwrite: true });
  for (const r of live.records) appendRecord(path, r);
  const t = openTrajectory(path);
  for (const threads of [1, 3]) {
    const blocks = fixtureBlocks();
    await replay(blocks, t.header, t.records, { threads });
    expect(await weightsDigest(blocks), `${threads} thread(s)`).toBe(live.digest);
  }
}

/** Old records under a newer version's header replay with that version's arithmetic: other weights. */
async function expectOtherWeights(old: ReturnType<typeof openTrajectory>, version: 3 | 4, pinnedDigest: string): Promise<void> {
  const blocks = fixtureBlocks();
  await replay(blocks, { ...old.header, version }, old.records);
  expect(await weightsDigest(blocks)).not.toBe(pinnedDigest);
}

for (const version of [2, 3] as const) {
  describe(`trajectory format version ${version} fixtures`, () => {
    const want = pinned(version);
    it('cover every estimator setting, and only those', () => {
      expect(Object.keys(want).sort()).toEqual(FIXTURE_RUNS.map((r) => r.name).sort());
    });
    for (const run of FIXTURE_RUNS)
      it(`${run.name}: replays to the pinned weights on 1, 2 and 3 threads, and today's version-${version} run writes the same records`, () => expectPinnedReplay(version, run, want[run.name]));
  });
}

describe('newer versions beside the fixtures', () => {
  const expected2 = pinned(2);
  const expected3 = pinned(3);
  for (const run of FIXTURE_RUNS) {
    it(`${run.name}: version 3 (fused) differs by round-off, replays to its own bits, and the version decides the arithmetic`, async () => {
      const old = openTrajectory(join(fixtureDir(2), `${run.name}.trajectory`));
      const live = await fixtureLiveRun(run, { trajectoryVersion: 3 });
      expect(live.header.version).toBe(3);
      expect(live.digest).not.toBe(expected2[run.name]);
      live.records.forEach((r, i) => {
        expect(r.candidates.map((c) => c.seed)).toEqual(old.records[i].candidates.map((c) => c.seed));
        expect(Math.abs(r.lossPlus - old.records[i].lossPlus)).toBeLessThan(1e-5);
      });
      await expectOwnReplay(live, `${run.name}.v3.trajectory`);
      await expectOtherWeights(old, 3, expected2[run.name]); // the fused arithmetic on version-2 records
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
      await expectOwnReplay(live, `${run.name}.v4.trajectory`);
      await expectOtherWeights(old, 4, expected3[run.name]); // stream 2's directions on version-3 records
    });
  }
});
