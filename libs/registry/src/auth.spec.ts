// The bearer-token check of the HTTP registry (server.ts authorize/sameToken) and the token file
// reader (token.ts). A write must carry exactly the server's token: not a prefix of it, not the
// token plus more, not a same-length token differing in one character, not a different scheme.
// Every refused write must leave the store's files unchanged.
import { request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { encodePolicyArtifact, examplePolicyArtifact } from '@zotune/artifacts';
import { sha256Hex } from '@zotune/io';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startRegistryServer, type RunningRegistryServer } from './server';
import { readBearerToken } from './token';

const TOKEN = 'k7-Qx9_token';
const body = encodePolicyArtifact(examplePolicyArtifact({ seed: 11 }));
const POLICY = '/v1/policies/tiny-test/auth:v1';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}
const snapshot = (root: string) => Object.fromEntries(walk(root).map((p) => [relative(root, p), sha256Hex(readFileSync(p))]));

interface Reply { status: number; body: string; headers: Record<string, string | string[] | undefined> }
function send(url: string, method: string, path: string, headers: Record<string, string | number>, payload?: Uint8Array): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('registry bearer-token check', () => {
  let server: RunningRegistryServer;
  let root: string;
  const lines: string[] = [];

  beforeAll(async () => {
    root = join(mkdtempSync(join(tmpdir(), 'zotune-auth-')), 'store');
    server = await startRegistryServer({ root, token: TOKEN, port: 0, log: (l) => lines.push(l) });
    // one policy in the store, so that a wrongly accepted DELETE or PUT would show in the snapshot
    const put = await send(server.url, 'PUT', POLICY, { authorization: `Bearer ${TOKEN}`, 'content-length': body.length }, body);
    expect(put.status).toBe(201);
  });
  afterAll(() => server.close());

  // each wrong header by hand, with the one line the server must answer; the token is 12 characters
  const wrong: [string, string | undefined, string][] = [
    ['no header', undefined, 'missing Authorization: Bearer token'],
    ['empty header', '', 'missing Authorization: Bearer token'],
    ['scheme without a token', 'Bearer', 'missing Authorization: Bearer token'],
    ['scheme and a space', 'Bearer ', 'missing Authorization: Bearer token'],
    ['token without the scheme', TOKEN, 'missing Authorization: Bearer token'],
    ['another scheme', `Basic ${TOKEN}`, 'missing Authorization: Bearer token'],
    ['the scheme not first', `Token Bearer ${TOKEN}`, 'missing Authorization: Bearer token'],
    ['scheme glued to the token', `Bearer${TOKEN}`, 'missing Authorization: Bearer token'],
    ['two words after the scheme', `Bearer ${TOKEN} extra`, 'missing Authorization: Bearer token'],
    ['a prefix of the token', 'Bearer k7-Qx9_toke', 'invalid bearer token'],
    ['the first character', 'Bearer k', 'invalid bearer token'],
    ['the token and one more character', `Bearer ${TOKEN}x`, 'invalid bearer token'],
    ['a suffix of the token', 'Bearer 7-Qx9_token', 'invalid bearer token'],
    ['same length, last character differs', 'Bearer k7-Qx9_tokem', 'invalid bearer token'],
    ['same length, first character differs', 'Bearer j7-Qx9_token', 'invalid bearer token'],
    ['same length, other case', 'Bearer K7-QX9_TOKEN', 'invalid bearer token'],
    ['same length, all different', 'Bearer aaaaaaaaaaaa', 'invalid bearer token'],
  ];
  for (const [what, header, message] of wrong) {
    test(`refuses a write with ${what}: 401, WWW-Authenticate: Bearer, store unchanged`, async () => {
      const before = snapshot(root);
      const headers: Record<string, string | number> = header === undefined ? {} : { authorization: header };
      const other = encodePolicyArtifact(examplePolicyArtifact({ seed: 12 }));
      const put = await send(server.url, 'PUT', `${POLICY}?force=1`, { ...headers, 'content-length': other.length }, other);
      expect(put.status).toBe(401);
      expect(put.headers['www-authenticate']).toBe('Bearer');
      expect(JSON.parse(put.body)).toEqual({ error: message });
      const del = await send(server.url, 'DELETE', POLICY, headers);
      expect(del.status).toBe(401);
      expect(JSON.parse(del.body)).toEqual({ error: message });
      expect(snapshot(root)).toEqual(before);
    });
  }

  test('accepts the exact token, the scheme in any case and trailing blanks (RFC 7235: the scheme is case-insensitive)', async () => {
    for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER   ${TOKEN}  `]) {
      const r = await send(server.url, 'PUT', POLICY, { authorization: header, 'content-length': body.length }, body);
      expect(r.status, header).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ status: 'unchanged' });
    }
  });

  test('reads stay open: no token needed to list, show or fetch a blob', async () => {
    expect((await send(server.url, 'GET', '/v1/policies', {})).status).toBe(200);
    expect((await send(server.url, 'GET', POLICY, {})).status).toBe(200);
    const blob = await send(server.url, 'GET', `/v1/blobs/sha256/${sha256Hex(body)}`, { authorization: 'Bearer wrong' });
    expect(blob.status).toBe(200);
    expect(blob.headers['x-content-sha256']).toBe(`sha256:${sha256Hex(body)}`);
  });

  test('logs one line per request with method, path and status', async () => {
    expect(lines[0]).toMatch(new RegExp(`^PUT ${POLICY} 201 \\d+ ms$`)); // beforeAll's publish
    lines.length = 0;
    await send(server.url, 'DELETE', POLICY, { authorization: 'Bearer nope' });
    await send(server.url, 'GET', '/v1/policies', {});
    expect(lines[0]).toBe(`DELETE ${POLICY} 401 invalid bearer token`);
    expect(lines[1]).toMatch(/^GET \/v1\/policies 200 \d+ ms$/);
    // the duration of the request, not a timestamp
    expect(Number(/ (\d+) ms$/.exec(lines[1])![1])).toBeLessThan(60_000);
  });
});

describe('readBearerToken', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zotune-token-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const saved = process.env.ZOTUNE_REGISTRY_TOKEN;
  afterEach(() => {
    if (saved === undefined) delete process.env.ZOTUNE_REGISTRY_TOKEN;
    else process.env.ZOTUNE_REGISTRY_TOKEN = saved;
  });

  test('the file content without surrounding whitespace', () => {
    expect(readBearerToken(file('a', '  abc-123\n\n'))).toBe('abc-123');
    expect(readBearerToken(file('b', 'x'))).toBe('x');
  });

  test('refuses an empty file, several words and a missing file, naming the flag and the file', () => {
    const empty = file('empty', ' \n\t');
    expect(() => readBearerToken(empty)).toThrow(`--token-file ${empty}: expected one token without spaces, got an empty file`);
    const words = file('words', 'abc def\n');
    expect(() => readBearerToken(words, '--registry-token-file')).toThrow(`--registry-token-file ${words}: expected one token without spaces, got several words`);
    const tab = file('tab', 'abc\tdef');
    expect(() => readBearerToken(tab)).toThrow(/got several words$/);
    const gone = join(dir, 'none');
    expect(() => readBearerToken(gone)).toThrow(`--token-file ${gone}: cannot read the token file (no such file)`);
    expect(() => readBearerToken(dir)).toThrow(`--token-file ${dir}: cannot read the token file (EISDIR)`);
  });

  test('without a file: $ZOTUNE_REGISTRY_TOKEN, and undefined when unset or empty', () => {
    process.env.ZOTUNE_REGISTRY_TOKEN = 'from-env';
    expect(readBearerToken(undefined)).toBe('from-env');
    process.env.ZOTUNE_REGISTRY_TOKEN = '';
    expect(readBearerToken(undefined)).toBeUndefined();
    delete process.env.ZOTUNE_REGISTRY_TOKEN;
    expect(readBearerToken(undefined)).toBeUndefined();
  });
});
