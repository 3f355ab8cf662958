// Issue 23, stage 3 (docs/results/smollm2-evidence.md, as amended at 20:15 UTC in session 13): each arm's lr
// (and guided's M) on dev, on one held-out task.
// usage:
//   node scripts/smollm2/stage3.mjs --spec FILE --task T --lr L --budget F --policy REF [--seeds 0,1] [--threads 2]
//       writes stage 3's sweep spec to FILE, atomically: LoRA-ZO (r 8, alpha 16, q,v) on task T, the seeds (the
//       second amendment, 23:30 UTC in session 14, runs seed 0 only),
//       F forward passes, dev 200 examples 5 times per run, the last at its end (test: 1 example, not read); the arms
//       mezo, mezo+policy, guided4, guided8, guided4+policy, guided8+policy (guided: alpha 0.5, normalised),
//       each at L/3.16, L, 3.16·L; REF = the meta-trained policy (a registry reference or a .zpol file); each
//       run on --threads ORT threads (the local pool runs cores / threads at once; threads change no result)
//   node scripts/smollm2/stage3.mjs [--json FILE] RUN_DIR...
//       applies the rule to the finished runs: a method's final dev loss at an lr = the mean over its seeds of
//       the dev loss at its last evaluation; its tuned lr = the lowest of those (ties: the smaller lr); an
//       arm's tuned setting = its method with the lowest loss at its tuned lr (guided: M 4 or 8; ties: M 4); the
//       scan's best arm = the arm other than MeZO with the lowest tuned loss (ties: the first of MeZO + policy,
//       guided, guided + policy); --json FILE also writes them there, as { arms: { ARM: { method, lr, loss } }, scanArm }.
import { ARMS, HALF_DECADE, parseSpecFlags, readStageRun, round3, stage3Methods, writeJsonFile } from './protocol.mjs';

const fail = (code, line) => {
  console.error(`stage3: ${line}`);
  process.exit(code);
};
const args = process.argv.slice(2);
if (args.length === 0) fail(2, 'usage: node scripts/smollm2/stage3.mjs --spec FILE --task T --lr L --budget F --policy REF [--seeds 0,1] [--threads 2] | RUN_DIR...');

// --json FILE before the run directories: also write the tuned settings there (what pipeline.mjs reads)
let jsonOut;
if (args[0] === '--json') {
  jsonOut = args[1];
  if (jsonOut === undefined || args.length < 3) fail(2, 'usage: node scripts/smollm2/stage3.mjs [--json FILE] RUN_DIR...');
  args.splice(0, 2);
}

if (args[0].startsWith('--')) {
  const { spec: file, task, lr, budget, policy, seeds, threads } = parseSpecFlags('stage3', args, { spec: undefined, task: undefined, lr: undefined, budget: undefined, policy: undefined, seeds: '0,1', threads: '2' });
  const spec = {
    description: `Issue 23 stage 3 (protocol: docs/results/smollm2-evidence.md, as amended at 20:15 UTC in session 13 and 23:30 UTC in session 14): each arm's lr and guided's M on ${task}'s dev. LoRA-ZO (r 8, alpha 16, q,v), seeds ${seeds.join(', ')}, ${budget} forward passes (budget F, stage 2), lr ${round3(lr / HALF_DECADE)}, ${lr}, ${round3(lr * HALF_DECADE)} (stage 0L's lr and its half-decade neighbours); the policy arms use ${policy}. Test not read (1 example). Written by scripts/smollm2/stage3.mjs.`,
    grid: { model: ['smollm2-135m'], task: [task], method: Object.values(ARMS).flat(), lr: [round3(lr / HALF_DECADE), lr, round3(lr * HALF_DECADE)], eps: [0.001], seed: seeds, forwardPasses: [budget], engine: ['ort'] },
    methods: stage3Methods(policy),
    // no evalEvery: a step is 2 passes for MeZO and M + 2 for guided, so each run takes finetune's default
    // (5 dev evaluations spread over its own steps, the last at its end)
    options: { batch: 16, evalN: 200, testN: 1 },
    threads,
  };
  writeJsonFile(file, spec);
  console.log(`stage 3's sweep spec: ${file} (${spec.grid.method.length} methods x 3 lrs x ${seeds.length} seeds = ${spec.grid.method.length * 3 * seeds.length} runs)`);
  process.exit(0);
}

// a non-finite dev loss is NaN: a diverged run, whose mean is then not finite
const runs = args.map((dir) => readStageRun('stage3', dir, 'not a stage-3 run directory (<task>-<method>-s<seed>-<hash>, method mezo, guided4 or guided8, each with or without +policy)'));
const unfinished = runs.filter((r) => !r.finished);
if (unfinished.length > 0) {
  console.log(`unfinished: ${unfinished.map((r) => `${r.method} lr ${r.lr} seed ${r.seed}`).join(', ')}`);
  process.exit(0);
}
const methods = [...new Set(runs.map((r) => r.method))];
const lrs = [...new Set(runs.map((r) => r.lr))].sort((a, b) => a - b);
const mean = (method, lr) => {
  const xs = runs.filter((r) => r.method === method && r.lr === lr).map((r) => r.loss);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
};
console.log(`| method | ${lrs.join(' | ')} | tuned lr |`);
console.log(`|---|${lrs.map(() => '---:|').join('')}---:|`);
const tuned = new Map();
for (const m of methods) {
  // the lowest finite mean; ascending lrs and a strict < give ties to the smaller lr
  let best;
  for (const lr of lrs) if (Number.isFinite(mean(m, lr)) && (best === undefined || mean(m, lr) < mean(m, best))) best = lr;
  tuned.set(m, best);
  console.log(`| ${m} | ${lrs.map((lr) => (Number.isFinite(mean(m, lr)) ? mean(m, lr).toFixed(4) : '—')).join(' | ')} | ${best ?? 'none'} |`);
}
console.log('');
/** arm -> its tuned method, lr and mean final dev loss */
const arms = {};
for (const [arm, candidates] of Object.entries(ARMS)) {
  const present = candidates.filter((m) => tuned.get(m) !== undefined);
  if (present.length === 0) {
    console.log(`${arm}: no finished runs`);
    continue;
  }
  const best = present.reduce((b, m) => (mean(m, tuned.get(m)) < mean(b, tuned.get(b)) ? m : b));
  arms[arm] = { method: best, lr: tuned.get(best), loss: mean(best, tuned.get(best)) };
  console.log(`${arm}: ${best} at lr ${tuned.get(best)} (mean final dev loss ${arms[arm].loss.toFixed(4)})`);
}
// the scan's best arm (second amendment): the arm other than MeZO with the lowest tuned loss; ties: ARMS' order
const others = Object.keys(ARMS).filter((a) => a !== 'MeZO' && arms[a] !== undefined);
const scanArm = others.length > 0 ? others.reduce((b, a) => (arms[a].loss < arms[b].loss ? a : b)) : undefined;
if (scanArm) console.log(`\nthe scan's best arm: ${scanArm} (${arms[scanArm].method})`);
if (jsonOut !== undefined) writeJsonFile(jsonOut, { arms, scanArm: scanArm ?? null });
