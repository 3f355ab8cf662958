// Issue 23, stage 0 (docs/results/smollm2-evidence.md): lr0 from the paired 60-step SST-2 runs, and
// stage 0L (the sizing amendment, 20:15 UTC session 13): LoRA's lr from the paired 250-step runs.
// usage: node scripts/smollm2/stage0.mjs RUN_DIR...   (`zotune finetune --steps N` run directories, one N)
// Rule (fixed before the runs): the chosen lr = the lowest mean training loss over the second half of the
// steps (31-60 for stage 0, 126-250 for stage 0L); a run is diverged (not choosable) if a loss is not
// finite or that mean exceeds 1.1x its steps 1-10 mean; ties go to the smaller lr. When the largest lr
// of the grid wins, the grid's next decade-half step up must be run too (stage 0L's rule) and this rerun.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows = process.argv.slice(2).map((dir) => {
  const { lr, steps } = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const events = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const loss = new Map(events.filter((e) => e.event === 'step').map((e) => [e.step, e.loss]));
  const window = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => loss.get(a + i));
  const early = window(1, 10), late = window(steps / 2 + 1, steps);
  const complete = [...early, ...late].every((x) => x !== undefined);
  const finite = [...loss.values()].every(Number.isFinite);
  const evals = events.filter((e) => e.event === 'eval');
  const r = { dir, lr, steps, early: complete ? mean(early) : NaN, late: complete ? mean(late) : NaN, devAcc0: evals[0]?.devAcc, devAccEnd: evals.at(-1)?.devAcc, devLoss0: evals[0]?.devLoss, devLossEnd: evals.at(-1)?.devLoss };
  r.diverged = !complete || !finite || r.late > 1.1 * r.early;
  return r;
});
rows.sort((a, b) => a.lr - b.lr);
const N = rows[0].steps;
if (rows.some((r) => r.steps !== N) || !Number.isInteger(N / 2) || N < 20) {
  console.error(`stage0: the runs must have one even step count of at least 20, got ${rows.map((r) => r.steps).join(', ')}`);
  process.exit(2);
}
console.log(`| lr | steps 1–10 mean loss | steps ${N / 2 + 1}–${N} mean loss | diverged | dev acc 0 → ${N} | dev loss 0 → ${N} |`);
console.log('|---:|---:|---:|---|---|---|');
for (const r of rows) console.log(`| ${r.lr} | ${r.early.toFixed(4)} | ${r.late.toFixed(4)} | ${r.diverged ? 'yes' : 'no'} | ${r.devAcc0} → ${r.devAccEnd} | ${r.devLoss0?.toFixed(4)} → ${r.devLossEnd?.toFixed(4)} |`);
const ok = rows.filter((r) => !r.diverged);
const best = ok.reduce((b, r) => (b === undefined || r.late < b.late ? r : b), undefined);
console.log(best ? `\nchosen lr = ${best.lr}` : '\nno lr qualifies');
if (best && best === rows.at(-1) && rows.length > 1) console.log('the largest lr of the grid won (stage 0L: run the next decade up too, then apply this again)');
