// `zotune sweep report DIR...`: one HTML page and a Markdown summary of a sweep's results.
// Rows are settings (task, plus whichever of model, lr, ε, budget, engine vary), columns methods.
// Tables: final train loss, test accuracy and best dev accuracy (mean ± sd over seeds); each compared
// pair of methods seed by seed (a run and its twin with the same seed share the data split, the
// minibatches and the noise seeds) with exact sign tests; the controls side by side. Plots: train
// loss and dev accuracy against forward passes per setting and method (mean over seeds), and test
// accuracy per method.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { axisFraction, escapeXml as esc, htmlPage, lineChart, linearAxis, parseMetrics, PALETTE, tickLabel, type Series } from '@zotune/report';
import { canonicalJson, sweepSpecSchema, type SweepSpec } from './spec';
import { lrScans } from './robustness';
import { meanSd, signTestP } from './stats';
import { SweepDir, type ReportRun } from './store';

type Compare = SweepSpec['compare'];

export interface SweepData {
  runs: ReportRun[];
  compare: Compare;
  /** method names in spec order */
  methods: string[];
  dirs: string[];
}

/** Load the results of one or more sweep directories (their comparisons merged). */
export function loadSweeps(dirs: readonly string[]): SweepData {
  const runs: ReportRun[] = [];
  const compare: Compare = { pairs: [], controls: [] };
  const methods: string[] = [];
  const seen = new Set<string>();
  const ownLr = new Set<string>();
  for (const d of dirs) {
    const dir = new SweepDir(d);
    if (!existsSync(dir.root)) throw new Error(`${d}: no such sweep directory`);
    const specJson = dir.readSpecJson();
    if (specJson !== undefined) {
      const r = sweepSpecSchema.safeParse(specJson);
      if (!r.success) throw new Error(`${join(dir.root, 'spec.json')}: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`);
      for (const m of [...r.data.grid.method, ...Object.keys(r.data.methods)]) if (!methods.includes(m)) methods.push(m);
      const has = (x: unknown) => compare.pairs.concat(compare.controls as never[]).some((y) => canonicalJson(y) === canonicalJson(x));
      for (const p of r.data.compare.pairs) if (!has(p)) compare.pairs.push(p);
      for (const c of r.data.compare.controls) if (!has(c)) compare.controls.push(c);
      for (const [m, def] of Object.entries(r.data.methods)) if (def.lr !== undefined) ownLr.add(`${d}\0${m}`);
    }
    // a directory's report is its plan's runs (results of an earlier, different spec stay on disk)
    const plan = existsSync(join(dir.root, 'plan.json')) ? new Map(dir.readPlan().map((p, i) => [p.key, i])) : undefined;
    const results = dir.results().filter((r) => !plan || plan.has(r.key));
    // in plan (grid) order: rows and curves follow the spec
    if (plan) results.sort((a, b) => plan.get(a.key)! - plan.get(b.key)!);
    for (const result of results) {
      if (seen.has(result.key)) continue;
      seen.add(result.key);
      if (!methods.includes(result.config.method)) methods.push(result.config.method);
      const mf = join(dir.runDir(result.key), 'metrics.jsonl');
      const metrics = existsSync(mf) ? parseMetrics(readFileSync(mf, 'utf8'), mf).records : [];
      runs.push({ result, metrics, ...(ownLr.has(`${d}\0${result.config.method}`) ? { ownLr: true } : {}) });
    }
  }
  if (!runs.length) throw new Error(`${dirs.join(', ')}: no finished runs (results/*.json)`);
  return { runs, compare, methods, dirs: [...dirs] };
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
const loss = (r: ReportRun) => num(r.result.summary.finalTrainLoss);
const testAcc = (r: ReportRun) => num(r.result.summary.testAcc);
const devAcc = (r: ReportRun) => num(r.result.summary.bestDevAcc);
const devLoss = (r: ReportRun) => num(r.result.summary.finalDevLoss);

/**
 * The axes that decide a setting besides the task: a run's lr is the one it ran with, unless its method
 * sets its own (each method at its own tuned lr): then methods with their own lrs share a row and pair
 * by seed.
 */
function settingOf(r: ReportRun) {
  const c = r.result.config;
  return { model: c.model, lr: r.ownLr ? OWN_LR : (c.lr ?? num(r.result.summary.lr)), eps: c.eps, forwardPasses: c.forwardPasses, engine: c.engine ?? '', options: canonicalJson(c.options) };
}
const OWN_LR = "each method's own";
/** Runs that may be paired: equal in everything but the method. */
const pairKey = (r: ReportRun) => canonicalJson({ task: r.result.config.task, seed: r.result.config.seed, ...settingOf(r), lr: r.ownLr ? OWN_LR : (r.result.config.lr ?? null) });

interface Row {
  id: string;
  label: string;
  runs: ReportRun[];
}

/** Rows: one per task and setting, labelled by the task and the setting axes that vary. */
export function rowsOf(data: SweepData): Row[] {
  const settings = data.runs.map(settingOf);
  // an axis names the rows when it takes several values within one task (per-task options do not)
  const varying = (['model', 'lr', 'eps', 'forwardPasses', 'engine', 'options'] as const).filter((k) => {
    const perTask = new Map<string, Set<string>>();
    data.runs.forEach((r, i) => {
      const t = r.result.config.task;
      if (!perTask.has(t)) perTask.set(t, new Set());
      perTask.get(t)!.add(String(settings[i][k]));
    });
    return [...perTask.values()].some((v) => v.size > 1);
  });
  const rows = new Map<string, Row>();
  data.runs.forEach((r, i) => {
    const s = settings[i];
    const id = canonicalJson({ task: r.result.config.task, ...Object.fromEntries(varying.map((k) => [k, s[k]])) });
    const parts = varying.filter((k) => k !== 'options').map((k) => (k === 'forwardPasses' ? `${s[k]} fp` : k === 'model' ? String(s[k]) : `${k} ${s[k]}`));
    if (varying.includes('options')) parts.push(Object.entries(JSON.parse(s.options) as Record<string, unknown>).map(([k, v]) => `${k} ${v}`).join(' ') || 'default options');
    const label = [r.result.config.task, ...parts].join(', ');
    if (!rows.has(id)) rows.set(id, { id, label, runs: [] });
    rows.get(id)!.runs.push(r);
  });
  return [...rows.values()];
}

interface Cell {
  n: number;
  mean: number;
  sd: number;
}
function cell(runs: readonly ReportRun[], method: string, f: (r: ReportRun) => number): Cell | undefined {
  const xs = runs.filter((r) => r.result.config.method === method).map(f).filter(Number.isFinite);
  if (!xs.length) return undefined;
  const [mean, sd] = meanSd(xs);
  return { n: xs.length, mean, sd };
}

export interface PairCount {
  /** pairs whose runs both have a finite final train loss */
  n: number;
  lossWins: number;
  accWins: number;
  accTies: number;
  /** pairs whose runs both evaluated dev (a diverged run's final dev loss is not finite: it loses to any finite one) */
  devN: number;
  /** pairs where the treatment's final dev loss is finite and lower (or the baseline's alone is not finite) */
  devWins: number;
}

const noPairs = (): PairCount => ({ n: 0, lossWins: 0, accWins: 0, accTies: 0, devN: 0, devWins: 0 });
/** total += c, count by count */
function addPairs(total: PairCount, c: PairCount): void {
  for (const k of Object.keys(total) as (keyof PairCount)[]) total[k] += c[k];
}

/** Treatment vs baseline seed by seed: lower final train loss, higher test accuracy, lower final dev loss. */
export function pairCount(runs: readonly ReportRun[], baseline: string, treatment: string): PairCount {
  const base = new Map(runs.filter((r) => r.result.config.method === baseline).map((r) => [pairKey(r), r]));
  const c = noPairs();
  const evaluatedDev = (r: ReportRun) => r.result.summary.finalDevLoss !== undefined;
  for (const t of runs.filter((r) => r.result.config.method === treatment)) {
    const b = base.get(pairKey(t));
    if (!b) continue;
    if (evaluatedDev(b) && evaluatedDev(t)) {
      c.devN++;
      // !(t >= b): a non-finite baseline loses to a finite treatment
      if (Number.isFinite(devLoss(t)) && !(devLoss(t) >= devLoss(b))) c.devWins++;
    }
    if (!Number.isFinite(loss(b)) || !Number.isFinite(loss(t))) continue;
    c.n++;
    if (loss(t) < loss(b)) c.lossWins++;
    if (testAcc(t) > testAcc(b)) c.accWins++;
    else if (testAcc(t) === testAcc(b)) c.accTies++;
  }
  return c;
}

export interface Table {
  id: string;
  title: string;
  header: string[];
  /** numeric columns (right-aligned) */
  numeric: boolean[];
  rows: string[][];
  note?: string;
}

const pct = (x: number) => (100 * x).toFixed(1);
const fmt = (c: Cell | undefined, f: (x: number) => string) => (c ? `${f(c.mean)} ± ${f(c.sd)}` : '–');
const fmtLoss = (x: number) => x.toFixed(4);
const pValue = (k: number, n: number) => signTestP(k, n).toFixed(3);

/** Every table of the report. */
export function reportTables(data: SweepData): Table[] {
  const rows = rowsOf(data);
  const methods = data.methods.filter((m) => data.runs.some((r) => r.result.config.method === m));
  const seeds = Math.max(...rows.flatMap((row) => methods.map((m) => cell(row.runs, m, loss)?.n ?? 0)));
  const zeroShot = (row: Row) => row.runs.map((r) => num(r.result.summary.zeroShotTestAcc)).find(Number.isFinite);
  const tables: Table[] = [
    {
      id: 'loss',
      title: `Final train loss (mean of the last steps; mean ± sd over up to ${seeds} seeds; lower is better)`,
      header: ['setting', ...methods],
      numeric: [false, ...methods.map(() => true)],
      rows: rows.map((row) => [row.label, ...methods.map((m) => fmt(cell(row.runs, m, loss), fmtLoss))]),
    },
    {
      id: 'test-acc',
      title: 'Test accuracy, % (mean ± sd over seeds; zero-shot = the base model)',
      header: ['setting', 'zero-shot', ...methods],
      numeric: [false, true, ...methods.map(() => true)],
      rows: rows.map((row) => {
        const z = zeroShot(row);
        return [row.label, z === undefined ? '–' : pct(z), ...methods.map((m) => fmt(cell(row.runs, m, testAcc), pct))];
      }),
    },
    {
      id: 'dev-acc',
      title: 'Best dev accuracy, % (mean ± sd over seeds)',
      header: ['setting', ...methods],
      numeric: [false, ...methods.map(() => true)],
      rows: rows.map((row) => [row.label, ...methods.map((m) => fmt(cell(row.runs, m, devAcc), pct))]),
    },
  ];
  if (data.runs.some((r) => Number.isFinite(devLoss(r))))
    tables.push({
      id: 'dev-loss',
      title: 'Final dev loss (candidate cross-entropy on dev at the end of the run, nats; mean ± sd over seeds; lower is better)',
      header: ['setting', ...methods],
      numeric: [false, ...methods.map(() => true)],
      rows: rows.map((row) => [row.label, ...methods.map((m) => fmt(cell(row.runs, m, devLoss), fmtLoss))]),
    });
  tables.push(...robustnessTables(data, methods));
  const seen = (row: Row, f: (s: Record<string, unknown>) => unknown) => [...new Set(row.runs.map((r) => String(f(r.result.summary) ?? '?')))].join(' / ');
  tables.push({
    id: 'settings',
    title: 'Settings (as the runs report them)',
    header: ['setting', 'runs', 'seeds', 'forward passes', 'lr', 'eps', 'batch', 'dev examples', 'test examples'],
    numeric: [false, true, true, true, true, true, true, true, true],
    rows: rows.map((row) => [
      row.label, String(row.runs.length), String(new Set(row.runs.map((r) => r.result.config.seed)).size), seen(row, (s) => s.forwardPasses),
      seen(row, (s) => s.lr), seen(row, (s) => s.eps), seen(row, (s) => s.batch), seen(row, (s) => s.devN), seen(row, (s) => s.testN),
    ]),
  });
  // the runs evaluated dev: the pairs' final dev losses are compared too (the decisive protocols decide on them)
  const dev = data.runs.some((r) => Number.isFinite(devLoss(r)));
  for (const [i, p] of data.compare.pairs.entries()) {
    const name = p.label ?? `${p.treatment} vs ${p.baseline}`;
    const lines: string[][] = [];
    const total = noPairs();
    for (const row of rows) {
      const c = pairCount(row.runs, p.baseline, p.treatment);
      if (!c.n && !c.devN) continue;
      addPairs(total, c);
      lines.push(pairRow(row.label, c, dev));
    }
    if (!lines.length) continue;
    lines.push(pairRow('all', total, dev));
    const header = ['setting', 'pairs', 'lower train loss', 'p (train loss)', 'higher test acc', 'acc ties', 'p (acc, ties left out)'];
    tables.push({
      id: `pair-${i}`,
      title: `${name}: paired by seed, ${p.treatment} ahead of ${p.baseline} (exact two-sided sign test)`,
      header: dev ? [...header, 'lower final dev loss', 'p (dev loss)'] : header,
      numeric: [false, ...header.slice(1).map(() => true), ...(dev ? [true, true] : [])],
      rows: lines,
    });
  }
  for (const [i, c] of data.compare.controls.entries()) {
    const lines: string[][] = [];
    const t = noPairs();
    for (const row of rows) {
      const pc = pairCount(row.runs, c.control, c.treatment);
      if (!pc.n) continue;
      addPairs(t, pc);
      const l = (m: string) => (cell(row.runs, m, loss)?.mean ?? NaN);
      const a = (m: string) => (cell(row.runs, m, testAcc)?.mean ?? NaN);
      const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '–');
      const f1 = (x: number) => (Number.isFinite(x) ? pct(x) : '–');
      lines.push([row.label, f4(l(c.baseline)), f4(l(c.treatment)), f4(l(c.control)), f1(a(c.baseline)), f1(a(c.treatment)), f1(a(c.control)), `${pc.lossWins}/${pc.n}`, `${pc.accWins}/${pc.n - pc.accTies}`]);
    }
    if (!lines.length) continue;
    tables.push({
      id: `control-${i}`,
      title: `${c.label ?? `control ${c.control}`}: ${c.baseline} (baseline), ${c.treatment} (treatment), ${c.control} (control); means over seeds, and the treatment ahead of the control seed by seed`,
      header: ['setting', `loss: ${c.baseline}`, c.treatment, c.control, `test acc %: ${c.baseline}`, c.treatment, c.control, 'lower train loss', 'higher acc'],
      numeric: [false, true, true, true, true, true, true, true, true],
      rows: lines,
      note: `over all settings: ${c.treatment} has the lower train loss in ${t.lossWins}/${t.n} seed pairs (sign test p = ${pValue(t.lossWins, t.n)}) and the higher test accuracy in ${t.accWins}/${t.n - t.accTies} (${t.accTies} ties; p = ${pValue(t.accWins, t.n - t.accTies)})${dev ? `; the lower final dev loss in ${t.devWins}/${t.devN} (p = ${pValue(t.devWins, t.devN)})` : ''}`,
    });
  }
  return tables;
}

/** Per lr scan (a task whose runs cover ≥ 3 lrs): the score per lr and method, and each method's robustness figures. */
function robustnessTables(data: SweepData, methods: string[]): Table[] {
  const lr = (x: number) => (Number.isFinite(x) && x > 0 ? x.toPrecision(3).replace(/\.?0+(e|$)/, '$1') : '–');
  return lrScans(data.runs, methods).flatMap((scan, i): Table[] => {
    const lrs = [...new Set(scan.methods.flatMap((m) => m.cells.map((c) => c.lr)))].sort((a, b) => a - b);
    const at = (m: (typeof scan.methods)[number], x: number) => {
      const c = m.cells.find((y) => y.lr === x);
      if (!c) return '–';
      return `${Number.isFinite(c.mean) ? fmtLoss(c.mean) : 'n/a'}${c.diverged ? ` (${c.diverged}/${c.seeds} diverged)` : ''}`;
    };
    return [
      {
        id: `lr-scan-${i}`,
        title: `${scan.label}: final ${scan.score} per lr (mean over seeds; a run diverged when it ended above 1.1× where it started)`,
        header: ['lr', ...scan.methods.map((m) => m.method)],
        numeric: [true, ...scan.methods.map(() => true)],
        rows: lrs.map((x) => [lr(x), ...scan.methods.map((m) => at(m, x))]),
      },
      {
        id: `lr-robustness-${i}`,
        title: `${scan.label}: robustness to the lr (tuned lr = lowest mean final ${scan.score}; stable range = largest lr with no diverged seed at it or below)`,
        header: ['method', 'tuned lr', `${scan.score} at tuned`, 'stable up to', 'at 3.16× tuned', 'at 10× tuned', `lowest at (of ${scan.commonLrs} lrs)`],
        numeric: [false, true, true, true, true, true, true],
        rows: scan.methods.map((m) => [
          m.method, lr(m.tunedLr), Number.isFinite(m.tunedScore) ? fmtLoss(m.tunedScore) : '–', lr(m.stableLr),
          ...m.above.map((v) => (v === undefined ? '–' : Number.isFinite(v) ? fmtLoss(v) : 'n/a')), String(scan.lowest[m.method] ?? 0),
        ]),
      },
    ];
  });
}

function pairRow(label: string, c: PairCount, dev: boolean): string[] {
  const nonTies = c.n - c.accTies;
  const row = [label, String(c.n), `${c.lossWins}/${c.n}`, pValue(c.lossWins, c.n), `${c.accWins}/${nonTies}`, String(c.accTies), pValue(c.accWins, nonTies)];
  return dev ? [...row, `${c.devWins}/${c.devN}`, pValue(c.devWins, c.devN)] : row;
}

export function markdownTables(tables: readonly Table[]): string {
  const md = (t: Table) =>
    [
      `**${t.title}**`,
      '',
      `| ${t.header.join(' | ')} |`,
      `|${t.numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
      ...t.rows.map((r) => `| ${r.join(' | ')} |`),
      ...(t.note ? ['', t.note] : []),
    ].join('\n');
  return tables.map(md).join('\n\n') + '\n';
}

/** Mean over seeds, point by point, of one series per run (the runs of a method share their x). */
function meanSeries(name: string, per: { x: number[]; y: number[] }[]): Series {
  const len = Math.min(...per.map((p) => p.x.length));
  const x = per[0]?.x.slice(0, len) ?? [];
  const y = x.map((_, i) => per.reduce((a, p) => a + p.y[i], 0) / per.length);
  return { name: `${name} (${per.length} seed${per.length > 1 ? 's' : ''})`, x, y };
}

function curves(row: Row, methods: string[], event: 'step' | 'eval'): Series[] {
  return methods
    .map((m) => {
      const per = row.runs
        .filter((r) => r.result.config.method === m && r.metrics.length)
        .map((r) => {
          const recs = r.metrics.filter((x) => x.event === event && (event === 'step' ? x.loss !== undefined : x.devAcc !== undefined));
          return { x: recs.map((x) => x.forwardPasses), y: recs.map((x) => num(event === 'step' ? x.loss : x.devAcc) * (event === 'eval' ? 100 : 1)) };
        });
      return per.length ? meanSeries(m, per) : undefined;
    })
    .filter((s): s is Series => s !== undefined);
}

/** Test accuracy per method: one column per setting, a dot (mean) and a bar (± sd) per method. */
export function accuracyChart(rows: readonly Row[], methods: readonly string[]): string {
  const width = Math.max(480, 90 + rows.length * Math.max(60, methods.length * 16) + 180);
  const height = 340;
  const m = { left: 56, right: 180, top: 34, bottom: 90 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const cells = rows.map((row) => methods.map((mm) => cell(row.runs, mm, testAcc)));
  const vals = cells.flat().flatMap((c) => (c ? [100 * (c.mean - c.sd), 100 * (c.mean + c.sd)] : []));
  const axis = linearAxis(Math.min(...vals, 100), Math.max(...vals, 0), 6);
  const Y = (v: number) => m.top + (1 - axisFraction(axis, v)) * ph;
  const colW = pw / Math.max(1, rows.length);
  const f1 = (v: number) => (Math.round(v * 10) / 10).toString();
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="test accuracy per method" font-family="system-ui, sans-serif" font-size="11">`,
    '<title>test accuracy per method</title>',
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="20" font-size="14" font-weight="600" fill="#222">test accuracy per method (mean ± sd over seeds)</text>`,
    '<g stroke="#e3e3e3">',
    ...axis.ticks.map((t) => `<line x1="${m.left}" x2="${m.left + pw}" y1="${f1(Y(t))}" y2="${f1(Y(t))}"/>`),
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
    '</g>',
    ...axis.ticks.map((t) => `<text x="${m.left - 6}" y="${f1(Y(t) + 4)}" text-anchor="end" fill="#444">${esc(tickLabel(t, axis))}</text>`),
    `<text transform="translate(14 ${f1(m.top + ph / 2)}) rotate(-90)" text-anchor="middle" fill="#222">test accuracy (%)</text>`,
  ];
  rows.forEach((row, i) => {
    const cx = m.left + colW * (i + 0.5);
    out.push(`<text transform="translate(${f1(cx)} ${m.top + ph + 12}) rotate(30)" fill="#444">${esc(row.label.length > 28 ? row.label.slice(0, 27) + '…' : row.label)}</text>`);
    methods.forEach((mm, j) => {
      const c = cells[i][j];
      if (!c) return;
      const x = cx + (j - (methods.length - 1) / 2) * Math.min(16, (colW * 0.8) / methods.length);
      const color = PALETTE[j % PALETTE.length];
      out.push(
        `<g class="point" data-method="${esc(mm)}"><line x1="${f1(x)}" x2="${f1(x)}" y1="${f1(Y(100 * (c.mean - c.sd)))}" y2="${f1(Y(100 * (c.mean + c.sd)))}" stroke="${color}" stroke-width="1.5"/>` +
          `<circle cx="${f1(x)}" cy="${f1(Y(100 * c.mean))}" r="3.5" fill="${color}"/></g>`,
      );
    });
  });
  methods.forEach((mm, j) => {
    const ly = m.top + 8 + j * 16;
    const lx = m.left + pw + 14;
    out.push(`<circle cx="${lx + 9}" cy="${ly}" r="4" fill="${PALETTE[j % PALETTE.length]}"/><text x="${lx + 24}" y="${ly + 4}" fill="#222">${esc(mm)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export interface SweepReport {
  html: string;
  markdown: string;
  tables: Table[];
  /** id → SVG of every plot */
  plots: { id: string; title: string; svg: string }[];
}

/** The report of the data: HTML page, Markdown tables, plots. */
export function sweepReport(data: SweepData, title = 'zotune sweep report'): SweepReport {
  const tables = reportTables(data);
  const rows = rowsOf(data);
  const methods = data.methods.filter((m) => data.runs.some((r) => r.result.config.method === m));
  const plots: SweepReport['plots'] = [];
  rows.forEach((row, i) => {
    const lossCurves = curves(row, methods, 'step');
    if (lossCurves.length)
      plots.push({ id: `loss-${i}`, title: `${row.label}: train loss`, svg: lineChart(lossCurves, { id: `loss-${i}`, title: `${row.label}: train loss (mean over seeds)`, xLabel: 'forward passes', yLabel: 'loss', smooth: 'auto' }) });
    const devCurves = curves(row, methods, 'eval');
    if (devCurves.length)
      plots.push({ id: `dev-${i}`, title: `${row.label}: dev accuracy`, svg: lineChart(devCurves, { id: `dev-${i}`, title: `${row.label}: dev accuracy (mean over seeds)`, xLabel: 'forward passes', yLabel: 'dev accuracy (%)' }) });
  });
  plots.push({ id: 'test-acc', title: 'test accuracy per method', svg: accuracyChart(rows, methods) });
  const tableHtml = (t: Table) =>
    `<h2>${esc(t.title)}</h2>\n<table id="table-${esc(t.id)}">\n<tr>${t.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>\n` +
    t.rows.map((r) => `<tr>${r.map((c, j) => `<td${t.numeric[j] ? ' class="num"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('\n') +
    '\n</table>' +
    (t.note ? `\n<p class="muted">${esc(t.note)}</p>` : '');
  const noCurves = data.runs.filter((r) => !r.metrics.length).length;
  const body = [
    `<h1>${esc(title)}</h1>`,
    `<p class="muted">${data.runs.length} runs from ${data.dirs.map(esc).join(', ')}${noCurves ? `; ${noCurves} without metrics.jsonl (no curves)` : ''}</p>`,
    ...tables.map(tableHtml),
    '<h2>Plots</h2>',
    `<div class="charts">\n${plots.map((p) => `<figure id="plot-${esc(p.id)}">\n${p.svg}</figure>`).join('\n')}\n</div>`,
    '<p class="muted">Train loss is smoothed with an exponential moving average when there are more than 20 points; x is training forward passes.</p>',
  ].join('\n');
  return { html: htmlPage(title, body), markdown: markdownTables(tables), tables, plots };
}
