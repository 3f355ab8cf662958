// A stand-in for the public origins, for the tests of `pull`: an HTTP server on 127.0.0.1 that
// serves the pinned files from the local mirror under their origin URL paths, and can misbehave on
// request (corrupt bytes, drop the connection mid-body, stall). Not exported from the package.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildZip } from './zip-writer.testkit';
import { MANIFEST, isPipOrigin } from './manifest';

export type ServeMode = 'ok' | 'corrupt' | 'drop' | 'stall';

export interface OriginServer {
  baseUrl: string;
  /** how each request is answered from now on */
  mode: ServeMode;
  /** requests per URL path */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/** The SST-2.zip the origin would serve, built from the mirror's TSVs (train deflated, dev stored). */
export function buildSst2Zip(mirror: string): Buffer {
  return buildZip([
    { name: 'SST-2/train.tsv', data: readFileSync(join(mirror, 'tasks/glue/SST-2/train.tsv')), method: 8 },
    { name: 'SST-2/dev.tsv', data: readFileSync(join(mirror, 'tasks/glue/SST-2/dev.tsv')), method: 0 },
  ]);
}

/**
 * Serve every pinned file with a public origin from `mirror`, at the origin's URL path (optionally
 * under `prefix`). Archives are built once from their members.
 */
export async function startOriginServer(mirror: string, prefix = ''): Promise<OriginServer> {
  const routes = new Map<string, () => Buffer>();
  let zip: Buffer | undefined;
  for (const p of MANIFEST) {
    // files from a Python package come through pip, not HTTP: the pip tests use a stand-in pip
    if (!p.origin || isPipOrigin(p.origin)) continue;
    const path = prefix + new URL(p.origin.url).pathname;
    if (p.origin.member) routes.set(path, () => (zip ??= buildSst2Zip(mirror)));
    else routes.set(path, () => readFileSync(join(mirror, p.path)));
  }
  const state: { mode: ServeMode } = { mode: 'ok' };
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const get = routes.get(path);
    if (!get) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    let body = get();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    if (state.mode === 'corrupt') {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff; // same length, one byte flipped
      res.end(body);
    } else if (state.mode === 'drop') {
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
    } else if (state.mode === 'stall') {
      res.write(body.subarray(0, 64 * 1024)); // then nothing, with the connection held open
    } else res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}${prefix}`,
    get mode() {
      return state.mode;
    },
    set mode(m: ServeMode) {
      state.mode = m;
    },
    hits,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
