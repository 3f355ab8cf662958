import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempPathFor } from '@zotune/io';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { checkData } from './check';
import { REPO_ROOT } from './dir';
import { MANIFEST } from './manifest';
import { startOriginServer, type OriginServer } from './origin-server.testkit';
import { DataPullError, pullData, type PullProgress } from './pull';

const MIRROR = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const BIN = 'models/stories260K/stories260K.bin';
const TOK = 'models/stories260K/tok512.bin';
// what a bare pull brings from the (stand-in) HTTP origins; SmolLM2 comes through pip on request (pip.spec.ts)
const BARE = MANIFEST.filter((p) => !p.onRequest);
const PUBLIC = BARE.filter((p) => p.origin).map((p) => p.path);

let server: OriginServer;
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'zotune-pull-'));
  dirs.push(d);
  return d;
}

/** Every file under `dir`, relative. */
function walk(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(dir, join(rel, e.name)) : [join(rel, e.name)],
  );
}
const temps = (dir: string) => walk(dir).filter((f) => f.includes('.tmp-'));

async function pullError(p: Promise<unknown>): Promise<DataPullError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DataPullError);
  return e as DataPullError;
}

beforeAll(async () => {
  server = await startOriginServer(MIRROR);
});
afterEach(() => {
  server.mode = 'ok';
});
afterAll(async () => {
  await server.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('pullData from the (local stand-in of the) public origins', () => {
  test('downloads, extracts and verifies the public files; a second pull skips them', async () => {
    const dataDir = tempDir();
    const events: PullProgress[] = [];
    const r = await pullData({ dataDir, baseUrl: server.baseUrl, onProgress: (p) => events.push(p) });
    expect(r.counts).toEqual({ installed: PUBLIC.length, present: 0, unavailable: BARE.length - PUBLIC.length, failed: 0 });
    for (const path of PUBLIC) expect(readFileSync(join(dataDir, path)).equals(readFileSync(join(MIRROR, path)))).toBe(true);
    expect(r.files.find((f) => f.path === 'tasks/glue/SST-2/train.tsv')).toMatchObject({ source: 'archive', status: 'installed' });
    expect(r.files.find((f) => f.path === BIN)).toMatchObject({ source: 'download', from: `${server.baseUrl}/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin` });
    expect(r.archives).toHaveLength(1);
    expect(r.archives[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(temps(dataDir)).toEqual([]);
    // progress reaches 100 % of each file
    const last = events.filter((e) => e.path === BIN).at(-1)!;
    expect(last).toMatchObject({ phase: 'download', bytes: 1056540, total: 1056540 });
    expect(events.some((e) => e.phase === 'extract' && e.path === 'tasks/glue/SST-2/train.tsv' && e.bytes === 3806081)).toBe(true);

    const check = await checkData(dataDir);
    expect(check.counts).toEqual({ ok: PUBLIC.length, missing: MANIFEST.length - PUBLIC.length, corrupt: 0 });
    expect(check.files.find((f) => f.path === 'models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf')?.status).toBe('missing');
    expect(check.exitCode).toBe(0);

    const requests = [...server.hits.values()].reduce((a, b) => a + b, 0);
    const again = await pullData({ dataDir, baseUrl: server.baseUrl });
    expect(again.counts.present).toBe(PUBLIC.length);
    expect([...server.hits.values()].reduce((a, b) => a + b, 0)).toBe(requests);
  });

  test('corrupted bytes from the server are refused with both hashes and leave nothing', async () => {
    const dataDir = tempDir();
    server.mode = 'corrupt';
    const e = await pullError(pullData({ dataDir, baseUrl: server.baseUrl, only: [TOK] }));
    const pin = MANIFEST.find((p) => p.path === TOK)!;
    expect(e.message).toMatch(new RegExp(`^${TOK}: sha256 mismatch from http://127\\.0\\.0\\.1:\\d+/\\S+: expected ${pin.sha256} \\(6227 bytes\\), got [0-9a-f]{64} \\(6227 bytes\\)`));
    expect(e.message).not.toContain('\n');
    expect(e.result.counts.failed).toBe(1);
    expect(existsSync(join(dataDir, TOK))).toBe(false);
    expect(temps(dataDir)).toEqual([]);
  });

  test('a connection dropped mid-body fails without a partial file, and the next pull succeeds', async () => {
    const dataDir = tempDir();
    server.mode = 'drop';
    const e = await pullError(pullData({ dataDir, baseUrl: server.baseUrl, only: [BIN] }));
    expect(e.message).toMatch(new RegExp(`^${BIN}: GET http://\\S+stories260K.bin: connection lost after \\d+ bytes`));
    expect(existsSync(join(dataDir, BIN))).toBe(false);
    expect(temps(dataDir)).toEqual([]);
    server.mode = 'ok';
    const r = await pullData({ dataDir, baseUrl: server.baseUrl, only: [BIN] });
    expect(r.counts.installed).toBe(1);
    expect((await checkData(dataDir, { only: [BIN] })).counts.ok).toBe(1);
  });

  test('a server that stalls mid-body is abandoned after the idle timeout', async () => {
    const dataDir = tempDir();
    server.mode = 'stall';
    const e = await pullError(pullData({ dataDir, baseUrl: server.baseUrl, only: [BIN], idleTimeoutMs: 300 }));
    expect(e.message).toMatch(new RegExp(`^${BIN}: GET \\S+: connection lost after 65536 bytes \\(no data for 0.3 s\\)$`));
    expect(existsSync(join(dataDir, BIN))).toBe(false);
    expect(temps(dataDir)).toEqual([]);
  });

  test('a damaged archive: the member whose bytes are bad is refused, the intact one is installed', async () => {
    const dataDir = tempDir();
    server.mode = 'corrupt'; // flips a byte in the middle of the zip: inside train.tsv's deflate stream
    const e = await pullError(pullData({ dataDir, baseUrl: server.baseUrl, only: ['sst2'] }));
    expect(e.message).toMatch(/^tasks\/glue\/SST-2\/train\.tsv: /);
    expect(existsSync(join(dataDir, 'tasks/glue/SST-2/train.tsv'))).toBe(false);
    expect(e.result.files.find((f) => f.path === 'tasks/glue/SST-2/dev.tsv')?.status).toBe('installed');
    expect(temps(dataDir)).toEqual([]); // neither member temp files nor the archive
  });

  test('a corrupt file already present is replaced; HTTP errors and bad options are one-line errors', async () => {
    const dataDir = tempDir();
    mkdirSync(join(dataDir, 'models/stories260K'), { recursive: true });
    writeFileSync(join(dataDir, TOK), 'not a tokenizer');
    expect((await checkData(dataDir, { only: [TOK] })).exitCode).toBe(1);
    const r = await pullData({ dataDir, baseUrl: server.baseUrl, only: [TOK] });
    expect(r.files[0]).toMatchObject({ status: 'installed', replacedCorrupt: true });

    const e = await pullError(pullData({ dataDir: tempDir(), baseUrl: `${server.baseUrl}/nowhere`, only: [TOK] }));
    expect(e.message).toMatch(/^models\/stories260K\/tok512\.bin: GET http:\S+: HTTP 404 Not Found$/);
    await expect(pullData({ dataDir, baseUrl: 'ftp://x', only: [TOK] })).rejects.toThrow(/^base URL "ftp:\/\/x": expected an http/);
    await expect(pullData({ dataDir, only: ['nope'] })).rejects.toThrow(/^--only: unknown data name "nope"; expected a group \(stories260K, smollm2-135m, sst2/);
    const noOrigin = await pullError(pullData({ dataDir, baseUrl: server.baseUrl, only: ['tasks/superglue/RTE/val.jsonl'] }));
    expect(noOrigin.message).toMatch(/has no public origin; import it from a mirror with `zotune data pull --from DIR`/);
  });

  test('ZOTUNE_DATA_BASE_URL replaces the origin host, keeping a path prefix', async () => {
    const prefixed = await startOriginServer(MIRROR, '/mirror/v1');
    const saved = process.env.ZOTUNE_DATA_BASE_URL;
    try {
      process.env.ZOTUNE_DATA_BASE_URL = prefixed.baseUrl;
      const r = await pullData({ dataDir: tempDir(), only: [TOK] });
      expect(r.files[0].from).toBe(`${prefixed.baseUrl}/karpathy/tinyllamas/resolve/main/stories260K/tok512.bin`);
    } finally {
      if (saved === undefined) delete process.env.ZOTUNE_DATA_BASE_URL;
      else process.env.ZOTUNE_DATA_BASE_URL = saved;
      await prefixed.close();
    }
  });
});

describe('pullData from a local mirror', () => {
  test('imports every pinned file (but those pulled on request), verified', async () => {
    const dataDir = tempDir();
    const r = await pullData({ dataDir, from: MIRROR });
    expect(r.counts).toEqual({ installed: BARE.length, present: 0, unavailable: 0, failed: 0 });
    expect(r.files.every((f) => f.source === 'mirror')).toBe(true);
    const check = await checkData(dataDir);
    expect(check.counts).toEqual({ ok: BARE.length, missing: MANIFEST.length - BARE.length, corrupt: 0 });
  });

  test('a damaged or incomplete mirror is refused file by file', async () => {
    const mirror = tempDir();
    cpSync(join(MIRROR, 'models'), join(mirror, 'models'), { recursive: true });
    const tok = join(mirror, TOK);
    const bytes = readFileSync(tok);
    bytes[100] ^= 1;
    rmSync(tok);
    writeFileSync(tok, bytes);
    const dataDir = tempDir();
    const e = await pullError(pullData({ dataDir, from: mirror, only: ['stories260K', 'sst2'] }));
    expect(e.message).toMatch(new RegExp(`^${TOK}: sha256 mismatch from ${mirror}/${TOK}: expected 037cb335`));
    expect(e.message).toMatch(/\(and 2 more failed: tasks\/glue\/SST-2\/train\.tsv, tasks\/glue\/SST-2\/dev\.tsv\)$/);
    expect(e.result.files.find((f) => f.path === 'tasks/glue/SST-2/dev.tsv')?.error).toBe(`tasks/glue/SST-2/dev.tsv: not in the mirror ${mirror}`);
    expect(e.result.counts.installed).toBe(3);
    expect(existsSync(join(dataDir, TOK))).toBe(false);
    await expect(pullData({ dataDir, from: join(mirror, 'nothing') })).rejects.toThrow(/^\S+nothing: not found; expected a mirror directory laid out like the data directory, or a file/);
  });
});

describe('interrupted pulls', () => {
  test('kill -9 mid-download leaves no file under the final name; the next pull cleans up and succeeds', async () => {
    const dataDir = tempDir();
    const script = join(tempDir(), 'pull-child.mts');
    writeFileSync(
      script,
      `import { pullData } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'libs/data/src/pull.ts')).href)};\n` +
        `let said = false;\n` +
        `await pullData({ dataDir: process.argv[2], baseUrl: process.argv[3], only: [${JSON.stringify(BIN)}],\n` +
        `  onProgress: (p) => { if (!said && p.bytes >= 65536) { said = true; process.stdout.write('writing\\n'); } } });\n`,
    );
    server.mode = 'stall';
    const child = spawn(process.execPath, ['--conditions=@zotune/source', '--import', 'tsx', script, dataDir, server.baseUrl], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((ok, fail) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('writing') && ok());
      child.on('exit', (code) => fail(new Error(`child exited (${code}) before writing: ${stderr}`)));
    });
    const exited = new Promise((ok) => child.on('exit', ok));
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(join(dataDir, BIN))).toBe(false);
    const left = temps(dataDir);
    expect(left).toHaveLength(1); // the killed writer's temp file, with the bytes it had
    expect(left[0]).toMatch(new RegExp(`\\.stories260K\\.bin\\.tmp-${child.pid}-`));
    expect(statSync(join(dataDir, left[0])).size).toBe(65536);

    server.mode = 'ok';
    const r = await pullData({ dataDir, baseUrl: server.baseUrl, only: [BIN] });
    expect(r.cleaned).toEqual([left[0]]);
    expect(r.counts.installed).toBe(1);
    expect(temps(dataDir)).toEqual([]);
  });

  test('stray temp files of dead writers are removed; those of live ones are kept', async () => {
    const dataDir = tempDir();
    const dir = join(dataDir, 'models/stories260K');
    mkdirSync(dir, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(join(dir, `.tok512.bin.tmp-${dead}-0badc0de`), 'partial');
    const mine = tempPathFor(join(dir, 'tok512.bin')); // this process: possibly an install under way
    writeFileSync(mine, 'in progress');
    writeFileSync(join(dir, `.unrelated.txt.tmp-${dead}-0badc0de`), 'not ours');
    const r = await pullData({ dataDir, baseUrl: server.baseUrl, only: [TOK] });
    expect(r.cleaned).toEqual([`models/stories260K/.tok512.bin.tmp-${dead}-0badc0de`]);
    expect(existsSync(mine)).toBe(true);
    expect(existsSync(join(dir, `.unrelated.txt.tmp-${dead}-0badc0de`))).toBe(true);
  });
});
