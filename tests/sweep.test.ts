// End to end: `zotune sweep` on the real stories260K with short runs — locally (2 processes), killed
// and rerun (resumes), and through a real Redis with 2 `zotune worker` processes, one of them
// SIGKILLed mid-run: every way gives the same summaries and trajectories. Also: one-line errors
// for a bad spec, an unreachable Redis and a wrong password (nothing written), `sweep status`,
// idempotent resubmission, replay of a collected run, and the report page in headless Chromium.
// Redis and Chromium come from .ci/run (ZOTUNE_TEST_REDIS_URL, ZOTUNE_TEST_CHROMIUM); outside CI
// the tests that need them are skipped with the reason printed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@zotune/data';
import { VOLATILE_SUMMARY_FIELDS } from '@zotune/sweep';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, lastJson } from './cli.testkit';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const REDIS = process.env.ZOTUNE_TEST_REDIS_URL;
const CHROMIUM = process.env.ZOTUNE_TEST_CHROMIUM ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
const CI = process.env.CI === 'true';
const work = mkdtempSync(join(tmpdir(), 'zotune-sweep-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const TLS_TOOLS = have('redis-server') && have('openssl');

/**
 * Whether to skip a test that needs a service: outside CI, when the service is missing (test.skipIf
 * reports it as skipped, with the reason printed); never in CI, where need() then fails the test.
 */
function skipWithout(what: string, available: unknown): boolean {
  if (available || CI) return false;
  console.warn(`skipped: ${what} not available (run under .ci/run, or set it)`);
  return true;
}
/** In CI a service the test needs must be there. */
function need(what: string, available: unknown): void {
  if (!available) throw new Error(`${what} is required in CI (set by .ci/run)`);
}

const { start, zotune } = cli(work, DATA);
const json = lastJson;
/** A run part-way through its steps: a trajectory with at least one record after the header, no summary. */
function midRun(runDir: string): boolean {
  const f = join(runDir, 'trajectory');
  if (!existsSync(f) || existsSync(join(runDir, 'summary.json'))) return false;
  const b = readFileSync(f);
  return b.length > 8 && b.length > 8 + b.readUInt32LE(0);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// 8 short runs: 2 tasks × 2 methods (with and without the shipped policy) × 2 seeds
const SPEC = {
  description: 'test sweep',
  grid: { task: ['sst2', 'copa'], method: ['mezo', 'mezo+policy'], seed: [0, 1], forwardPasses: [30] },
  methods: { mezo: { estimator: 'mezo' }, 'mezo+policy': { estimator: 'mezo', policy: 'stories260K' } },
  options: { evalN: 8, testN: 8, evalEvery: 5 },
  compare: { pairs: [{ baseline: 'mezo', treatment: 'mezo+policy' }], controls: [{ baseline: 'mezo', treatment: 'mezo+policy', control: 'mezo', label: 'control (test)' }] },
};
const specFile = join(work, 'spec.json');
const local = join(work, 'local');
const keys = () => readdirSync(join(local, 'results')).map((f) => f.replace(/\.json$/, '')).sort();

/** The summary without what depends on the machine and the moment. */
function stableSummary(dir: string, key: string): Record<string, unknown> {
  const s = JSON.parse(readFileSync(join(dir, 'results', `${key}.json`), 'utf8')).summary;
  for (const f of VOLATILE_SUMMARY_FIELDS) delete s[f];
  return s;
}
/** Trajectory frames: [u32 length][u32 crc][msgpack]. The header holds createdAt; every record byte must match. */
function records(dir: string, key: string): { header: string; records: Buffer } {
  const b = readFileSync(join(dir, 'runs', key, 'trajectory'));
  const headerEnd = 8 + b.readUInt32LE(0);
  const header = b.subarray(8, headerEnd).toString('latin1').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, 'TIME');
  return { header, records: b.subarray(headerEnd) };
}
/** Every run of DIR equals the local sweep's run with the same key (and DIR has `expected` runs). */
function expectSameRuns(dir: string, expected = 8): void {
  const got = readdirSync(join(dir, 'results')).map((f) => f.replace(/\.json$/, '')).sort();
  expect(got).toHaveLength(expected);
  for (const k of got) {
    expect(stableSummary(dir, k), k).toEqual(stableSummary(local, k));
    const a = records(dir, k);
    const b = records(local, k);
    expect(a.header, k).toBe(b.header);
    expect(a.records.equals(b.records), `${k}: trajectory records differ`).toBe(true);
    expect(a.records.length).toBeGreaterThan(0);
  }
}

beforeAll(async () => {
  writeFileSync(specFile, JSON.stringify(SPEC));
  const r = json(await zotune('sweep', specFile, '--out', local, '--workers', '2', '--json'));
  expect(r).toMatchObject({ runs: 8, done: 8, failed: 0, skipped: 0, workers: 2 });
}, 600_000);

describe('zotune sweep (local pool)', { timeout: 900_000 }, () => {
  test('runs every run once, with a stable key; a rerun skips them all', async () => {
    expect(keys()).toHaveLength(8);
    expect(keys().filter((k) => k.startsWith('copa-mezo-policy-s1-'))).toHaveLength(1);
    for (const k of keys()) expect(JSON.parse(readFileSync(join(local, 'runs', k, 'config.json'), 'utf8')).steps).toBe(15);
    const r = await zotune('sweep', specFile, '--out', local, '--json');
    expect(json(r)).toMatchObject({ runs: 8, done: 8, skipped: 8, failed: 0 });
    expect(r.stderr).toContain('8/8 done (8 before)');
  });

  test('killed with SIGKILL mid-run, then rerun: resumes, and ends identical to the uninterrupted sweep', async () => {
    // the seed-0 half of the sweep: the same runs under the same keys (a key is its config's hash)
    const half = join(work, 'half.json');
    writeFileSync(half, JSON.stringify({ ...SPEC, grid: { ...SPEC.grid, seed: [0] } }));
    const dir = join(work, 'killed');
    const s = start(['sweep', half, '--out', dir, '--workers', '2']);
    // kill once a run is part-way through its steps (a trajectory with some records, no summary)
    await until('a run in progress', () => {
      const runs = join(dir, 'runs');
      return existsSync(runs) && readdirSync(runs).some((k) => midRun(join(runs, k)));
    });
    s.child.kill('SIGKILL');
    await s.done;
    const before = existsSync(join(dir, 'results')) ? readdirSync(join(dir, 'results')).length : 0;
    expect(before).toBeLessThan(4);
    // the finetune children died with it (parent-death signal): nothing is still writing there
    await sleep(500);
    const orphans = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
        } catch {
          return false;
        }
      });
    expect(orphans).toEqual([]);
    const r = json(await zotune('sweep', half, '--out', dir, '--workers', '2', '--json'));
    expect(r).toMatchObject({ runs: 4, done: 4, failed: 0, skipped: before });
    const resumed = readdirSync(join(dir, 'results')).filter((f) => JSON.parse(readFileSync(join(dir, 'results', f), 'utf8')).summary.resumedAt !== null);
    expect(resumed.length).toBeGreaterThan(0);
    expectSameRuns(dir, 4);
  }, 900_000);

  test('an invalid spec: one line naming the field, nothing written', async () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...SPEC, grid: { ...SPEC.grid, seed: [0, -1] } }));
    const r = await zotune('sweep', bad, '--out', join(work, 'bad-out'));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^zotune: ${bad}: grid\\.seed\\.1: `));
    expect(existsSync(join(work, 'bad-out'))).toBe(false);
  });

  test('sweep report: the tables and plots as HTML and Markdown', async () => {
    const r = json(await zotune('sweep', 'report', local, '--json'));
    expect(r.runs).toBe(8);
    expect(r.tables).toEqual(['loss', 'test-acc', 'dev-acc', 'dev-loss', 'settings', 'pair-0', 'control-0']);
    expect(r.plots).toEqual(['loss-0', 'dev-0', 'loss-1', 'dev-1', 'test-acc']);
    expect(r.markdown).toContain('| setting | mezo | mezo+policy |');
    expect(r.markdown).toMatch(/\| all \| 4 \| \d\/4 \|/);
    // the control is the baseline itself here: the treatment vs control counts equal the pair's
    expect(readFileSync(join(local, 'report.md'), 'utf8')).toBe(r.markdown);
  });

  test.skipIf(skipWithout('Chromium (ZOTUNE_TEST_CHROMIUM)', CHROMIUM))('the report page in headless Chromium: no console error, every table and plot shown', async () => {
    need('Chromium (ZOTUNE_TEST_CHROMIUM)', CHROMIUM);
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(work, 'chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
      await page.goto(`file://${join(local, 'report.html')}`, { waitUntil: 'load' });
      expect(problems).toEqual([]);
      for (const id of ['loss', 'test-acc', 'dev-acc', 'dev-loss', 'settings', 'pair-0', 'control-0']) {
        const t = page.locator(`#table-${id}`);
        await expect(t.isVisible()).resolves.toBe(true);
        expect(await t.locator('tr').count()).toBeGreaterThan(1);
      }
      for (const id of ['loss-0', 'dev-0', 'loss-1', 'dev-1', 'test-acc']) {
        const svg = page.locator(`#plot-${id} svg`);
        await expect(svg.isVisible()).resolves.toBe(true);
        const box = await svg.boundingBox();
        expect(box!.width).toBeGreaterThan(300);
        // something is drawn: a line with points for the curves, dots for the accuracy chart
        const drawn = id === 'test-acc' ? await svg.locator('g.point circle').count() : await svg.locator('path.series[d^="M"]').count();
        expect(drawn, id).toBeGreaterThanOrEqual(2);
      }
    } finally {
      await browser.close();
    }
  });
});

describe('zotune sweep --queue (BullMQ on Redis)', { timeout: 900_000 }, () => {
  const queueName = `zotune-test-${process.pid}-${Date.now()}`;
  const wrongPassword = (url: string) => {
    const u = new URL(url);
    u.password = 'not-the-password';
    return u.toString();
  };

  test('unreachable Redis or a wrong password: one line, nothing written', { timeout: 300_000 }, async () => {
    const urls = ['redis://127.0.0.1:1', ...(REDIS ? [wrongPassword(REDIS)] : [])];
    for (const url of urls) {
      const out = join(work, 'unreachable');
      const r = await zotune('sweep', specFile, '--out', out, '--queue', url, '--queue-name', queueName);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^zotune: --queue redis:\/\/.*: cannot use Redis \((connect ECONNREFUSED|WRONGPASS|ERR AUTH)/);
      expect(r.stderr).not.toContain('not-the-password');
      expect(existsSync(out)).toBe(false);
    }
    // a worker refuses the same way (one process: each start of the bin is seconds on a busy machine)
    const w = await zotune('worker', '--queue', urls.at(-1)!);
    expect(w.code).toBe(1);
    expect(w.stderr.trim().split('\n')).toHaveLength(1);
    if (REDIS && !new URL(REDIS).password) throw new Error('ZOTUNE_TEST_REDIS_URL must carry a password (requirepass)');
  });

  test.skipIf(skipWithout('Redis (ZOTUNE_TEST_REDIS_URL)', REDIS))('2 workers, one SIGKILLed mid-run: the sweep completes, no run lost or duplicated, identical to the local sweep', async () => {
    need('Redis (ZOTUNE_TEST_REDIS_URL)', REDIS);
    const url = REDIS!;
    const out = join(work, 'queue');
    const w = (n: string) => start(['worker', '--queue', url, '--queue-name', queueName, '--work', join(work, n), '--lock-seconds', '3']);
    const submitter = start(['sweep', specFile, '--out', out, '--queue', url, '--queue-name', queueName, '--json']);
    const w1 = w('w1');
    const w2 = w('w2');
    try {
      // kill worker 1 while its fine-tune is part-way through
      await until('worker 1 mid-run', () => {
        const runs = join(work, 'w1', 'runs');
        return existsSync(runs) && readdirSync(runs).some((k) => midRun(join(runs, k)));
      });
      const killedKey = readdirSync(join(work, 'w1', 'runs')).find((k) => midRun(join(work, 'w1', 'runs', k)))!;
      w1.child.kill('SIGKILL');
      const r = json(await submitter.done);
      expect(r).toMatchObject({ mode: 'queue', runs: 8, done: 8, failed: 0 });
      expect(existsSync(join(out, 'results', `${killedKey}.json`))).toBe(true);
      expectSameRuns(out);
      // collected runs replay to the same weights as the local ones
      const a = json(await zotune('replay', join(out, 'runs', killedKey), '--out', join(work, 'a.safetensors'), '--json'));
      json(await zotune('replay', join(local, 'runs', killedKey), '--out', join(work, 'b.safetensors'), '--json'));
      expect(a.steps).toBe(15);
      expect(readFileSync(join(work, 'a.safetensors')).equals(readFileSync(join(work, 'b.safetensors')))).toBe(true);
    } finally {
      w1.child.kill('SIGKILL');
      w2.child.kill('SIGTERM');
      await Promise.all([w1.done, w2.done]);
    }
    // status from the queue and from the directory
    const st = json(await zotune('sweep', 'status', '--out', out, '--queue', url, '--queue-name', queueName, '--json'));
    expect(st.counts).toEqual({ done: 8 });
    // submitting the same spec again (no worker running): every job exists and is complete, so it runs nothing and collects them all
    const again = join(work, 'queue-again');
    const r2 = json(await zotune('sweep', specFile, '--out', again, '--queue', url, '--queue-name', queueName, '--json'));
    expect(r2).toMatchObject({ done: 8, failed: 0 });
    expectSameRuns(again);
    for (const k of keys())
      expect(JSON.parse(readFileSync(join(again, 'results', `${k}.json`), 'utf8')).worker).toBe(JSON.parse(readFileSync(join(out, 'results', `${k}.json`), 'utf8')).worker);
  }, 900_000);

  test.skipIf(skipWithout('redis-server and openssl on PATH', TLS_TOOLS))('rediss:// (TLS) with a password: accepted when the certificate is trusted, one line when not', async () => {
    need('redis-server and openssl on PATH', TLS_TOOLS);
    const dir = mkdtempSync(join(work, 'tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await new Promise<number>((ok) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => ok(p));
      });
    });
    const server = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem'), '--tls-auth-clients', 'no', '--requirepass', 'tls-pw', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    let listening = false;
    const probe = setInterval(() => {
      const c = connect(port, '127.0.0.1', () => {
        listening = true;
        c.destroy();
      }).on('error', () => c.destroy());
    }, 100);
    try {
      await until('the TLS redis-server listening', () => listening, 30_000);
      clearInterval(probe);
      const url = `rediss://:tls-pw@localhost:${port}`;
      const ok = await start(['sweep', 'status', '--out', local, '--queue', url, '--json'], { NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') }).done;
      expect(json(ok).counts).toEqual({ done: 8 });
      const untrusted = await zotune('sweep', 'status', '--out', local, '--queue', url);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toBe(`zotune: --queue rediss://:***@localhost:${port}: cannot use Redis (self-signed certificate)\n`);
    } finally {
      clearInterval(probe);
      server.kill('SIGTERM');
    }
  });
});
