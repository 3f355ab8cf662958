// The attention mask of a packed batch, built once per batch on the host and shared by every layer.
// Query i may attend key j iff j <= i (row order), key j is not padding, and key j is in the prompt
// (segment 0) or in the query's own segment: each candidate sees the prompt and itself only.
import { PAD_SEGMENT } from './batch';

/** Large finite negative: exp() underflows to exactly 0 and a fully masked row cannot make NaN. */
export const MASKED = -1e9;

export function allowed(segments: Int32Array, row: number, i: number, j: number): boolean {
  if (j > i) return false;
  const sj = segments[row + j];
  return sj !== PAD_SEGMENT && (sj === 0 || sj === segments[row + i]);
}

/**
 * Additive bias [batch, length, prefix + length]: 0 where allowed, MASKED elsewhere. The first
 * `prefix` columns (prefix tuning's keys) are allowed to every query.
 */
export function attentionBias(batch: number, length: number, segments: Int32Array, prefix = 0): Float32Array {
  const T = length;
  const S = prefix + T;
  const bias = new Float32Array(batch * T * S).fill(MASKED);
  for (let b = 0; b < batch; b++) {
    const row = b * T;
    for (let i = 0; i < T; i++) {
      const out = (b * T + i) * S;
      bias.fill(0, out, out + prefix);
      for (let j = 0; j <= i; j++) if (allowed(segments, row, i, j)) bias[out + prefix + j] = 0;
    }
  }
  return bias;
}

/** Plain causal rows (one segment, right padding) need no per-segment test: true when that holds. */
export function isPlainCausal(segments: Int32Array): boolean {
  for (let i = 0; i < segments.length; i++) if (segments[i] > 0) return false;
  return true;
}
