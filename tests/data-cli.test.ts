// End to end: `zotune data pull|check` as a user runs them, in a child process with ZOTUNE_DATA
// pointing at a temp dir. Uses the real bin once apps/toolbox mounts the data commands; until then a
// minimal bin that mounts registerDataCommands on a commander program the same way.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  const env: NodeJS.ProcessEnv = { ...process.env, ZOTUNE_DATA: dataDir };
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
    expect(lastLine(fix.stdout)).toMatch(new RegExp(`^${MANIFEST.length - 5} installed, 5 already present, 0 failed; data directory `));
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
    expect(only.stderr.trim()).toMatch(/^zotune: --only: unknown data name "nope"; expected a group \(stories260K, sst2,/);
    const from = await zotune(dir, 'pull', '--from', join(work, 'no-such-mirror'));
    expect(from.code).toBe(2);
    expect(from.stderr.trim()).toMatch(/^zotune: --from: \S+no-such-mirror: not a directory/);
    const url = await zotune(dir, 'pull', '--base-url', 'localhost:8080');
    expect(url.code).toBe(2);
    expect(url.stderr.trim()).toBe('zotune: --base-url: expected an http:// or https:// URL, got "localhost:8080"');
  });
});
