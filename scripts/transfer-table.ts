// The table of the transfer experiment (scripts/transfer.ts): final train loss and test accuracy per
// task and method (mean ± sd over seeds), the share of (task, estimator) pairs where the policy
// variant beats its own baseline on the means, and the same comparison seed by seed (a policy run and
// its baseline with the same seed share the data split, the minibatches and the noise seeds, so they
// form a pair) with a two-sided sign test.

export const METHODS = {
  mezo: { estimator: 'mezo', policy: false },
  'mezo+policy': { estimator: 'mezo', policy: true },
  guided: { estimator: 'guided', policy: false },
  'guided+policy': { estimator: 'guided', policy: true },
} as const;
export type Method = keyof typeof METHODS;
/** Each policy variant and the baseline it is compared with. */
export const PAIRS: [Method, Method][] = [['mezo', 'mezo+policy'], ['guided', 'guided+policy']];

/** The fields of a `zotune finetune --json` summary the table reads, keyed by the experiment's names. */
export interface Summary {
  task: string;
  method: Method;
  seed: number;
  finalTrainLoss: number;
  testAcc: number;
  bestDevAcc: number;
  zeroShotTestAcc?: number;
  forwardPasses: number;
  lr?: number;
  batch?: number;
  devN?: number;
  testN?: number;
}

interface Cell {
  n: number;
  loss: number;
  lossSd: number;
  acc: number;
  accSd: number;
}

export function meanSd(xs: number[]): [number, number] {
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

const ok = (s: Summary) => Number.isFinite(s.finalTrainLoss) && Number.isFinite(s.testAcc);

/** Mean ± sd over the finished seeds of one task and method; undefined when none finished. */
function cellOf(summaries: Summary[], task: string, method: Method): Cell | undefined {
  const rows = summaries.filter((s) => s.task === task && s.method === method && ok(s));
  if (!rows.length) return undefined;
  const [loss, lossSd] = meanSd(rows.map((r) => r.finalTrainLoss));
  const [acc, accSd] = meanSd(rows.map((r) => r.testAcc));
  return { n: rows.length, loss, lossSd, acc, accSd };
}

export function tabulate(summaries: Summary[], forwardPasses: string): string {
  const tasks = [...new Set(summaries.map((s) => s.task))];
  const methods = (Object.keys(METHODS) as Method[]).filter((m) => summaries.some((s) => s.method === m));
  const cells = new Map<string, Cell>();
  for (const t of tasks)
    for (const m of methods) {
      const c = cellOf(summaries, t, m);
      if (c) cells.set(`${t}|${m}`, c);
    }
  const zeroShot = (t: string) => summaries.find((s) => s.task === t && Number.isFinite(s.zeroShotTestAcc))?.zeroShotTestAcc;
  const fmtLoss = (c?: Cell) => (c ? `${c.loss.toFixed(4)} ± ${c.lossSd.toFixed(4)}` : '–');
  const fmtAcc = (c?: Cell) => (c ? `${(100 * c.acc).toFixed(1)} ± ${(100 * c.accSd).toFixed(1)}` : '–');
  const seeds = Math.max(0, ...[...cells.values()].map((c) => c.n));
  // the settings each task ran with (they may differ between tasks, never between a pair's two sides)
  const settings = tasks.map((t) => {
    const combos = [
      ...new Set(summaries.filter((s) => s.task === t).map((s) => `lr ${s.lr ?? '?'}, batch ${s.batch ?? '?'}, dev ${s.devN ?? '?'}, test ${s.testN ?? '?'}`)),
    ];
    return `${t}: ${combos.join(' / ')}`;
  });
  const lines = [
    `Final train loss (mean of the last 50 steps; mean ± sd over ${seeds} seeds, lower is better) at ${forwardPasses} forward passes per run:`,
    '',
    `| task | ${methods.join(' | ')} |`,
    `|---|${methods.map(() => '---:').join('|')}|`,
    ...tasks.map((t) => `| ${t} | ${methods.map((m) => fmtLoss(cells.get(`${t}|${m}`))).join(' | ')} |`),
    '',
    'Test accuracy, % (mean ± sd over seeds; zero-shot = the base model before fine-tuning):',
    '',
    `| task | zero-shot | ${methods.join(' | ')} |`,
    `|---|---:|${methods.map(() => '---:').join('|')}|`,
    ...tasks.map((t) => {
      const z = zeroShot(t);
      return `| ${t} | ${z === undefined ? '–' : (100 * z).toFixed(1)} | ${methods.map((m) => fmtAcc(cells.get(`${t}|${m}`))).join(' | ')} |`;
    }),
    '',
    `<sub>Settings: ${settings.join('; ')}.</sub>`,
  ];
  // wins of each policy variant over its own baseline, per task: lower mean final loss, higher mean test accuracy
  let pairs = 0;
  let lossWins = 0;
  let accWins = 0;
  let accTies = 0;
  const detail: string[] = [];
  for (const [base, withPolicy] of PAIRS)
    for (const t of tasks) {
      const a = cells.get(`${t}|${base}`);
      const b = cells.get(`${t}|${withPolicy}`);
      if (!a || !b) continue;
      pairs++;
      const lw = b.loss < a.loss;
      const aw = b.acc > a.acc;
      const at = b.acc === a.acc;
      if (lw) lossWins++;
      if (aw) accWins++;
      if (at) accTies++;
      detail.push(`${t}/${base}: loss ${lw ? 'policy' : 'baseline'}, accuracy ${aw ? 'policy' : at ? 'tie' : 'baseline'}`);
    }
  // the same, seed by seed
  let runPairs = 0;
  let runLossWins = 0;
  let runAccWins = 0;
  let runAccTies = 0;
  for (const [base, withPolicy] of PAIRS)
    for (const a of summaries.filter((s) => s.method === base && ok(s))) {
      const b = summaries.find((s) => s.method === withPolicy && s.task === a.task && s.seed === a.seed && ok(s));
      if (!b) continue;
      runPairs++;
      if (b.finalTrainLoss < a.finalTrainLoss) runLossWins++;
      if (b.testAcc > a.testAcc) runAccWins++;
      else if (b.testAcc === a.testAcc) runAccTies++;
    }
  if (pairs) {
    const pct = (k: number, n: number) => `${((100 * k) / n).toFixed(1)} %`;
    const p = (k: number, n: number) => signTestP(k, n).toFixed(2);
    lines.push(
      '',
      `Policy variant ahead of its baseline (MeZO vs MeZO+policy, guided vs guided+policy) over ${pairs} (task, estimator) pairs: ` +
        `lower final train loss in ${lossWins}/${pairs} (${pct(lossWins, pairs)}), higher test accuracy in ${accWins}/${pairs} (${pct(accWins, pairs)})` +
        (accTies ? `, equal accuracy in ${accTies}` : '') + '. (ZO Fine-tuner reports 82.1 % for loss on its model–task pairs.)',
      '',
      `Seed by seed (${runPairs} paired runs: same split, minibatches and noise seeds): lower final train loss in ${runLossWins}/${runPairs} ` +
        `(${pct(runLossWins, runPairs)}, sign test p = ${p(runLossWins, runPairs)}), higher test accuracy in ${runAccWins}/${runPairs - runAccTies} ` +
        `(${runAccTies} ties; sign test p = ${p(runAccWins, runPairs - runAccTies)}).`,
      '',
      `<sub>${detail.join('; ')}</sub>`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * The control: the same policy variants run with an untrained policy (the meta-trainer's initial
 * networks). Per (task, estimator): the baseline, the trained policy and the untrained one (final
 * train loss and test accuracy, means over seeds), and how often the trained policy beats the
 * untrained one — what meta-training itself contributed, apart from the rescaling any policy does.
 */
export function controlTable(trained: Summary[], control: Summary[]): string {
  const tasks = [...new Set(control.map((s) => s.task))].filter((t) => trained.some((s) => s.task === t));
  const loss = (c?: Cell) => (c ? c.loss.toFixed(4) : '–');
  const acc = (c?: Cell) => (c ? (100 * c.acc).toFixed(1) : '–');
  const lines = [
    'Trained policy vs an untrained one (the meta-trainer\'s initial networks), same runs otherwise (mean over seeds):',
    '',
    '| task | estimator | loss: baseline | trained | untrained | accuracy %: baseline | trained | untrained |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  let n = 0;
  let lossWins = 0;
  let accWins = 0;
  for (const [base, withPolicy] of PAIRS)
    for (const t of tasks) {
      const b = cellOf(trained, t, base);
      const tr = cellOf(trained, t, withPolicy);
      const un = cellOf(control, t, withPolicy);
      if (!tr || !un) continue;
      n++;
      if (tr.loss < un.loss) lossWins++;
      if (tr.acc > un.acc) accWins++;
      lines.push(`| ${t} | ${METHODS[base].estimator} | ${loss(b)} | ${loss(tr)} | ${loss(un)} | ${acc(b)} | ${acc(tr)} | ${acc(un)} |`);
    }
  lines.push('', `Trained ahead of untrained in ${lossWins}/${n} pairs on final train loss and ${accWins}/${n} on test accuracy.`);
  return lines.join('\n') + '\n';
}
