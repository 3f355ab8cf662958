// End to end: one fine-tuning run across processes (`zotune finetune --queue` + `zotune worker`) on
// the real stories260K, engine ort, 1 ORT thread per evaluation, against a real redis-server with a
// password started here on a free loopback port. The run directory of a distributed run equals the
// local run's of the same config byte for byte (trajectory records, header but createdAt, config.json,
// the best checkpoint model.safetensors, metrics and summary but their timings) for MeZO q = 2, guided M = 4, LoRA and a data-parallel run
// (3 shards per evaluation), with 1, 2 and 3 workers; also with a worker SIGKILLed mid-run, an evaluation orphaned by a vanished worker, a worker
// joining late, and the coordinator SIGKILLed and resumed. A wrong password is one line; a worker with
// another base model is refused, the reason in the coordinator's log.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openTrajectory } from '@zotune/artifacts';
import { REPO_ROOT } from '@zotune/data';
import { VOLATILE_SUMMARY_FIELDS } from '@zotune/sweep';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BIN, cli, json } from './cli.testkit';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const CI = process.env.CI === 'true';
const HAVE_REDIS = spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;
const work = mkdtempSync(join(tmpdir(), 'zotune-distributed-'));
const { start, zotune } = cli(work, DATA);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PASSWORD = 'dist-test-pw';

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

let server: ChildProcess | undefined;
let url = '';
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  server?.kill('SIGKILL');
  await sleep(200);
  rmSync(work, { recursive: true, force: true });
});

const skip = !HAVE_REDIS && !CI;
if (skip) console.warn('skipped: redis-server not on PATH (CI has it)');

/** A worker on its own queue (so a run sees exactly the workers started for it). */
function worker(queue: string, env: NodeJS.ProcessEnv = {}) {
  const w = start(['worker', '--queue', url, '--queue-name', queue, '--work', join(work, `w-${queue}-${children.length}`)], env);
  children.push(w.child);
  return w;
}
const stop = async (ws: { child: ChildProcess; done: Promise<unknown> }[]) => {
  for (const w of ws) w.child.kill('SIGTERM');
  await Promise.all(ws.map((w) => w.done));
};

const BASE = ['--model', 'stories260K', '--task', 'story-name', '--eval-n', '8', '--test-n', '8', '--eval-every', '4', '--threads', '1', '--engine', 'ort', '--seed', '5', '--lr', '1e-3'];
const CONFIGS: Record<string, string[]> = {
  mezo: [...BASE, '--estimator', 'mezo', '--queries', '2', '--steps', '8'],
  guided: [...BASE, '--estimator', 'guided', '--candidates', '4', '--steps', '6'],
  lora: [...BASE, '--estimator', 'mezo', '--queries', '2', '--steps', '6', '--peft', 'lora', '--lora-rank', '2', '--lora-alpha', '4'],
  // data-parallel: each evaluation's batch of 6 in 3 shards, a forward pass each
  shards: [...BASE, '--estimator', 'mezo', '--queries', '1', '--steps', '4', '--batch', '6', '--shards', '3'],
};

/** Trajectory frames: [u32 length][u32 crc][msgpack]; the header with createdAt masked, and the record bytes. */
function trajectory(dir: string): { header: string; records: Buffer } {
  const b = readFileSync(join(dir, 'trajectory'));
  const end = 8 + b.readUInt32LE(0);
  return { header: b.subarray(8, end).toString('latin1').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, 'TIME'), records: b.subarray(end) };
}
const TIMING = new Set(['seconds', 'stepSeconds']);
const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.stringify(JSON.parse(l), (k, v) => (TIMING.has(k) ? undefined : v)));
function summary(dir: string): Record<string, unknown> {
  const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  for (const f of [...VOLATILE_SUMMARY_FIELDS, 'engine']) delete s[f];
  return s;
}
/** The run directory equals the local one's: every byte of config, records and the best checkpoint, metrics and summary but timings. */
function expectSameRun(dir: string, ref: string, o: { resumed?: boolean } = {}): void {
  const a = trajectory(dir);
  const b = trajectory(ref);
  expect(a.header).toBe(b.header);
  expect(a.records.length).toBeGreaterThan(0);
  expect(a.records.equals(b.records), `${dir}: trajectory records differ from ${ref}`).toBe(true);
  expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(readFileSync(join(ref, 'config.json'), 'utf8'));
  // the coordinator's weights, replayed from its records where the run reads them (docs/distributed.md)
  expect(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(ref, 'model.safetensors'))), `${dir}: model.safetensors differs from ${ref}`).toBe(true);
  if (o.resumed) return;
  expect(metrics(dir)).toEqual(metrics(ref));
  expect(summary(dir)).toEqual(summary(ref));
}
const recordsIn = (dir: string) => {
  try {
    return existsSync(join(dir, 'trajectory')) ? openTrajectory(join(dir, 'trajectory')).records.length : 0;
  } catch {
    return 0;
  }
};
/** Wait for cond; past ms, fail naming what, with `logs()` (the children's stderr so far) when given. */
async function until(what: string, cond: () => boolean, ms = 300_000, logs?: () => string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}${logs ? `\n${logs()}` : ''}`);
    await sleep(100);
  }
}
type Started = { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> };
/**
 * The coordinator's result once it exits. A coordinator outliving all its workers waits for losses nobody
 * computes: after a grace period (it may be finishing its dev/test evaluations) the test fails with every
 * child's stderr instead of hanging until vitest's timeout; so does a run past `ms`.
 */
async function coordinated(c: Started, ws: Started[], ms = 600_000) {
  const t0 = Date.now();
  let gone: number | undefined;
  const exited = (p: Started) => p.child.exitCode !== null || p.child.signalCode !== null;
  while (!exited(c)) {
    if (gone === undefined && ws.every(exited)) gone = Date.now();
    const why = gone !== undefined && Date.now() - gone > 60_000 ? 'every worker exited 60 s ago' : Date.now() - t0 > ms ? `still running after ${ms / 1000} s` : undefined;
    if (why) {
      c.child.kill('SIGKILL');
      const logs = await Promise.all([c, ...ws].map((p) => p.done));
      throw new Error(`the coordinator did not finish: ${why}\n${logs.map((r, i) => `--- ${i === 0 ? 'coordinator' : `worker ${i}`} (code ${r.code}, signal ${r.signal}):\n${r.stderr}`).join('\n')}`);
    }
    await sleep(500);
  }
  return c.done;
}
/** Forward passes a worker reported computing, over its replica jobs. */
const forwardPasses = (log: string) => [...log.matchAll(/done \((\d+) forward passes\)/g)].reduce((n, m) => n + Number(m[1]), 0);

const local: Record<string, string> = {};
beforeAll(async () => {
  if (skip) return;
  const port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no', '--dir', work], { stdio: 'ignore' });
  url = `redis://:${PASSWORD}@127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), '-a', PASSWORD, '--no-auth-warning', 'ping']).stdout?.toString().trim() === 'PONG') break;
    if (i > 100) throw new Error('redis-server did not start');
    await sleep(100);
  }
  // the references: each config run locally, one process
  for (const [name, args] of Object.entries(CONFIGS)) {
    local[name] = join(work, `local-${name}`);
    json(await zotune('finetune', ...args, '--out', local[name], '--json'));
  }
}, 600_000);

describe.skipIf(skip)('zotune finetune --queue: one run across worker processes', { timeout: 900_000 }, () => {
  for (const workers of [1, 2, 3]) {
    test(`${workers} worker(s): MeZO q = 2, guided M = 4, LoRA and data-parallel runs equal the local runs byte for byte`, async () => {
      const queue = `w${workers}`;
      const ws = Array.from({ length: workers }, () => worker(queue));
      try {
        for (const [name, args] of Object.entries(CONFIGS)) {
          const dir = join(work, `${name}-${workers}`);
          const r = await zotune('finetune', ...args, '--out', dir, '--queue', url, '--queue-name', queue, '--json');
          json(r);
          expectSameRun(dir, local[name]);
          // workers joined (named in the coordinator's log); a run of a few ms a step can end before a late one joins
          const joined = new Set([...r.stderr.matchAll(/distributed: worker (\S+) joined at step/g)].map((m) => m[1])).size;
          expect(joined, r.stderr).toBeGreaterThanOrEqual(1);
          expect(joined).toBeLessThanOrEqual(workers);
        }
      } finally {
        await stop(ws);
      }
      const passes = (await Promise.all(ws.map((w) => w.done))).map((d: any) => forwardPasses(d.stderr));
      // the local runs' training passes (8·4 + 6·6 + 6·4, and 4 steps · 2 evaluations · 3 shards), shared: each computed once
      expect(passes.reduce((a, b) => a + b, 0)).toBe(8 * 4 + 6 * 6 + 6 * 4 + 4 * 2 * 3);
      // every worker computed a share of the evaluations
      if (workers > 1) expect(Math.min(...passes), passes.join(',')).toBeGreaterThan(0);
    });
  }

  test('a wrong password: one line naming the URL (password hidden), nothing written; a worker too', async () => {
    const bad = url.replace(PASSWORD, 'not-the-password');
    const out = join(work, 'wrong-pw');
    const r = await zotune('finetune', ...CONFIGS.mezo, '--out', out, '--queue', bad);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^zotune: --queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: cannot use Redis \((WRONGPASS|ERR AUTH)/);
    expect(r.stderr).not.toContain('not-the-password');
    expect(existsSync(out)).toBe(false);
    const w = await zotune('worker', '--queue', bad);
    expect(w.code).toBe(1);
    expect(w.stderr.trim().split('\n')).toHaveLength(1);
    expect(w.stderr).not.toContain('not-the-password');
  });

  test('--threads is required (each evaluation must compute the same bits on every machine)', async () => {
    const args = CONFIGS.mezo.filter((a, i, all) => a !== '--threads' && all[i - 1] !== '--threads');
    const r = await zotune('finetune', ...args, '--out', join(work, 'no-threads'), '--queue', url, '--queue-name', 'nt');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^zotune: --threads: a distributed run needs a fixed number of ORT threads/);
  });

  test('a worker with another base model under the same name is refused (reason in the coordinator\'s log); the good one finishes the run', async () => {
    // a data directory whose stories260K has one weight changed
    const bad = join(work, 'bad-data');
    mkdirSync(join(bad, 'models'), { recursive: true });
    for (const d of ['tasks', 'corpora']) symlinkSync(join(DATA, d), join(bad, d));
    cpSync(join(DATA, 'models/stories260K'), join(bad, 'models/stories260K'), { recursive: true });
    const bin = join(bad, 'models/stories260K/stories260K.bin');
    const bytes = readFileSync(bin);
    // a weight of a middle layer (the file's last bytes are not all read as weights)
    const at = (bytes.length >> 1) & ~3;
    bytes.writeFloatLE(bytes.readFloatLE(at) + 0.5, at);
    writeFileSync(bin, bytes);
    const queue = 'refuse';
    const dir = join(work, 'refused');
    const coordinator = start(['finetune', ...CONFIGS.mezo, '--out', dir, '--queue', url, '--queue-name', queue, '--json']);
    children.push(coordinator.child);
    const wBad = worker(queue, { ZOTUNE_DATA: bad });
    let log = '';
    coordinator.child.stderr!.on('data', (d) => (log += d));
    await until('the refusal in the coordinator\'s log', () => /distributed: worker \S+ refused: /.test(log));
    expect(log).toMatch(/distributed: worker \S+ refused: its base model's weights are sha256 [0-9a-f]{12}…, the run's are [0-9a-f]{12}…/);
    expect(recordsIn(dir)).toBe(0); // nothing computed by it
    const wGood = worker(queue);
    json(await coordinated(coordinator, [wBad, wGood]));
    await stop([wBad, wGood]);
    expectSameRun(dir, local.mezo);
  });

  test('an evaluation claimed by a worker that vanished is computed by another after the lease; a worker SIGKILLed mid-run; the run ends identical', async () => {
    const queue = 'kill';
    const dir = join(work, 'killed');
    const coordinator = start(['finetune', ...CONFIGS.guided, '--out', dir, '--queue', url, '--queue-name', queue, '--lease-seconds', '2', '--json']);
    children.push(coordinator.child);
    let log = '';
    coordinator.child.stderr!.on('data', (d) => (log += d));
    await until('the run id', () => /distributed: run [0-9a-f]{16}/.test(log));
    const runId = /distributed: run ([0-9a-f]{16})/.exec(log)![1];
    // a ghost: evaluation 2 (shard 0, the whole batch) of step 1 claimed by a worker that dies before storing its loss. w1 runs
    // alone until it has stored the step's other candidates and waits for the ghost's at the ranking; only then does the
    // ghost's lease run out, so w1 must find the orphan itself (with a second worker already walking, that one could
    // simply claim the lapsed unit on its way, and the orphan path would go untested on a quiet machine)
    const redis = (...args: string[]) => spawnSync('redis-cli', ['-p', new URL(url).port, '-a', PASSWORD, '--no-auth-warning', ...args]).stdout.toString().trim();
    redis('SET', `zr:${runId}:c:1:2.0`, 'ghost');
    const w1 = worker(queue);
    let w1sofar = '';
    w1.child.stderr!.on('data', (d) => (w1sofar += d));
    let w2log = '';
    const logs = () => `--- coordinator:\n${log}\n--- w1:\n${w1sofar}\n--- w2:\n${w2log}`;
    await until('the other candidates of step 1 stored', () => redis('HLEN', `zr:${runId}:l:1`) === '3', 300_000, logs);
    redis('PEXPIRE', `zr:${runId}:c:1:2.0`, '100');
    const orphan = /step 1: evaluation 2 shard 0 was claimed by a worker that stopped renewing it; replaying to it to compute it here/;
    await until('w1 finds the orphan', () => orphan.test(w1sofar), 300_000, logs);
    // then a second worker that is SIGKILLed once it has joined: whatever it had claimed lapses and is computed by w1
    const w2 = worker(queue);
    w2.child.stderr!.on('data', (d) => (w2log += d));
    await until('w2 joined', () => /joined at step \d+/.test(w2log) || recordsIn(dir) >= 6, 300_000, logs);
    w2.child.kill('SIGKILL');
    json(await coordinated(coordinator, [w1, w2]));
    await stop([w1]);
    expectSameRun(dir, local.guided);
  });

  test('a worker joining at step k replays to it with no forward pass, then takes work', async () => {
    const queue = 'join';
    const dir = join(work, 'joined');
    const w1 = worker(queue);
    const coordinator = start(['finetune', ...CONFIGS.mezo, '--out', dir, '--queue', url, '--queue-name', queue, '--json']);
    children.push(coordinator.child);
    await until('two steps recorded', () => recordsIn(dir) >= 2);
    const w2 = worker(queue);
    json(await coordinated(coordinator, [w1, w2]));
    await stop([w1, w2]);
    const late = ((await w2.done) as any).stderr as string;
    const k = Number(/joined at step (\d+)/.exec(late)?.[1]);
    expect(k, late).toBeGreaterThanOrEqual(2);
    if (k < 8) expect(late).toContain(`(steps 0–${k - 1} replayed from the stored losses, no forward pass)`);
    expect(forwardPasses(late) + forwardPasses(((await w1.done) as any).stderr)).toBe(8 * 4);
    expectSameRun(dir, local.mezo);
  });

  test('the coordinator SIGKILLed mid-run and resumed with --resume continues identically', async () => {
    const queue = 'resume';
    const dir = join(work, 'coordinator-killed');
    const ws = [worker(queue), worker(queue)];
    const c = start(['finetune', ...CONFIGS.mezo, '--out', dir, '--queue', url, '--queue-name', queue]);
    children.push(c.child);
    await until('two steps recorded', () => recordsIn(dir) >= 2);
    c.child.kill('SIGKILL');
    expect((await c.done).signal).toBe('SIGKILL');
    expect(recordsIn(dir)).toBeLessThan(8);
    json(await zotune('finetune', '--resume', dir, '--queue', url, '--queue-name', queue, '--json'));
    await stop(ws);
    expectSameRun(dir, local.mezo, { resumed: true });
  });
});

// Across an interface: Redis and the coordinator in one network namespace, the worker in another,
// joined by a veth pair, so every message crosses it (as root: ZOTUNE_TEST_NETNS=1, e.g. in CI).
const NETNS = process.env.ZOTUNE_TEST_NETNS === '1' && process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v ip']).status === 0;
if (!NETNS) console.warn('skipped: the network-namespace test (needs root, ip, redis-server and ZOTUNE_TEST_NETNS=1)');
describe.skipIf(!NETNS || skip)('across two network namespaces joined by a veth pair', { timeout: 900_000 }, () => {
  const tag = `z${process.pid % 100000}`;
  const [nsA, nsB, vA, vB] = [`${tag}a`, `${tag}b`, `${tag}va`, `${tag}vb`];
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', args);
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.toString().trim()}`);
    return r.stdout.toString();
  };
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', nsA]);
    spawnSync('ip', ['netns', 'del', nsB]);
  });

  test('the worker in one namespace, Redis and the coordinator in the other: the run equals the local one, and the bytes crossed the veth', async () => {
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('link', 'add', vA, 'type', 'veth', 'peer', 'name', vB);
    ip('link', 'set', vA, 'netns', nsA);
    ip('link', 'set', vB, 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', '10.231.7.1/24', 'dev', vA);
    ip('-n', nsB, 'addr', 'add', '10.231.7.2/24', 'dev', vB);
    for (const [ns, dev] of [[nsA, vA], [nsB, vB]]) {
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    const port = 6390;
    const redis = spawn('ip', ['netns', 'exec', nsA, 'redis-server', '--port', String(port), '--bind', '10.231.7.1', '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no', '--dir', work], { stdio: 'ignore' });
    children.push(redis);
    const nsUrl = `redis://:${PASSWORD}@10.231.7.1:${port}`;
    for (let i = 0; ; i++) {
      if (spawnSync('ip', ['netns', 'exec', nsB, 'redis-cli', '-h', '10.231.7.1', '-p', String(port), '-a', PASSWORD, '--no-auth-warning', 'ping']).stdout?.toString().trim() === 'PONG') break;
      if (i > 100) throw new Error('redis-server in the namespace did not answer across the veth');
      await sleep(100);
    }
    const txBefore = Number(ip('-n', nsB, '-s', '-j', 'link', 'show', vB).match(/"tx":\{"bytes":(\d+)/)?.[1] ?? NaN);
    const env = { ...process.env, ZOTUNE_DATA: DATA, ZOTUNE_BACKEND: process.env.ZOTUNE_BACKEND ?? 'wasm' };
    const run = (ns: string, args: string[]) => {
      const c = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      let stdout = '';
      let stderr = '';
      c.stdout!.on('data', (d) => (stdout += d));
      c.stderr!.on('data', (d) => (stderr += d));
      return { child: c, done: new Promise<{ code: number | null; stdout: string; stderr: string }>((ok) => c.on('close', (code) => ok({ code, stdout, stderr }))) };
    };
    const w = run(nsB, ['worker', '--queue', nsUrl, '--work', join(work, 'w-netns')]);
    const dir = join(work, 'netns');
    const c = await run(nsA, ['finetune', ...CONFIGS.mezo, '--out', dir, '--queue', nsUrl, '--json']).done;
    expect(c.code, c.stderr).toBe(0);
    w.child.kill('SIGTERM');
    const wr = await w.done;
    expect(forwardPasses(wr.stderr), wr.stderr).toBe(8 * 4);
    expectSameRun(dir, local.mezo);
    const txAfter = Number(ip('-n', nsB, '-s', '-j', 'link', 'show', vB).match(/"tx":\{"bytes":(\d+)/)?.[1] ?? NaN);
    // the worker's claims, partials and reads went out through its end of the veth (a few kB, not the model's MBs)
    expect(txAfter - txBefore).toBeGreaterThan(1000);
    redis.kill('SIGKILL');
  });
});
