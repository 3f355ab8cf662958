// Atomic writes: write a sibling temp file, fsync, rename over the target. A reader sees the old
// content or the new one, never a half-written file; a crash leaves at most a stray *.tmp-* file.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A unique temp path beside `target` (same directory, so the rename is atomic). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Write `data` to `target` atomically, creating parent directories. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  writeAtomicWith(target, (write) => write(typeof data === 'string' ? Buffer.from(data) : data));
}

/**
 * Write `target` atomically from pieces: `fill` calls `write` as often as it likes (a large file
 * need not exist in memory whole), then the temp file is synced and renamed into place; on any error
 * the temp file is removed and the target is untouched. Creates parent directories.
 */
export function writeAtomicWith(target: string, fill: (write: (bytes: Uint8Array) => void) => void): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    const fd = openSync(tmp, 'w');
    try {
      fill((buf) => {
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Write JSON (2-space indented, trailing newline) atomically. */
export function writeJsonAtomic(target: string, value: unknown): void {
  writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}

/** sha256 of bytes, lower-case hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
