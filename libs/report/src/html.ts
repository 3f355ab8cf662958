// Self-contained HTML pages: the report of one run and the comparison of several (inline SVG and
// CSS, no scripts, no external resources).
import { formatSig } from './format';
import type { LoadedRun } from './load-run';
import { escapeXml as esc } from './svg';
import { columnsFor } from './table';

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; } .note { color: #a15c00; } .muted { color: #777; font-size: 0.85em; }
code { font-size: 0.95em; }`;

/** Flatten nested config objects into dotted keys; arrays and scalars become JSON text. */
export function flatten(obj: Record<string, unknown>, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...flatten(v as Record<string, unknown>, key));
    else out.push([key, typeof v === 'string' ? v : typeof v === 'number' && !Number.isInteger(v) ? formatSig(v, 6) : JSON.stringify(v)]);
  }
  return out;
}

function keyValueTable(pairs: [string, string][], empty: string): string {
  if (!pairs.length) return `<p class="muted">${esc(empty)}</p>`;
  const rows = pairs.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n');
  return `<table>\n${rows}\n</table>`;
}

/** The comparison table (same columns as the Markdown one); run names link to `links[i]` when given. */
function runsTable(runs: readonly LoadedRun[], links: readonly (string | undefined)[] = []): string {
  const rows = runs.map((r) => r.row);
  const cols = columnsFor(rows);
  const head = `<tr>${cols.map((c) => `<th>${esc(c.header)}</th>`).join('')}</tr>`;
  const body = rows.map((r, i) =>
    `<tr>${cols
      .map((c, j) => {
        const text = esc(c.cell(r));
        const cell = j === 0 && links[i] ? `<a href="${esc(links[i] as string)}">${text}</a>` : text;
        return `<td${c.numeric ? ' class="num"' : ''}>${cell}</td>`;
      })
      .join('')}</tr>`,
  );
  return `<table>\n${head}\n${body.join('\n')}\n</table>`;
}

function notes(run: LoadedRun): string[] {
  const out: string[] = [];
  if (!run.hasSummary) out.push(`${run.label}: no summary.json (run in progress or interrupted); figures derived from metrics.jsonl`);
  if (run.tornTail) out.push(`${run.label}: metrics.jsonl ends with an incomplete line (ignored)`);
  return out;
}

/** A self-contained HTML page (the reports' style; no scripts, no external resources). */
export function htmlPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

const chartsBlock = (svgs: readonly string[]) => `<div class="charts">\n${svgs.join('\n')}</div>`;
const notesBlock = (list: string[]) => list.map((n) => `<p class="note">${esc(n)}</p>`).join('\n');
const LOSS_CAPTION =
  '<p class="muted">Train loss is smoothed with an exponential moving average when there are more than 20 points (raw values faint for a single run); x is training forward passes, evaluation excluded.</p>';

/** report.html of one run: summary, charts, config. `charts` are the inline SVG documents. */
export function runReportHtml(run: LoadedRun, charts: { loss: string; devAcc: string }): string {
  const title = `zotune run ${run.label}`;
  const summaryPairs = flatten(run.summary);
  return htmlPage(
    title,
    [
      `<h1>${esc(title)}</h1>`,
      `<p class="muted">${esc(run.dir)} · ${run.metrics.length} metric records</p>`,
      notesBlock(notes(run)),
      '<h2>Result</h2>',
      runsTable([run]),
      '<h2>Curves</h2>',
      chartsBlock([charts.loss, charts.devAcc]),
      LOSS_CAPTION,
      '<h2>Summary (summary.json)</h2>',
      keyValueTable(summaryPairs, 'no summary.json'),
      '<h2>Configuration (config.json)</h2>',
      keyValueTable(flatten(run.config), 'no config.json'),
    ].join('\n'),
  );
}

/** Config keys whose values differ between the runs: what the comparison is about. */
export function configDifferences(runs: readonly LoadedRun[]): { keys: string[]; values: string[][] } {
  const maps = runs.map((r) => new Map(flatten(r.config)));
  const all = [...new Set(maps.flatMap((m) => [...m.keys()]))];
  const keys = all.filter((k) => new Set(maps.map((m) => m.get(k) ?? '–')).size > 1);
  return { keys, values: maps.map((m) => keys.map((k) => m.get(k) ?? '–')) };
}

/** The comparison page of several runs. `links[i]` is the relative href of run i's own report. */
export function comparisonHtml(runs: readonly LoadedRun[], charts: { loss: string; devAcc: string }, links: readonly (string | undefined)[] = []): string {
  const title = `zotune comparison of ${runs.length} runs`;
  const diff = configDifferences(runs);
  const diffTable = diff.keys.length
    ? `<table>\n<tr><th>run</th>${diff.keys.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>\n${runs
        .map((r, i) => `<tr><td>${esc(r.label)}</td>${diff.values[i].map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`)
        .join('\n')}\n</table>`
    : '<p class="muted">the runs have identical config.json</p>';
  return htmlPage(
    title,
    [
      `<h1>${esc(title)}</h1>`,
      notesBlock(runs.flatMap(notes)),
      '<h2>Results</h2>',
      runsTable(runs, links),
      '<h2>Curves</h2>',
      chartsBlock([charts.loss, charts.devAcc]),
      LOSS_CAPTION,
      '<h2>Configuration differences</h2>',
      diffTable,
      '<h2>Run directories</h2>',
      `<ul>\n${runs.map((r) => `<li><code>${esc(r.label)}</code>: ${esc(r.dir)}</li>`).join('\n')}\n</ul>`,
    ].join('\n'),
  );
}
