import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePolicyArtifact, examplePolicyArtifact } from '@zotune/artifacts';
import { sha256Hex } from '@zotune/io';
import { Command, CommanderError } from 'commander';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { DEFAULT_MAX_UPLOAD_BYTES } from '@zotune/registry';
import { registerRegistryCommands } from './index';
import { DEFAULT_MAX_BYTES_HELP } from './serve-command';

const here = dirname(fileURLToPath(import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

/** Run the app's commands in this process, capturing stdout, stderr and the exit code. */
async function zotune(...args: string[]): Promise<Run> {
  const program = new Command('zotune').exitOverride();
  registerRegistryCommands(program);
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: any) => ((stdout += String(c)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: any) => ((stderr += String(c)), true));
  process.exitCode = undefined;
  let code: number;
  try {
    await program.parseAsync(['node', 'zotune', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    code = 2;
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code, stdout, stderr, json };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'zotune-cli-'));
function policyFile(dir: string, seed: number, model = 'tiny-test'): { path: string; bytes: Uint8Array } {
  const bytes = encodePolicyArtifact(examplePolicyArtifact({ seed, model }));
  const path = join(dir, `p${seed}.zpol`);
  writeFileSync(path, bytes);
  return { path, bytes };
}
function files(root: string): Record<string, string> {
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  return Object.fromEntries(walk(root).map((p) => [relative(root, p), sha256Hex(readFileSync(p))]));
}

afterEach(() => {
  delete process.env.ZOTUNE_REGISTRY;
});

describe('zotune policy (local)', () => {
  test('publish, list, show, pull, verify and rm round trip with byte-identical artifacts', async () => {
    const dir = tmp();
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const p = policyFile(dir, 1);
    const digest = `sha256:${sha256Hex(p.bytes)}`;

    const pub = await zotune('policy', 'publish', p.path, '--registry', a, '--json');
    expect(pub).toMatchObject({ code: 0, json: { ref: 'tiny-test/default:latest', digest, status: 'created', registry: a, source: p.path } });
    expect((await zotune('policy', 'publish', p.path, '--registry', a, '--as', 'tiny-test/copa:v1', '--json')).json).toMatchObject({ ref: 'tiny-test/copa:v1', status: 'created' });

    const list = await zotune('policy', 'list', '--registry', a, '--json');
    expect(list.code).toBe(0);
    expect(list.json.policies.map((x: any) => [x.ref, x.digest, x.model, x.createdAt])).toEqual([
      ['tiny-test/copa:v1', digest, 'tiny-test', '2026-01-02T03:04:05.000Z'],
      ['tiny-test/default:latest', digest, 'tiny-test', '2026-01-02T03:04:05.000Z'],
    ]);
    expect((await zotune('policy', 'list', '--registry', a)).stdout).toMatch(/^tiny-test\/copa:v1\s+sha256:/);

    const show = await zotune('policy', 'show', 'tiny-test', '--registry', a, '--json');
    expect(show.json).toMatchObject({ ref: 'tiny-test/default:latest', digest, training: { tasks: ['copa'], config: { epochs: 15 } }, fingerprint: { model: 'tiny-test' } });
    expect((await zotune('policy', 'show', digest, '--registry', a, '--json')).json).toMatchObject({ digest, blockCount: 5 });
    expect((await zotune('policy', 'show', p.path, '--json')).json).toMatchObject({ file: p.path, digest });
    expect((await zotune('policy', 'show', 'tiny-test/copa:v1', '--registry', a)).stdout).toMatch(/tasks\s+copa/);

    const pull = await zotune('policy', 'pull', 'tiny-test/copa:v1', '--registry', a, '--to', b, '--json');
    expect(pull.json).toMatchObject({ ref: 'tiny-test/copa:v1', digest, status: 'created', from: a, to: b });
    expect(readFileSync(join(b, 'blobs/sha256', sha256Hex(p.bytes))).equals(Buffer.from(p.bytes))).toBe(true);
    expect((await zotune('policy', 'pull', digest, '--registry', a, '--to', b, '--json')).json).toMatchObject({ ref: 'tiny-test/default:latest', status: 'created' });

    for (const r of [a, b]) expect(await zotune('policy', 'verify', '--registry', r, '--json')).toMatchObject({ code: 0, json: { ok: true, problems: [] } });
    expect((await zotune('policy', 'rm', 'tiny-test/copa:v1', '--registry', a, '--json')).json).toEqual({ ref: 'tiny-test/copa:v1', digest, blobRemoved: false });
    expect((await zotune('policy', 'rm', 'tiny-test', '--registry', a, '--json')).json).toMatchObject({ blobRemoved: true });
    expect((await zotune('policy', 'list', '--registry', a, '--json')).json.policies).toEqual([]);
  });

  test('--registry defaults to the shipped policies/ (or $ZOTUNE_REGISTRY), which is a valid store', async () => {
    const shipped = resolve(here, '../../../policies');
    expect(await zotune('policy', 'verify', '--json')).toMatchObject({ code: 0, json: { ok: true, registry: shipped } });
    const dir = tmp();
    process.env.ZOTUNE_REGISTRY = join(dir, 'env-store');
    const p = policyFile(dir, 2);
    expect((await zotune('policy', 'publish', p.path, '--json')).json).toMatchObject({ registry: join(dir, 'env-store'), status: 'created' });
    expect((await zotune('policy', 'list', '--json')).json.policies).toHaveLength(1);
  });

  test('bad input: one line each and a non-zero exit', async () => {
    const dir = tmp();
    const a = join(dir, 'a');
    const p1 = policyFile(dir, 1);
    const p2 = policyFile(dir, 2);
    await zotune('policy', 'publish', p1.path, '--registry', a);

    const taken = await zotune('policy', 'publish', p2.path, '--registry', a);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^zotune: tiny-test\/default:latest already exists in .* tags are immutable .*--force\)\n$/);
    expect((await zotune('policy', 'publish', p2.path, '--registry', a, '--force', '--json')).json).toMatchObject({ status: 'replaced' });

    const badRef = await zotune('policy', 'show', 'tiny-test/a:b:c', '--registry', a);
    expect(badRef).toMatchObject({ code: 2, stderr: 'zotune: REF: reference "tiny-test/a:b:c": expected MODEL, MODEL/NAME or MODEL/NAME:TAG; a policy may also be given as sha256:<hex> or as an existing file path\n' });
    expect((await zotune('policy', 'publish', p1.path, '--registry', a, '--as', '../x')).stderr).toMatch(/^zotune: --as: reference "\.\.\/x"/);
    expect(await zotune('policy', 'show', './missing.zpol')).toMatchObject({ code: 1, stderr: `zotune: ${resolve('missing.zpol')}: cannot read the policy file (no such file)\n` });
    expect((await zotune('policy', 'show', 'tiny-test/none:v1', '--registry', a)).stderr).toBe(`zotune: policy tiny-test/none:v1 is not in the registry ${a}\n`);
    expect((await zotune('policy', 'rm', `sha256:${'0'.repeat(64)}`, '--registry', a)).code).toBe(2);
    expect((await zotune('policy', 'pull', 'tiny-test', '--registry', a, '--to', 'http://x')).stderr).toBe('zotune: --to http://x: expected a local directory, not a URL\n');
    expect((await zotune('policy', 'pull', 'tiny-test', '--registry', a)).code).toBe(2);
    writeFileSync(join(dir, 'empty-token'), '\n');
    expect((await zotune('policy', 'publish', p1.path, '--registry', 'http://127.0.0.1:1', '--token-file', join(dir, 'empty-token'))).stderr).toBe(
      `zotune: --token-file ${join(dir, 'empty-token')}: expected one token without spaces, got an empty file\n`,
    );
    expect((await zotune('policy', 'list', '--registry', 'ftp://x')).stderr).toBe('zotune: --registry: registry URL "ftp://x": expected http:// or https://\n');
    expect((await zotune('registry', 'serve', '--root', a, '--port', 'abc')).stderr).toBe('zotune: --port: expected an integer, got "abc"\n');
    writeFileSync(join(dir, 'junk.zpol'), 'not a policy');
    expect((await zotune('policy', 'publish', join(dir, 'junk.zpol'), '--registry', a)).stderr).toMatch(/junk\.zpol: not a zotune policy artifact/);

    // verify: a corrupted blob fails with exit 1 and names it
    const blob = join(a, 'blobs/sha256', sha256Hex(p2.bytes));
    const bytes = readFileSync(blob);
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(blob, bytes);
    const v = await zotune('policy', 'verify', '--registry', a, '--json');
    expect(v.code).toBe(1);
    expect(v.json.ok).toBe(false);
    expect(v.json.problems[0]).toMatch(/is corrupted/);
  });
});

describe('zotune registry serve', () => {
  test("--max-bytes's default in the help (declared without loading the lib) is the lib's", () => {
    expect(DEFAULT_MAX_BYTES_HELP).toBe(DEFAULT_MAX_UPLOAD_BYTES);
  });


  test('the same commands through --registry http://…; unauthorised publish fails and changes nothing', async () => {
    const dir = tmp();
    const root = join(dir, 'served');
    writeFileSync(join(dir, 'token'), 'tok-123\n');
    writeFileSync(join(dir, 'wrong'), 'nope\n');
    const child = spawn(
      process.execPath,
      ['--conditions=@zotune/source', '--import', 'tsx', join(here, 'testing/zotune-registry.ts'), 'registry', 'serve', '--root', root, '--port', '0', '--token-file', join(dir, 'token'), '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      const info = await new Promise<any>((resolveInfo, reject) => {
        let out = '';
        child.stdout.on('data', (c) => {
          out += c;
          if (out.includes('\n')) resolveInfo(JSON.parse(out));
        });
        child.on('close', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
      });
      expect(info).toMatchObject({ root, host: '127.0.0.1', writes: 'token', maxBytes: 16 * 1024 * 1024 });
      const url: string = info.url;
      expect(url).toBe(`http://127.0.0.1:${info.port}`);

      const p = policyFile(dir, 3);
      const digest = `sha256:${sha256Hex(p.bytes)}`;
      const denied = await zotune('policy', 'publish', p.path, '--registry', url, '--token-file', join(dir, 'wrong'));
      expect(denied).toMatchObject({ code: 1, stderr: `zotune: ${url}: 401 invalid bearer token\n` });
      expect((await zotune('policy', 'publish', p.path, '--registry', url)).stderr).toBe(`zotune: ${url}: 401 missing Authorization: Bearer token\n`);
      expect(files(dir)).not.toHaveProperty('served/index.json');

      expect((await zotune('policy', 'publish', p.path, '--registry', url, '--token-file', join(dir, 'token'), '--as', 'tiny-test/copa:v1', '--json')).json).toMatchObject({
        ref: 'tiny-test/copa:v1',
        digest,
        status: 'created',
        registry: url,
      });
      expect((await zotune('policy', 'list', '--registry', url, '--json')).json.policies).toMatchObject([{ ref: 'tiny-test/copa:v1', digest, model: 'tiny-test' }]);
      expect((await zotune('policy', 'show', 'tiny-test/copa:v1', '--registry', url, '--json')).json).toMatchObject({ digest, training: { tasks: ['copa'] } });
      const before = files(root);
      expect((await zotune('policy', 'rm', 'tiny-test/copa:v1', '--registry', url, '--token-file', join(dir, 'wrong'))).code).toBe(1);
      expect(files(root)).toEqual(before);

      const local = join(dir, 'local');
      expect((await zotune('policy', 'pull', 'tiny-test/copa:v1', '--registry', url, '--to', local, '--json')).json).toMatchObject({ status: 'created', digest });
      expect(readFileSync(join(local, 'blobs/sha256', sha256Hex(p.bytes))).equals(Buffer.from(p.bytes))).toBe(true);
      expect(readFileSync(join(root, 'blobs/sha256', sha256Hex(p.bytes))).equals(Buffer.from(p.bytes))).toBe(true);
      // and back up from the local store under a new tag
      expect(
        (await zotune('policy', 'publish', 'tiny-test/copa:v1', '--from', local, '--registry', url, '--token-file', join(dir, 'token'), '--as', 'tiny-test/copa:v2', '--json')).json,
      ).toMatchObject({ status: 'created', digest });
      expect(await zotune('policy', 'verify', '--registry', url, '--json')).toMatchObject({ code: 0, json: { ok: true, refs: 2 } });
      expect((await zotune('policy', 'rm', 'tiny-test/copa:v2', '--registry', url, '--token-file', join(dir, 'token'), '--json')).json).toMatchObject({ blobRemoved: false });
      expect(stderr).toMatch(/^PUT \/v1\/policies\/tiny-test\/default:latest 401 invalid bearer token$/m);
      expect(stderr).toMatch(/^DELETE \/v1\/policies\/tiny-test\/copa:v1 401/m);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
