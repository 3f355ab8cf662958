// Eight processes publish into one store at the same moment: distinct tags, two contested tags
// with different content (no force) and one tag with identical content.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePolicyArtifact, examplePolicyArtifact } from '@zotune/artifacts';
import { sha256Hex } from '@zotune/io';
import { expect, test } from 'vitest';
import { LocalStore } from './local-store';
import { readIndex } from './store-index';

const here = dirname(fileURLToPath(import.meta.url));
const WRITERS = 8;
const UNIQUE = 3;

interface Outcome {
  ref: string;
  status?: string;
  digest?: string;
  error?: string;
  kind?: string;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

test('8 concurrent writers leave a consistent store', async () => {
  const work = mkdtempSync(join(tmpdir(), 'zotune-concurrent-'));
  const root = join(work, 'store');
  const go = join(work, 'go');
  let seed = 100;
  const file = (bytes: Uint8Array) => {
    const p = join(work, `${sha256Hex(bytes)}.zpol`);
    writeFileSync(p, bytes);
    return p;
  };
  const same = file(encodePolicyArtifact(examplePolicyArtifact({ seed: 7 })));
  const expected = new Map<string, string>();
  const children = Array.from({ length: WRITERS }, (_, w) => {
    const mine = (ref: string) => {
      const bytes = encodePolicyArtifact(examplePolicyArtifact({ seed: seed++ }));
      expected.set(ref, `sha256:${sha256Hex(bytes)}`);
      return file(bytes);
    };
    const contested = (tag: string) => file(encodePolicyArtifact(examplePolicyArtifact({ seed: seed++, tasks: [`w${w}`, tag] })));
    const jobs = [
      { ref: 'tiny-test/shared:a', file: contested('a') },
      { ref: `tiny-test/w${w}:v0`, file: mine(`tiny-test/w${w}:v0`) },
      { ref: 'tiny-test/same:v1', file: same },
      ...Array.from({ length: UNIQUE - 1 }, (_, k) => ({ ref: `tiny-test/w${w}:v${k + 1}`, file: mine(`tiny-test/w${w}:v${k + 1}`) })),
      { ref: 'tiny-test/shared:b', file: contested('b') },
    ];
    // half the writers take the contested tags in the other order
    if (w % 2) jobs.reverse();
    writeFileSync(join(work, `jobs-${w}.json`), JSON.stringify(jobs));
    const child = spawn(process.execPath, ['--conditions=@zotune/source', '--import', 'tsx', join(here, 'testing/concurrent-publisher.ts'), root, join(work, `jobs-${w}.json`), join(work, `ready-${w}`), go], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    return new Promise<Outcome[]>((resolve, reject) =>
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Outcome[]) : reject(new Error(`writer ${w} exited ${code}: ${err}`)))),
    );
  });
  // release all writers together once every one has started
  const t0 = Date.now();
  while (Array.from({ length: WRITERS }, (_, w) => existsSync(join(work, `ready-${w}`))).some((r) => !r)) {
    if (Date.now() - t0 > 60_000) throw new Error('writers did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  writeFileSync(go, '');
  const outcomes = (await Promise.all(children)).flat();

  const store = new LocalStore(root);
  const index = readIndex(root)!;
  for (const tag of ['tiny-test/shared:a', 'tiny-test/shared:b']) {
    const tries = outcomes.filter((o) => o.ref === tag);
    const winners = tries.filter((o) => o.status === 'created');
    expect(winners, tag).toHaveLength(1);
    expect(tries.filter((o) => o.kind !== 'conflict' && o.status !== 'created'), tag).toEqual([]);
    expect(tries.filter((o) => o.kind === 'conflict')).toHaveLength(WRITERS - 1);
    expect(index.refs[tag]!.digest).toBe(winners[0]!.digest);
  }
  const sameTries = outcomes.filter((o) => o.ref === 'tiny-test/same:v1');
  expect(sameTries.filter((o) => o.status === 'created')).toHaveLength(1);
  expect(sameTries.filter((o) => o.status === 'unchanged')).toHaveLength(WRITERS - 1);
  for (const [ref, digest] of expected) expect(index.refs[ref]?.digest, ref).toBe(digest);
  expect(Object.keys(index.refs)).toHaveLength(WRITERS * UNIQUE + 3);

  const report = await store.verify();
  expect(report).toMatchObject({ ok: true, problems: [], refs: WRITERS * UNIQUE + 3, orphans: 0, blobs: WRITERS * UNIQUE + 3 });
  // nothing but the index and the blobs: no temp files, no lock left behind
  const files = walk(root).map((p) => relative(root, p));
  expect(files.filter((f) => f !== 'index.json' && !/^blobs\/sha256\/[0-9a-f]{64}$/.test(f))).toEqual([]);
  for (const f of files.filter((f) => f.startsWith('blobs/'))) expect(sha256Hex(readFileSync(join(root, f)))).toBe(f.split('/').pop());
});
