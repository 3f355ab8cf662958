// The reference for the specs that need gguf-py (llama.cpp's Python package): ZOTUNE_PYTHON names a
// python that can `import gguf` (e.g. /tmp/venv-ref/bin/python; scripts/fixtures/make-gguf-quants.sh
// says how to make one). Without it those specs report skipped.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PYTHON = process.env.ZOTUNE_PYTHON || undefined;
/** where the committed gguf fixtures live */
export const FIXTURES = fileURLToPath(new URL('../../../tests/fixtures/gguf', import.meta.url));

/** Run a python program with arguments; its stdout (a failure throws with its stderr). */
export function runPython(code: string, args: string[]): string {
  if (!PYTHON) throw new Error('ZOTUNE_PYTHON is not set');
  return execFileSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Float32 bit patterns equal, any NaN equal to any NaN; the index of the first difference or -1. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

/** A file of little-endian float32 values. */
export function readF32File(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
