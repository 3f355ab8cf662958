// scripts/python/venv.sh: the fast path of a ready venv, and its one-line errors when python3 or the
// package registry is missing (the full install, ~5.6 GB, is what make-smollm2-ref.sh runs for real).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const HERE = resolve(import.meta.dirname, 'python');
const SCRIPT = join(HERE, 'venv.sh');
const SUM = createHash('sha256').update(readFileSync(join(HERE, 'requirements.txt'))).digest('hex');
const work = mkdtempSync(join(tmpdir(), 'zotune-venv-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(env: NodeJS.ProcessEnv, args: string[] = []) {
  const r = spawnSync('/bin/bash', [SCRIPT, ...args], { env: { HOME: work, ...env }, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: r.stderr.trim().split('\n').at(-1) ?? '' };
}

/** A venv that looks complete: a python and the stamp naming these requirements. */
function readyVenv(venv: string): string {
  mkdirSync(join(venv, 'bin'), { recursive: true });
  writeFileSync(join(venv, 'bin/python'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(venv, 'bin/python'), 0o755);
  writeFileSync(join(venv, '.zotune-venv-ok'), `${SUM}\n`);
  return venv;
}

/** A PATH with coreutils (and flock) but no python3. */
function pathWithoutPython(): string {
  const bin = join(work, 'bin-no-python');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['sha256sum', 'cut', 'mkdir', 'cat', 'mv', 'rm', 'flock'])
    for (const dir of ['/usr/bin', '/bin'])
      if (existsSync(join(dir, tool)) && !existsSync(join(bin, tool))) symlinkSync(join(dir, tool), join(bin, tool));
  return bin;
}

test('the requirements pin every package exactly', () => {
  const reqs = readFileSync(join(HERE, 'requirements.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  expect(reqs.length).toBeGreaterThan(40);
  for (const r of reqs) expect(r, r).toMatch(/^[A-Za-z0-9._-]+==[0-9][^\s;]*(; platform_system == "Linux")?$/);
  expect(reqs.map((r) => r.split('==')[0].toLowerCase())).toEqual(expect.arrayContaining(['torch', 'transformers', 'gguf', 'accelerate', 'numpy', 'nvidia-cublas']));
});

test('a ready venv (its stamp names these requirements) is reused at once: its python is the last stdout line', () => {
  const venv = readyVenv(join(work, 'ready'));
  const r = run({ PATH: process.env.PATH, ZOTUNE_VENV: venv });
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`${venv}/bin/python\n`);
  expect(r.last).toBe(`venv.sh: ${venv} is ready`);
});

test('the default place is ${XDG_CACHE_HOME}/zotune/venv-<12 hex of the requirements sha256>', () => {
  const xdg = join(work, 'xdg');
  const venv = readyVenv(join(xdg, `zotune/venv-${SUM.slice(0, 12)}`));
  expect(run({ PATH: process.env.PATH, XDG_CACHE_HOME: xdg }).stdout).toBe(`${venv}/bin/python\n`);
});

test('--check reports a ready venv like the plain call, and a missing one in one line without making it', () => {
  const venv = readyVenv(join(work, 'ready-check'));
  expect(run({ PATH: process.env.PATH, ZOTUNE_VENV: venv }, ['--check']).stdout).toBe(`${venv}/bin/python\n`);
  const absent = join(work, 'absent');
  const r = run({ PATH: process.env.PATH, ZOTUNE_VENV: absent }, ['--check']);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.trim()).toBe(
    `venv.sh: ${absent} is not made (or not complete); make it with: bash scripts/python/venv.sh (about 5.6 GB), or set ZOTUNE_PYTHON to a python with its packages`,
  );
  expect(existsSync(absent)).toBe(false);
  expect(run({ PATH: process.env.PATH, ZOTUNE_VENV: absent }, ['--install']).last).toBe('venv.sh: unknown argument "--install"; expected none (make the venv) or --check (only report it)');
});

test('no python3: one line saying so, nothing on stdout', () => {
  const r = run({ PATH: pathWithoutPython(), ZOTUNE_VENV: join(work, 'never') });
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.trim()).toMatch(/^venv\.sh: python3: not found on PATH; install Python 3 \(3\.11 is what requirements\.txt was resolved on\) with its venv module$/);
  expect(existsSync(join(work, 'never'))).toBe(false);
});

test('no package registry: pip fails, one last line saying so, and no stamp (the next run completes it)', () => {
  const venv = join(work, 'offline');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ZOTUNE_VENV: venv, PIP_CONFIG_FILE: '/dev/null', PIP_INDEX_URL: 'http://127.0.0.1:9/simple', PIP_RETRIES: '0' };
  const r = run(env);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.last).toBe(
    `venv.sh: pip install -r ${HERE}/requirements.txt failed (see pip's output above): is the package registry (PyPI, or PIP_INDEX_URL) reachable?`,
  );
  expect(existsSync(join(venv, 'bin/python'))).toBe(true);
  expect(existsSync(join(venv, '.zotune-venv-ok'))).toBe(false);
}, 300_000);
