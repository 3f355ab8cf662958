// Helpers of the noise specs (tests only): float32 bits, their hex, an FNV-1a checksum of the bits, and
// deterministic test parameters.
import { fmix32 } from './noise-ref';

/** The uint32 bit patterns of a Float32Array. */
export const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** The bit patterns as '0x…' strings (golden values). */
export const hex = (a: Float32Array): string[] => bits(a).map((x) => '0x' + x.toString(16).padStart(8, '0'));

/** FNV-1a over the bit patterns: a checksum of many samples. */
export function fnv(a: Float32Array): number {
  let h = 0x811c9dc5;
  for (const x of new Uint32Array(a.buffer, a.byteOffset, a.length)) h = Math.imul(h ^ x, 16777619) >>> 0;
  return h;
}

/** Deterministic test parameters: the i-th uint32 of stream `s`. */
export const rnd = (s: number, i: number): number => fmix32((fmix32(s) + Math.imul(i + 1, 0x9e3779b9)) >>> 0);
