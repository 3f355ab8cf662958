// Installing a pinned file: stream the bytes into a temp file beside the destination while hashing,
// check size and sha256, then rename over the final name. The final name only ever holds verified
// bytes; a kill -9 leaves at most a temp file, which the next pull removes (cleanStrayTemps).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempPathFor } from '@zotune/io';

/** What a pin promises about a file. */
export interface Pin {
  path: string;
  sha256: string;
  size: number;
}

/** Bytes written and their sha256. */
export interface StreamedFile {
  bytes: number;
  sha256: string;
}

/**
 * Write `chunks` to the new file `tmp` (which must not exist), hashing on the way. Refuses to go past
 * `maxBytes`. On any error the temp file is removed and the error rethrown.
 */
export async function streamToFile(
  tmp: string,
  chunks: AsyncIterable<Uint8Array>,
  opts: { maxBytes?: number; onBytes?: (bytes: number) => void; tooLarge?: (max: number) => string } = {},
): Promise<StreamedFile> {
  const hash = createHash('sha256');
  let bytes = 0;
  const fh = await open(tmp, 'wx');
  try {
    for await (const chunk of chunks) {
      bytes += chunk.length;
      if (opts.maxBytes !== undefined && bytes > opts.maxBytes)
        throw new Error(opts.tooLarge?.(opts.maxBytes) ?? `${tmp}: more than ${opts.maxBytes} bytes`);
      hash.update(chunk);
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      opts.onBytes?.(bytes);
    }
    await fh.sync();
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Install `pin` into `dataDir` from `chunks` (`source` names where they come from, for messages).
 * Throws a one-line error naming the file, the expected and the actual hash when they differ;
 * nothing is left behind under the final name or as a temp file.
 */
export async function installVerified(
  dataDir: string,
  pin: Pin,
  chunks: AsyncIterable<Uint8Array>,
  source: string,
  onBytes?: (bytes: number) => void,
): Promise<StreamedFile> {
  const dest = join(dataDir, pin.path);
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  const got = await streamToFile(tmp, chunks, {
    maxBytes: pin.size,
    onBytes,
    tooLarge: (max) => `${pin.path}: ${source} sent more than the pinned ${max} bytes (expected sha256 ${pin.sha256}); nothing was installed`,
  });
  if (got.sha256 !== pin.sha256 || got.bytes !== pin.size) {
    await rm(tmp, { force: true });
    throw new Error(
      `${pin.path}: sha256 mismatch from ${source}: expected ${pin.sha256} (${pin.size} bytes), got ${got.sha256} (${got.bytes} bytes); nothing was installed`,
    );
  }
  try {
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return got;
}

/** sha256 and size of a file, streamed. */
export async function hashFile(file: string): Promise<StreamedFile> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

// tempPathFor names temp files `.<name>.tmp-<pid>-<hex>`; the pid tells whether a writer may still own it
const TEMP_RE = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+$/;

/** True when process `pid` exists (possibly another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove temp files left by interrupted installs of the files named `names` (basenames) in
 * `dirs` (relative to `dataDir`). A temp file whose writer process is still alive is kept, so two
 * pulls running at once do not delete each other's work. Returns the removed paths (relative).
 */
export async function cleanStrayTemps(dataDir: string, dirs: Iterable<string>, names: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const rel of new Set(dirs)) {
    let listing: string[];
    try {
      listing = await readdir(join(dataDir, rel));
    } catch {
      continue; // the directory does not exist yet
    }
    for (const entry of listing) {
      const m = TEMP_RE.exec(entry);
      if (!m || !names.has(m[1])) continue;
      const pid = Number(m[2]);
      // an install in this process, or in another live one, may still be writing it
      if (pid === process.pid || processAlive(pid)) continue;
      await rm(join(dataDir, rel, entry), { force: true });
      removed.push(rel === '.' || rel === '' ? entry : `${rel}/${entry}`);
    }
  }
  return removed;
}
