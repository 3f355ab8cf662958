// Issue 23, stage 0 (docs/results/smollm2-evidence.md): lr0 from the paired 60-step SST-2 runs.
// usage: node scripts/smollm2/stage0.mjs RUN_DIR...   (each a `zotune finetune --steps 60` run directory)
// Rule (fixed before the runs): lr0 = the lr with the lowest mean training loss over steps 31-60;
// a run is diverged (not choosable) if a loss is not finite or its steps 31-60 mean exceeds 1.1x
// its steps 1-10 mean; ties go to the smaller lr.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows = process.argv.slice(2).map((dir) => {
  const lr = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).lr;
  const events = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const loss = new Map(events.filter((e) => e.event === 'step').map((e) => [e.step, e.loss]));
  const window = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => loss.get(a + i));
  const early = window(1, 10), late = window(31, 60);
  const complete = [...early, ...late].every((x) => x !== undefined);
  const finite = [...loss.values()].every(Number.isFinite);
  const evals = events.filter((e) => e.event === 'eval');
  const r = { dir, lr, steps: loss.size, early: complete ? mean(early) : NaN, late: complete ? mean(late) : NaN, devAcc0: evals[0]?.devAcc, devAccEnd: evals.at(-1)?.devAcc, devLoss0: evals[0]?.devLoss, devLossEnd: evals.at(-1)?.devLoss };
  r.diverged = !complete || !finite || r.late > 1.1 * r.early;
  return r;
});
rows.sort((a, b) => a.lr - b.lr);
console.log('| lr | steps 1–10 mean loss | steps 31–60 mean loss | diverged | dev acc 0 → 60 | dev loss 0 → 60 |');
console.log('|---:|---:|---:|---|---|---|');
for (const r of rows) console.log(`| ${r.lr} | ${r.early.toFixed(4)} | ${r.late.toFixed(4)} | ${r.diverged ? 'yes' : 'no'} | ${r.devAcc0} → ${r.devAccEnd} | ${r.devLoss0?.toFixed(4)} → ${r.devLossEnd?.toFixed(4)} |`);
const ok = rows.filter((r) => !r.diverged);
const best = ok.reduce((b, r) => (b === undefined || r.late < b.late ? r : b), undefined);
console.log(best ? `\nlr0 = ${best.lr}` : '\nno lr qualifies');
