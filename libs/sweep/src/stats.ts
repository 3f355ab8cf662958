// Mean ± sd over seeds and the exact two-sided sign test of paired wins.

/** Mean and sample standard deviation (0 for a single value). */
export function meanSd(xs: readonly number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length > 1 ? xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) : 0;
  return [m, Math.sqrt(v)];
}

/** Two-sided exact sign test: P(a count at least as far from n/2 as `wins`) under Binomial(n, 1/2). */
export function signTestP(wins: number, n: number): number {
  if (n === 0) return 1;
  const choose = (k: number) => {
    let c = 1;
    for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
    return c;
  };
  const d = Math.abs(wins - n / 2);
  let p = 0;
  for (let k = 0; k <= n; k++) if (Math.abs(k - n / 2) >= d - 1e-9) p += choose(k) / 2 ** n;
  return Math.min(1, p);
}
