// Issue 23, stage 2 (docs/results/smollm2-evidence.md): the budget F.
// usage: node scripts/smollm2/stage2.mjs RUN_DIR...   (stage-2 run directories or their records: as
// amended at 20:15 UTC in session 13, LoRA-ZO MeZO at stage 0L's lr on each held-out task, seeds 0 and 1,
// 2,000 forward passes, dev every 125 steps; before it, full-parameter at lr0, 4,000 passes)
// Rules (fixed before stage 2 ran; the readings of the protocol's words are the comments below):
// - "the mean dev loss" = the mean over every stage-2 run (tasks x seeds) at each dev evaluation, so one
//   curve and one F for all held-out tasks;
// - F = the fewest forward passes p > 0 among the evaluations at which mean(p) - mean(p + 1000) <
//   0.01 * mean(p), i.e. the loss falls by less than 1 % over the next 1,000 passes; CAP (2,000) when no
//   evaluation qualifies;
// - the sizing amendment fixed the mode (LoRA-ZO) before stage 2, so the old cost rule (above 12
//   machine-hours: LoRA) is gone; what is printed instead is stage 4's cost at F: 5 arms (4 + the
//   untrained control) x 6 seeds x held-out tasks x F/2 steps x the median seconds per step.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error('usage: node scripts/smollm2/stage2.mjs RUN_DIR...');
  process.exit(2);
}
const read = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    console.error(`stage2: ${file}: missing`);
    process.exit(1);
  }
};

const runs = dirs.map((dir) => {
  const config = JSON.parse(read(join(dir, 'config.json')));
  const events = read(join(dir, 'metrics.jsonl')).trim().split('\n').map((l) => JSON.parse(l));
  const dev = new Map(events.filter((e) => e.event === 'eval').map((e) => [e.forwardPasses, e.devLoss]));
  const stepSeconds = events.filter((e) => e.event === 'step' && Number.isFinite(e.stepSeconds)).map((e) => e.stepSeconds);
  return { dir, task: config.task, seed: config.seed, dev, stepSeconds, last: Math.max(...dev.keys()) };
});
const CAP = 2000;
const unfinished = runs.filter((r) => r.last < CAP);
if (unfinished.length > 0) {
  console.log(`unfinished (last dev evaluation before ${CAP} passes): ${unfinished.map((r) => `${r.task} seed ${r.seed} at ${r.last}`).join(', ')}`);
  process.exit(0);
}
const points = [...runs[0].dev.keys()].filter((p) => runs.every((r) => r.dev.has(p))).sort((a, b) => a - b);
const mean = (p) => runs.reduce((s, r) => s + r.dev.get(p), 0) / runs.length;
console.log('| forward passes | mean dev loss | drop over the next 1,000 |');
console.log('|---:|---:|---:|');
let F;
for (const p of points) {
  const next = points.includes(p + 1000) ? mean(p + 1000) : undefined;
  const drop = next === undefined ? undefined : (mean(p) - next) / mean(p);
  console.log(`| ${p} | ${mean(p).toFixed(4)} | ${drop === undefined ? '—' : `${(100 * drop).toFixed(2)} %`} |`);
  if (F === undefined && p > 0 && drop !== undefined && drop < 0.01) F = p;
}
F ??= CAP;
const all = runs.flatMap((r) => r.stepSeconds).sort((a, b) => a - b);
const median = all.length ? all[Math.floor(all.length / 2)] : NaN;
const tasks = new Set(runs.map((r) => r.task)).size;
const hours = (5 * 6 * tasks * (F / 2) * median) / 3600;
console.log(`\nbudget F = ${F} forward passes (${F / 2} MeZO steps)`);
console.log(`cost of stage 4: 5 arms x 6 seeds x ${tasks} tasks x ${F / 2} steps x ${median.toFixed(2)} s (median step) = ${hours.toFixed(1)} machine-hours`);
