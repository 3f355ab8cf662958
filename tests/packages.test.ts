// The libraries as packages: `npm pack` the publishable ones, install the tarballs into a new project
// outside the repository (third-party dependencies from the npm cache where it has them), and run a
// plain Node ESM program against them (tests/consumer/consumer.mjs): stories260K, three ZO steps with
// the shipped policy, a policy published to and read from a local registry, a custom estimator.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const DATA = resolve(process.env.ZOTUNE_DATA ?? join(REPO_ROOT, '../shared/data'));
/** The publishable libraries: every libs/* package that is not private. */
const LIBS = readdirSync(join(REPO_ROOT, 'libs'))
  .map((d) => ({ dir: `libs/${d}`, pkg: JSON.parse(readFileSync(join(REPO_ROOT, 'libs', d, 'package.json'), 'utf8')) }))
  .filter((l) => !l.pkg.private);
const work = mkdtempSync(join(tmpdir(), 'zotune-consumer-'));
const app = join(work, 'app');
let tarballs: { name: string; filename: string; files: { path: string }[] }[] = [];

beforeAll(() => {
  // Nx builds them first (the e2e test target depends on ^build); run directly, build them here
  if (!process.env.NX_TASK_TARGET_PROJECT)
    execFileSync('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static', '-p', ...LIBS.map((l) => l.pkg.name)], { cwd: REPO_ROOT, stdio: 'ignore' });
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', work, ...LIBS.map((l) => `--workspace=${l.dir}`)], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  tarballs = JSON.parse(packed);
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'zotune-consumer', private: true, type: 'module' }, null, 2));
  copyFileSync(join(REPO_ROOT, 'tests/consumer/consumer.mjs'), join(app, 'consumer.mjs'));
  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.map((t) => join(work, t.filename))], {
    cwd: app,
    encoding: 'utf8',
  });
  if (install.status !== 0) throw new Error(`npm install of the tarballs failed: ${install.stderr}`);
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the @zotune packages, packed and installed outside the repository', () => {
  test('each tarball holds built ESM, its types, a README and the licence; no sources, specs or testkits', () => {
    expect(tarballs.map((t) => t.name).sort()).toEqual(LIBS.map((l) => l.pkg.name).sort());
    for (const t of tarballs) {
      const files = t.files.map((f) => f.path);
      expect(files, t.name).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']));
      expect(files.filter((f) => f.startsWith('src/') || /\.(spec|testkit)\.|tsbuildinfo/.test(f)), t.name).toEqual([]);
    }
  });

  test('from plain Node ESM: stories260K, three ZO steps with the shipped policy, a policy read from a local registry', () => {
    for (const l of LIBS) expect(existsSync(join(app, 'node_modules', l.pkg.name, 'dist/index.js')), l.pkg.name).toBe(true);
    const r = spawnSync(process.execPath, ['consumer.mjs', DATA, join(REPO_ROOT, 'policies'), join(work, 'registry')], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.backend.name).toBe('wasm');
    // the registry client published the shipped artifact and read the same bytes back
    expect(out.publishedDigest).toBe(out.shippedDigest);
    expect(out.readBackDigest).toBe(out.shippedDigest);
    expect(out.refs).toEqual(['stories260K/mine:v1']);
    expect(out.steps).toHaveLength(3);
    for (const s of out.steps) {
      expect(Number.isFinite(s.lossPlus) && Number.isFinite(s.lossMinus) && Number.isFinite(s.projectedGrad)).toBe(true);
      expect(s.forwardPasses).toBe(6); // guided M = 4: M one-sided + 2 probe passes
      expect(s.sigmaBlocks).toBe(47); // the policy's σ for every block of stories260K
    }
    expect(out.weightMoved).toBe(true);
    expect(out.custom).toMatchObject({ forwardPasses: 4, candidates: 2 });
    expect(Number.isFinite(out.custom.projectedGrad)).toBe(true);
  });
});
