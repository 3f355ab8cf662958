// Test helpers shared by the peft specs (not exported from the lib).

/** max |a − b| / max |b|: the error of logits a against the reference b, relative to b's scale. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}
