// The libraries as packages: `npm pack` the publishable ones (tools/prepack.mjs makes each manifest
// the installed one), install the tarballs into a new project outside the repository (third-party
// dependencies from the npm cache where it has them), and run programs against them there: plain Node
// ESM (tests/consumer/consumer.mjs: stories260K, three ZO steps with the shipped policy, a policy
// published to and read from a local registry, a custom estimator), TypeScript compiled under NodeNext
// without skipLibCheck (tests/consumer/consumer.ts: evaluation, MeZO steps, a policy published and
// loaded), and the defaults an installed package falls back on (shipped task configs and policies
// inside the packages, a data directory under the project, never node_modules/).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
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
/** each library's package.json before packing: prepack rewrites it, postpack must put it back */
const manifests = new Map(LIBS.map((l) => [l.dir, readFileSync(join(REPO_ROOT, l.dir, 'package.json'), 'utf8')]));
/** The package.json inside a tarball. */
const packedManifest = (filename: string) => JSON.parse(execFileSync('tar', ['-xzOf', join(work, filename), 'package/package.json'], { encoding: 'utf8' }));

beforeAll(() => {
  // Nx builds them first (the e2e test target depends on ^build); run directly, build them here
  if (!process.env.NX_TASK_TARGET_PROJECT)
    execFileSync('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static', '-p', ...LIBS.map((l) => l.pkg.name)], { cwd: REPO_ROOT, stdio: 'ignore' });
  // what the lib READMEs tell a user to run until the packages are published
  const packed = execFileSync(process.execPath, [join(REPO_ROOT, 'tools/pack-libs.mjs'), work], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  tarballs = JSON.parse(packed);
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'zotune-consumer', private: true, type: 'module' }, null, 2));
  copyFileSync(join(REPO_ROOT, 'tests/consumer/consumer.mjs'), join(app, 'consumer.mjs'));
  copyFileSync(join(REPO_ROOT, 'tests/consumer/consumer.ts'), join(app, 'consumer.ts'));
  // what a TypeScript user on Node sets: NodeNext, strict, declarations of every package checked
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, outDir: 'out' }, files: ['consumer.ts'] }, null, 2),
  );
  // @types/node: the consumer's own dev dependency (Node's typings for process, Buffer, …)
  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', '@types/node@20', ...tarballs.map((t) => join(work, t.filename))], {
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

  test('packed manifests are the installed ones: @zotune dependencies pinned, no source condition, scripts or Nx settings; the workspace is left as it was', () => {
    const versions = new Map(LIBS.map((l) => [l.pkg.name, l.pkg.version]));
    for (const t of tarballs) {
      const m = packedManifest(t.filename);
      for (const [dep, range] of Object.entries<string>(m.dependencies ?? {})) if (dep.startsWith('@zotune/')) expect(range, `${t.name} → ${dep}`).toBe(versions.get(dep));
      expect(JSON.stringify(m.exports), t.name).not.toContain('@zotune/source');
      expect(m.scripts, t.name).toBeUndefined();
      expect(m.nx, t.name).toBeUndefined();
    }
    // the data files each package owns travel inside it
    const files = (name: string) => tarballs.find((t) => t.name === name)!.files.map((f) => f.path);
    expect(files('@zotune/tasks')).toEqual(expect.arrayContaining(['configs/tasks/story-name.json', 'configs/tasks/story-cloze.json']));
    expect(files('@zotune/registry')).toEqual(expect.arrayContaining(['policies/index.json', 'policies/blobs/sha256/336b661887d614f72acec423845b53c8c64db967085a982d6d497d36d3bcdd1e']));
    // postpack restored every manifest and removed the copies
    for (const l of LIBS) {
      expect(readFileSync(join(REPO_ROOT, l.dir, 'package.json'), 'utf8'), l.dir).toBe(manifests.get(l.dir));
      expect(existsSync(join(REPO_ROOT, l.dir, '.package.json.prepack')), l.dir).toBe(false);
    }
    expect(existsSync(join(REPO_ROOT, 'libs/tasks/configs'))).toBe(false);
    expect(existsSync(join(REPO_ROOT, 'libs/registry/policies'))).toBe(false);
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

  test('from TypeScript under NodeNext (no skipLibCheck): compiled with tsc, it evaluates, runs MeZO steps, publishes and loads a policy', () => {
    const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
    expect(`${tsc.stdout}${tsc.stderr}`.trim()).toBe('');
    expect(tsc.status).toBe(0);
    const r = spawnSync(process.execPath, ['out/consumer.js', DATA, join(app, 'node_modules/@zotune/registry/policies'), join(work, 'registry-ts')], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.backend).toBe('wasm');
    expect(out.evaluated).toBe(16);
    expect(out.accuracy).toBeGreaterThanOrEqual(0);
    expect(out.accuracy).toBeLessThanOrEqual(1);
    expect(out.digest).toBe(out.shippedDigest);
    expect(out.steps).toHaveLength(3);
    for (const st of out.steps) {
      expect(Number.isFinite(st.lossPlus) && Number.isFinite(st.lossMinus)).toBe(true);
      expect(st.forwardPasses).toBe(2);
    }
  });

  test("an installed package's defaults: the shipped task configs and policies come from inside the packages, the data directory from the project", () => {
    const script = [
      "import { locateDataDir, derivedRoot } from '@zotune/data';",
      "import { TASK_CONFIG_DIR, resolveTask, shippedTaskNames } from '@zotune/tasks';",
      "import { defaultRegistryLocation, loadPolicy } from '@zotune/registry';",
      "const task = resolveTask('story-name');",
      "const policy = await loadPolicy('stories260K/default:latest');",
      'console.log(JSON.stringify({ data: locateDataDir({}), cache: derivedRoot({}), tasks: TASK_CONFIG_DIR, names: shippedTaskNames(), task: task.name, registry: defaultRegistryLocation(), policy: policy.digest }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8', env: { ...process.env, ZOTUNE_DATA: '', ZOTUNE_REGISTRY: '', ZOTUNE_CACHE: '' } });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    const real = (p: string) => realpathSync(p);
    expect(out.data).toEqual({ dir: join(real(app), 'data'), source: 'none' });
    expect(out.cache).toBe(join(real(app), '.cache', 'derived'));
    expect(real(out.tasks)).toBe(real(join(app, 'node_modules/@zotune/tasks/configs/tasks')));
    expect(out.names).toEqual(expect.arrayContaining(['story-cloze', 'story-name']));
    expect(out.task).toBe('story-name');
    expect(real(out.registry)).toBe(real(join(app, 'node_modules/@zotune/registry/policies')));
    expect(out.policy).toBe('sha256:336b661887d614f72acec423845b53c8c64db967085a982d6d497d36d3bcdd1e');
  });
});
