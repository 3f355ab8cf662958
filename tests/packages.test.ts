// The libraries as packages: `npm pack` the publishable ones (tools/prepack.mjs makes each manifest
// the installed one), install the tarballs into a new project outside the repository as the READMEs
// say (third-party dependencies from the npm cache where it has them; ONNXRUNTIME_NODE_INSTALL=skip:
// onnxruntime-node's CPU binaries are in its package, its script would download the CUDA provider),
// and run programs against them there: plain Node ESM (tests/consumer/consumer.mjs: stories260K, three
// ZO steps with the shipped policy, a policy published to and read from a local registry, a custom
// estimator; tests/consumer/run.mjs: finetune() with progress events, aborted and resumed, evaluate(),
// the run directory read back, metaTrain()), TypeScript compiled under NodeNext without skipLibCheck
// (tests/consumer/consumer.ts: evaluation, MeZO steps, a policy published and loaded;
// tests/consumer/run.ts: finetune() on the tfjs engine, aborted and resumed, evaluate(), the run
// directory), the packages with onnxruntime-node unloadable, and the defaults an installed package
// falls back on (shipped task configs, run presets and policies inside the packages, a data directory
// under the project, never node_modules/). About 3.5 minutes on 2 busy cores (load 15+), most of it
// npm pack, npm install and tsc; the programs themselves about 35 s.
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
/** The environment of a user who has not set zotune's engine or backend variables. */
const { ZOTUNE_ENGINE: _engine, ZOTUNE_BACKEND: _backend, ...userEnv } = process.env;
let tarballs: { name: string; filename: string; files: { path: string }[] }[] = [];
/** tsc over the two TypeScript consumers (beforeAll) */
let tsc: { status: number | null; out: string };
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
  for (const f of ['consumer.mjs', 'consumer.ts', 'run.mjs', 'run.ts']) copyFileSync(join(REPO_ROOT, 'tests/consumer', f), join(app, f));
  // what a TypeScript user on Node sets: NodeNext, strict, declarations of every package checked
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, outDir: 'out' }, files: ['consumer.ts', 'run.ts'] }, null, 2),
  );
  // @types/node: the consumer's own dev dependency (Node's typings for process, Buffer, …)
  // ONNXRUNTIME_NODE_INSTALL=skip, as the READMEs say: the CPU binaries are in onnxruntime-node's package
  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', '@types/node@20', ...tarballs.map((t) => join(work, t.filename))], {
    cwd: app,
    encoding: 'utf8',
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  if (install.status !== 0) throw new Error(`npm install of the tarballs failed: ${install.stderr}`);
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
  tsc = { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
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
    expect(files('@zotune/finetune')).toEqual(expect.arrayContaining(['configs/runs/demo.json', 'configs/runs/mezo-stories260K.json']));
    // the ONNX Runtime binding is a dependency of the package that loads it; its loader is a chunk of its own
    expect(Object.keys(packedManifest(tarballs.find((t) => t.name === '@zotune/ort')!.filename).dependencies)).toContain('onnxruntime-node');
    expect(files('@zotune/ort').filter((f) => /^dist\/model-[A-Z0-9]{8}\.js$/.test(f))).toHaveLength(1);
    // postpack restored every manifest and removed the copies
    for (const l of LIBS) {
      expect(readFileSync(join(REPO_ROOT, l.dir, 'package.json'), 'utf8'), l.dir).toBe(manifests.get(l.dir));
      expect(existsSync(join(REPO_ROOT, l.dir, '.package.json.prepack')), l.dir).toBe(false);
    }
    expect(existsSync(join(REPO_ROOT, 'libs/tasks/configs'))).toBe(false);
    expect(existsSync(join(REPO_ROOT, 'libs/registry/policies'))).toBe(false);
    expect(existsSync(join(REPO_ROOT, 'libs/finetune/configs'))).toBe(false);
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
    expect(tsc.out).toBe('');
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

  test('the runs as a library, from plain Node ESM: finetune() with progress events, stopped by an AbortSignal and resumed to the same weights, evaluate(), the run directory, metaTrain()', () => {
    const r = spawnSync(process.execPath, ['run.mjs', DATA], { cwd: app, encoding: 'utf8', env: userEnv });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    // the default engine of a ZO run, as the CLI's: ONNX Runtime, from the installed onnxruntime-node
    expect(out.whole).toMatchObject({ steps: 4, forwardPasses: 8, engine: 'ort', runDir: join(realpathSync(app), 'runs/whole') });
    // every metrics line reached onProgress, in the order the file holds them
    const order = ['zeroshot:0', 'eval:0', 'step:1', 'step:2', 'eval:2', 'step:3', 'step:4', 'eval:4', 'test:4'];
    expect(out.events.map((e: { event: string; step: number }) => `${e.event}:${e.step}`)).toEqual(order);
    expect(out.events.every((e: { steps: number }) => e.steps === 4)).toBe(true);
    expect(out.read.metrics.map((e: { event: string; step: number }) => `${e.event}:${e.step}`)).toEqual(order);
    expect(out.read.config).toEqual({ task: 'sst2', steps: 4, engine: 'auto' });
    expect(out.read.summarySame).toBe(true);
    // aborted after step 2, one line naming how to resume; resumed, the weights of the uninterrupted run
    expect(out.aborted).toMatchObject({ name: 'AbortError', step: 2, steps: 4 });
    expect(out.aborted.message).toMatch(/^finetune: aborted after step 2 of 4; \S+runs\/stopped resumes \(resumeFinetune\(dir\)/);
    expect(out.resumed).toEqual({ resumedAt: 2, steps: 4, testAcc: out.whole.testAcc });
    expect(out.finalWeights.resumed).toBe(out.finalWeights.whole);
    // the best checkpoint evaluated again on the same 48 test examples
    expect(out.evaluated).toEqual({ accuracy: out.whole.testAcc, n: 48, task: 'SST-2' });
    // three meta steps; the digest returned is the file's
    expect(out.meta.steps).toBe(3);
    expect(out.meta.digest).toBe(out.meta.fileDigest);
    expect(out.meta.artifact).toBe(join(realpathSync(app), 'runs/meta/policy.zpol'));
  });

  test('the run as a library, from TypeScript under NodeNext: finetune() on the tfjs engine, aborted from onProgress and resumed, evaluate() on test and dev, the run directory', () => {
    expect(tsc.out).toBe('');
    const r = spawnSync(process.execPath, ['out/run.js', DATA], { cwd: app, encoding: 'utf8', env: userEnv });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out).toMatchObject({ abortedAt: 2, resumedAt: 2, engine: 'tfjs', backend: 'wasm' });
    // both sessions' events: the first stopped after step 2 (its dev evaluation included), the second went on from step 3
    const order = ['zeroshot:0', 'eval:0', 'step:1', 'step:2', 'eval:2', 'step:3', 'step:4', 'eval:4', 'test:4'];
    expect(out.seen.map((e: { event: string; step: number }) => `${e.event}:${e.step}`)).toEqual(order);
    expect(out.metrics.map((e: { event: string; step: number }) => `${e.event}:${e.step}`)).toEqual(order);
    expect(out.evaluated).toEqual({ test: out.testAcc, dev: out.bestDevAcc, n: 48 });
    expect(out.onDisk).toEqual({ steps: 4, testAcc: out.testAcc, resumedAt: 2 });
  });

  test('with onnxruntime-node unloadable, the packages still import: engine auto falls back to tfjs, engine ort says so in one line', () => {
    // a resolve hook that makes `onnxruntime-node` a missing package (a platform without its binaries fails the same way, later)
    const hook = `export async function resolve(s, c, next) { if (s === 'onnxruntime-node') throw Object.assign(new Error("Cannot find package 'onnxruntime-node'"), { code: 'ERR_MODULE_NOT_FOUND' }); return next(s, c); }`;
    writeFileSync(join(app, 'no-ort.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});\n`);
    const script = [
      "import { finetune } from '@zotune/finetune';",
      "import { chooseEngine } from '@zotune/engine';",
      "import { loadOrt } from '@zotune/ort';",
      "const auto = await chooseEngine('auto', 'forward');",
      'const ort = await chooseEngine(\'ort\', \'forward\').then(() => null, (e) => e.message);',
      'const load = await loadOrt().then(() => null, (e) => e.code);',
      'console.log(JSON.stringify({ finetune: typeof finetune, auto, ort, load }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', './no-ort.mjs', '--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.finetune).toBe('function');
    expect(out.auto).toEqual({ name: 'tfjs', reason: 'auto: onnxruntime-node is not installed; fell back to tfjs' });
    expect(out.ort).toBe('--engine ort: onnxruntime-node is not installed; use --engine tfjs');
    expect(out.load).toBe('ERR_MODULE_NOT_FOUND');
  });

  test("an installed package's defaults: the shipped task configs, run presets and policies come from inside the packages, the data directory from the project", () => {
    const script = [
      "import { locateDataDir, derivedRoot } from '@zotune/data';",
      "import { TASK_CONFIG_DIR, resolveTask, shippedTaskNames } from '@zotune/tasks';",
      "import { defaultRegistryLocation, loadPolicy } from '@zotune/registry';",
      "import { RUN_PRESET_DIR, loadPreset } from '@zotune/finetune';",
      "const task = resolveTask('story-name');",
      "const policy = await loadPolicy('stories260K/default:latest');",
      'console.log(JSON.stringify({ data: locateDataDir({}), cache: derivedRoot({}), tasks: TASK_CONFIG_DIR, names: shippedTaskNames(), task: task.name, registry: defaultRegistryLocation(), policy: policy.digest, presets: RUN_PRESET_DIR, demo: loadPreset("demo").task }));',
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
    expect(real(out.presets)).toBe(real(join(app, 'node_modules/@zotune/finetune/configs/runs')));
    expect(out.demo).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'configs/runs/demo.json'), 'utf8')).task);
  });
});
