// The registry server's edges, each pinned to the exact answer: the raw-path check before routing
// (it must refuse '.', '..', '%' and '\' segments itself, not rely on the router also refusing
// them), the routes' anchors, methods per route, the upload limit at exactly maxBytes, the digest
// header's forms, status codes and headers of answers, and the listen options.
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePolicyArtifact, examplePolicyArtifact } from '@zotune/artifacts';
import { sha256Hex } from '@zotune/io';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_MAX_UPLOAD_BYTES, startRegistryServer, type RunningRegistryServer } from './server';

const TOKEN = 'edge-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const body = encodePolicyArtifact(examplePolicyArtifact({ seed: 31 }));
const HEX = sha256Hex(body);

interface Reply { status: number; body: string; headers: Record<string, string | string[] | undefined> }
function send(url: string, method: string, path: string, headers: Record<string, string | number> = {}, payload?: Uint8Array, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
const put = (url: string, path: string, bytes: Uint8Array, headers: Record<string, string | number> = {}) =>
  send(url, 'PUT', path, { ...auth, 'content-length': bytes.length, ...headers }, bytes);

describe('registry server edges', () => {
  let server: RunningRegistryServer;
  beforeAll(async () => {
    server = await startRegistryServer({ root: join(mkdtempSync(join(tmpdir(), 'zotune-edges-')), 'store'), token: TOKEN, port: 0 });
  });
  afterAll(() => server.close());

  test('the default upload limit is 16 MiB', () => {
    expect(DEFAULT_MAX_UPLOAD_BYTES).toBe(16777216);
  });

  test('an empty store lists no policies (the store directory does not exist yet)', async () => {
    const r = await send(server.url, 'GET', '/v1/policies');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({ policies: [] });
  });

  test('a store that cannot be read answers 500 with the reason (only a missing store lists as empty)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'zotune-notdir-')), 'file');
    writeFileSync(file, 'x');
    const broken = await startRegistryServer({ root: file, port: 0 });
    try {
      const r = await send(broken.url, 'GET', '/v1/policies');
      expect(r.status).toBe(500);
      expect(JSON.parse(r.body)).toEqual({ error: `ENOTDIR: not a directory, open '${file}/index.json'` });
    } finally {
      await broken.close();
    }
  });

  test('a store whose index is not JSON answers 503, not an empty list', async () => {
    const root = mkdtempSync(join(tmpdir(), 'zotune-badindex-'));
    writeFileSync(join(root, 'index.json'), 'garbage');
    const broken = await startRegistryServer({ root, port: 0 });
    try {
      const r = await send(broken.url, 'GET', '/v1/policies');
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body).error).toMatch(new RegExp(`^${join(root, 'index.json')}: not valid JSON \\(`));
    } finally {
      await broken.close();
    }
  });

  test('refuses dot, dot-dot, percent and backslash segments before routing, naming the rule', async () => {
    // each of these the router alone would answer otherwise (404, or an invalid-path 400)
    for (const path of ['/v1/./policies', '/v1/policies/../policies', '/v1/x/..', '/v1/%70olicies', '/v1/a%', '/v1\\policies', '/.']) {
      const r = await send(server.url, 'GET', path);
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body), path).toEqual({ error: `refused path ${path}: '.', '..', '\\' and percent-encoded segments are not allowed` });
    }
    // a dot inside a segment is a name, not a traversal
    expect((await send(server.url, 'GET', '/v1/policies/tiny-test/a.b:v1')).status).toBe(404);
  });

  test('routes: the list with or without a trailing slash; policy and blob paths anchored at the end', async () => {
    for (const path of ['/v1/policies', '/v1/policies/']) expect(JSON.parse((await send(server.url, 'GET', path)).body), path).toEqual({ policies: expect.any(Array) });
    const extra = await send(server.url, 'GET', '/v1/policies/tiny-test/x:v1/more');
    expect(extra.status).toBe(400);
    expect(JSON.parse(extra.body).error).toBe("invalid policy path /v1/policies/tiny-test/x:v1/more: expected /v1/policies/MODEL/NAME:TAG with letters, digits, '.', '_' or '-'");
    const blob = await send(server.url, 'GET', `/v1/blobs/sha256/${HEX}0`);
    expect(blob.status).toBe(400);
    expect(JSON.parse(blob.body).error).toBe(`invalid blob path /v1/blobs/sha256/${HEX}0: expected /v1/blobs/sha256/<64 hex digits>`);
    expect(JSON.parse((await send(server.url, 'GET', '/v2/x')).body)).toEqual({ error: 'no such endpoint /v2/x' });
  });

  test('methods: PUT and DELETE only on policies (405 with Allow), and the answers\' status and type', async () => {
    for (const [method, path, allow] of [['PUT', '/v1/policies', 'GET'], ['DELETE', '/v1/policies/', 'GET'], ['PUT', `/v1/blobs/sha256/${HEX}`, 'GET'], ['POST', '/v1/policies/tiny-test/m:v1', 'GET, PUT, DELETE']]) {
      const r = await send(server.url, method, path, auth);
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.headers.allow).toBe(allow);
      expect(JSON.parse(r.body)).toEqual({ error: `${method} is not allowed on ${path}` });
    }
    const created = await put(server.url, '/v1/policies/tiny-test/m:v1', body);
    expect(created.status).toBe(201);
    expect(created.headers['content-type']).toBe('application/json');
    expect(JSON.parse(created.body)).toEqual({ ref: 'tiny-test/m:v1', digest: `sha256:${HEX}`, size: body.length, status: 'created' });
    expect((await put(server.url, '/v1/policies/tiny-test/m:v1', body)).status).toBe(200); // unchanged
    const other = encodePolicyArtifact(examplePolicyArtifact({ seed: 32 }));
    const replaced = await put(server.url, '/v1/policies/tiny-test/m:v1?force=1', other);
    expect(replaced.status).toBe(200);
    expect(JSON.parse(replaced.body)).toMatchObject({ status: 'replaced', previous: `sha256:${HEX}` });
    const blob = await send(server.url, 'GET', `/v1/blobs/sha256/${sha256Hex(other)}`);
    expect(blob.status).toBe(200);
    expect(blob.headers['content-type']).toBe('application/octet-stream');
    expect(blob.headers['content-length']).toBe(String(other.length));
    const taken = await put(server.url, '/v1/policies/tiny-test/m:v1?force=0', body);
    expect(taken.status).toBe(409);
  });

  test('X-Content-Sha256: with or without the sha256: prefix, any case; the prefix only at the start', async () => {
    expect((await put(server.url, '/v1/policies/tiny-test/d:v1', body, { 'x-content-sha256': HEX })).status).toBe(201);
    expect((await put(server.url, '/v1/policies/tiny-test/d:v2', body, { 'x-content-sha256': `sha256:${HEX.toUpperCase()}` })).status).toBe(201);
    const inner = `${HEX.slice(0, 10)}sha256:${HEX.slice(10)}`;
    const r = await put(server.url, '/v1/policies/tiny-test/d:v3', body, { 'x-content-sha256': inner });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toBe(`digest mismatch: X-Content-Sha256 says ${inner}, the body hashes to sha256:${HEX}`);
  });

  test('only a 401 carries WWW-Authenticate; an unread upload closes the connection, a complete request does not', async () => {
    const unauth = await send(server.url, 'DELETE', '/v1/policies/tiny-test/m:v1');
    expect(unauth.status).toBe(401);
    expect(unauth.headers['www-authenticate']).toBe('Bearer');
    // a client that keeps connections alive: the server keeps them too, unless it must close
    const keepAlive = new Agent({ keepAlive: true });
    const notFound = await send(server.url, 'GET', '/v1/policies/tiny-test/none:v1', {}, undefined, keepAlive);
    expect(notFound.status).toBe(404);
    expect(notFound.headers['www-authenticate']).toBeUndefined();
    expect(notFound.headers.connection).not.toBe('close');
    const invalid = await send(server.url, 'GET', '/v1/blobs/sha256/abc');
    expect(invalid.status).toBe(400);
    expect(invalid.headers['www-authenticate']).toBeUndefined();
    // a 401 on a PUT whose body is not complete (half of the declared length sent): the server
    // closes instead of waiting for the rest
    const unread = await send(server.url, 'PUT', '/v1/policies/tiny-test/n:v1', { 'content-length': 2 * body.length }, body, keepAlive);
    expect(unread.status).toBe(401);
    expect(unread.headers.connection).toBe('close');
    keepAlive.destroy();
  });
});

describe('registry upload limit', () => {
  test('an upload of exactly maxBytes is accepted, one byte less of limit is refused (declared and streamed)', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'zotune-limit-')), 'store');
    const at = await startRegistryServer({ root, token: TOKEN, port: 0, maxBytes: body.length });
    const below = await startRegistryServer({ root, token: TOKEN, port: 0, maxBytes: body.length - 1 });
    try {
      expect((await put(at.url, '/v1/policies/tiny-test/l:v1', body)).status).toBe(201);
      const declared = await put(below.url, '/v1/policies/tiny-test/l:v2', body);
      expect(declared.status).toBe(413);
      expect(JSON.parse(declared.body).error).toBe(`upload of ${body.length} bytes exceeds the limit of ${body.length - 1} bytes`);
      // streamed (chunked, no Content-Length): the server counts
      const streamed = await new Promise<number>((resolve, reject) => {
        const u = new URL(at.url);
        const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: '/v1/policies/tiny-test/l:v3', headers: auth, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.write(body.subarray(0, 100));
        req.end(body.subarray(100));
      });
      expect(streamed).toBe(201);
    } finally {
      await at.close();
      await below.close();
    }
  });
});

describe('startRegistryServer', () => {
  test('listens on the port asked for, and brackets an IPv6 host in the URL', async () => {
    const free = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => ok(p));
      });
    });
    const root = join(mkdtempSync(join(tmpdir(), 'zotune-listen-')), 'store');
    const s = await startRegistryServer({ root, port: free });
    try {
      expect(s.url).toBe(`http://127.0.0.1:${free}`);
    } finally {
      await s.close();
    }
    const v6 = await startRegistryServer({ root, host: '::1', port: 0 }).catch((e: NodeJS.ErrnoException) => e);
    if (v6 instanceof Error) expect(v6.code).toMatch(/EADDRNOTAVAIL|EAFNOSUPPORT/); // no IPv6 loopback here
    else {
      expect(v6.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      await v6.close();
    }
  });

  test('a port in use rejects with the listen error', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'zotune-busy-')), 'store');
    const a = await startRegistryServer({ root, port: 0 });
    try {
      const port = Number(new URL(a.url).port);
      await expect(startRegistryServer({ root, port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await a.close();
    }
  });
});
