// Issue 23, the shipping rule (docs/results/smollm2-evidence.md; its reading below was fixed at 01:50 UTC on
// 2026-12-08, session 15, before any stage-4 run existed): does stage 4 change smollm2-135m's defaults?
// usage: node scripts/smollm2/ship.mjs --tasks T1,T2 [--json FILE] RUN_DIR...     (stage 4's run directories)
//
// The rule: the defaults change from MeZO without a policy only if one arm has the lower final dev loss in >= 5 of
// 6 pairs on every held-out task and a mean test accuracy no lower than MeZO's. Read as:
// - a pair = an arm's run and MeZO's run with the same task and seed (seeds 2-7); "lower" = the arm's final dev
//   loss is finite and below MeZO's (or MeZO's is not finite: a diverged run loses to any finite one);
// - on a task an arm *qualifies* with >= 5 wins in 6 finished pairs, and *fails* once 2 finished pairs are not
//   wins (it can no longer reach 5 of 6); otherwise the task is pending;
// - the mean test accuracy = the mean over all the arm's runs on the held-out tasks (6 seeds each, so every task
//   weighs the same), against MeZO's over the same tasks and seeds; read only when every run is finished;
// - if several arms pass, the one with the most wins over all tasks ships (ties: the higher mean test accuracy,
//   then the order mezo+policy, guided, guided+policy: the cheaper arm first);
// - the decision is "stay" as soon as every arm has failed (a stopped sweep can already settle it), "ship ARM"
//   when every run is finished and ARM passes, else "undecided".
// Printed: per task, each arm against MeZO (pairs won, mean final dev loss and test accuracy), the trained policy
// against the untrained control (mezo+init), and the decision; --json FILE also writes them there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STAGE4_ARMS as ARMS, STAGE4_METHODS as METHODS, writeJsonFile } from './protocol.mjs';

const SEEDS = [2, 3, 4, 5, 6, 7];

const fail = (code, line) => {
  console.error(`ship: ${line}`);
  process.exit(code);
};
const args = process.argv.slice(2);
const usage = 'usage: node scripts/smollm2/ship.mjs --tasks T1,T2 [--json FILE] RUN_DIR...';
let tasks;
let jsonOut;
while (args[0]?.startsWith('--')) {
  const [flag, value] = args.splice(0, 2);
  if (value === undefined || value.startsWith('--')) fail(2, `${flag}: expected a value after it`);
  if (flag === '--tasks') tasks = value.split(',').filter(Boolean);
  else if (flag === '--json') jsonOut = value;
  else fail(2, `unknown option ${flag} (${usage})`);
}
if (!tasks?.length) fail(2, `--tasks is required: the held-out tasks, e.g. --tasks sst2,mr (${usage})`);

/** stage 4's run key: <task>-<method>-s<seed>-<hash>, + written as - */
const KEY = new RegExp(`^(.+)-(${METHODS.map((m) => m.replace('+', '-')).join('|')})-s(\\d+)-[0-9a-f]{10}$`);
const keyOf = (dir) => KEY.exec(dir.replace(/\/+$/, '').split('/').at(-1));
const read = (file) => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if (e?.code === 'ENOENT') return undefined;
    fail(1, `${file}: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  }
};
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
/** task -> method -> seed -> { devLoss, testAcc } of the finished runs (a run is finished when it has summary.json) */
const runs = new Map(tasks.map((t) => [t, new Map(METHODS.map((m) => [m, new Map()]))]));
for (const dir of args) {
  const key = keyOf(dir);
  if (!key) fail(1, `${dir}: not a stage-4 run directory (<task>-<method>-s<seed>-<hash>, method one of ${METHODS.join(', ')})`);
  const [, task, rawMethod, seedText] = key;
  const method = rawMethod.replace('-', '+');
  if (!runs.has(task)) fail(1, `${dir}: task ${task} is not one of --tasks ${tasks.join(',')}`);
  const summary = read(join(dir, 'summary.json'));
  if (summary === undefined) continue;
  runs.get(task).get(method).set(Number(seedText), { devLoss: num(summary.finalDevLoss), testAcc: num(summary.testAcc) });
}

const better = (a, b) => Number.isFinite(a) && !(a >= b); // !(a >= b): b NaN counts as worse
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
/** treatment vs baseline on a task: finished pairs and wins by final dev loss */
function pairs(task, treatment, baseline) {
  const t = runs.get(task).get(treatment);
  const b = runs.get(task).get(baseline);
  const seeds = SEEDS.filter((s) => t.has(s) && b.has(s));
  return { n: seeds.length, wins: seeds.filter((s) => better(t.get(s).devLoss, b.get(s).devLoss)).length };
}
const values = (method, field, onTasks = tasks) => onTasks.flatMap((t) => [...runs.get(t).get(method).values()].map((r) => r[field]));
const complete = tasks.every((t) => METHODS.every((m) => SEEDS.every((s) => runs.get(t).get(m).has(s))));
const f4 = (x) => (Number.isFinite(x) ? x.toFixed(4) : '—');
const pct = (x) => (Number.isFinite(x) ? (100 * x).toFixed(1) : '—');

const verdicts = {};
for (const arm of ARMS) {
  const perTask = Object.fromEntries(tasks.map((t) => {
    const p = pairs(t, arm, 'mezo');
    const state = p.n - p.wins >= 2 ? 'fails' : p.n === SEEDS.length && p.wins >= 5 ? 'qualifies' : 'pending';
    return [t, { ...p, state }];
  }));
  const acc = mean(values(arm, 'testAcc'));
  const mezoAcc = mean(values('mezo', 'testAcc'));
  const accOk = complete ? acc >= mezoAcc : undefined;
  const failed = Object.values(perTask).some((x) => x.state === 'fails') || accOk === false;
  const passed = complete && Object.values(perTask).every((x) => x.state === 'qualifies') && accOk === true;
  verdicts[arm] = { perTask, testAcc: acc, mezoTestAcc: mezoAcc, wins: Object.values(perTask).reduce((a, x) => a + x.wins, 0), state: failed ? 'fails' : passed ? 'passes' : 'pending' };
}

for (const t of tasks) {
  console.log(`\n${t}: each arm against MeZO, paired by seed (seeds ${SEEDS.join(', ')})`);
  console.log('| method | runs | lower final dev loss than MeZO | mean final dev loss | mean test acc, % |');
  console.log('|---|---:|---:|---:|---:|');
  for (const m of METHODS) {
    const p = m === 'mezo' ? undefined : pairs(t, m, 'mezo');
    const note = m === 'mezo' ? '—' : `${p.wins}/${p.n}${ARMS.includes(m) ? ` (${verdicts[m].perTask[t].state})` : ' (control)'}`;
    // the mean over the finite final dev losses; the diverged runs are counted beside it
    const losses = values(m, 'devLoss', [t]);
    const diverged = losses.filter((x) => !Number.isFinite(x)).length;
    console.log(`| ${m} | ${runs.get(t).get(m).size} | ${note} | ${f4(mean(losses.filter(Number.isFinite)))}${diverged ? ` (${diverged} not finite)` : ''} | ${pct(mean(values(m, 'testAcc', [t])))} |`);
  }
  const c = pairs(t, 'mezo+policy', 'mezo+init');
  console.log(`trained policy vs the untrained control: lower final dev loss in ${c.wins}/${c.n} pairs`);
}
console.log('');
for (const arm of ARMS) {
  const v = verdicts[arm];
  console.log(`${arm}: ${v.state}; wins ${tasks.map((t) => `${t} ${v.perTask[t].wins}/${v.perTask[t].n}`).join(', ')}; mean test acc ${pct(v.testAcc)} % vs MeZO ${pct(v.mezoTestAcc)} %${complete ? '' : ' (not read until every run is finished)'}`);
}
const passing = ARMS.filter((a) => verdicts[a].state === 'passes');
const best = passing.reduce((b, a) => (b === undefined || verdicts[a].wins > verdicts[b].wins || (verdicts[a].wins === verdicts[b].wins && verdicts[a].testAcc > verdicts[b].testAcc) ? a : b), undefined);
const decision = best !== undefined ? `ship ${best}` : ARMS.every((a) => verdicts[a].state === 'fails') ? 'stay' : 'undecided';
const missing = tasks.reduce((a, t) => a + METHODS.reduce((b, m) => b + SEEDS.filter((s) => !runs.get(t).get(m).has(s)).length, 0), 0);
console.log(`\ndecision: ${decision}${decision === 'stay' ? ' (MeZO, no policy, at the lr stage 3 tuned for MeZO)' : ''}${missing ? ` (${missing} of ${tasks.length * METHODS.length * SEEDS.length} runs not finished)` : ''}`);
if (jsonOut !== undefined) writeJsonFile(jsonOut, { decision, arm: best ?? null, complete, missing, verdicts });
