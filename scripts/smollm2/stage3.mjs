// Issue 23, stage 3 (docs/results/smollm2-evidence.md, as amended at 20:15 UTC in session 13): each arm's lr
// (and guided's M) on dev, on one held-out task.
// usage:
//   node scripts/smollm2/stage3.mjs --spec FILE --task T --lr L --budget F --policy REF [--seeds 0,1] [--threads 2]
//       writes stage 3's sweep spec to FILE, atomically: LoRA-ZO (r 8, alpha 16, q,v) on task T, the seeds (the
//       second amendment, 23:40 UTC in session 14, runs seed 0 only),
//       F forward passes, dev 200 examples 5 times per run, the last at its end (test: 1 example, not read); the arms
//       mezo, mezo+policy, guided4, guided8, guided4+policy, guided8+policy (guided: alpha 0.5, normalised),
//       each at L/3.16, L, 3.16·L; REF = the meta-trained policy (a registry reference or a .zpol file); each
//       run on --threads ORT threads (the local pool runs cores / threads at once; threads change no result)
//   node scripts/smollm2/stage3.mjs RUN_DIR...
//       applies the rule to the finished runs: a method's final dev loss at an lr = the mean over its seeds of
//       the dev loss at its last evaluation; its tuned lr = the lowest of those (ties: the smaller lr); an
//       arm's tuned setting = its method with the lowest loss at its tuned lr (guided: M 4 or 8; ties: M 4).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** the half-decade step of the protocol's lr grids */
const HALF_DECADE = 3.16;
/** the four arms of stages 3-4 and the methods each may use */
const ARMS = {
  MeZO: ['mezo'],
  'MeZO + policy': ['mezo+policy'],
  guided: ['guided4', 'guided8'],
  'guided + policy': ['guided4+policy', 'guided8+policy'],
};

const fail = (code, line) => {
  console.error(`stage3: ${line}`);
  process.exit(code);
};
const args = process.argv.slice(2);
if (args.length === 0) fail(2, 'usage: node scripts/smollm2/stage3.mjs --spec FILE --task T --lr L --budget F --policy REF [--seeds 0,1] [--threads 2] | RUN_DIR...');

if (args[0].startsWith('--')) {
  const flags = { seeds: '0,1', threads: '2' };
  while (args.length > 0) {
    const [flag, value] = args.splice(0, 2);
    if (!['--spec', '--task', '--lr', '--budget', '--policy', '--seeds', '--threads'].includes(flag)) fail(2, `unknown option ${flag}`);
    if (value === undefined || value.startsWith('--')) fail(2, `${flag}: expected a value after it`);
    flags[flag.slice(2)] = value;
  }
  for (const f of ['spec', 'task', 'lr', 'budget', 'policy']) if (flags[f] === undefined) fail(2, `--${f} is required`);
  const lr = Number(flags.lr);
  if (!(lr > 0)) fail(2, `--lr must be a positive number, got ${flags.lr}`);
  const budget = Number(flags.budget);
  if (!(Number.isInteger(budget) && budget >= 2)) fail(2, `--budget must be a whole number of forward passes (at least 2), got ${flags.budget}`);
  const seeds = flags.seeds.split(',').map(Number);
  if (!seeds.every((x) => Number.isInteger(x) && x >= 0) || new Set(seeds).size !== seeds.length) fail(2, `--seeds must be distinct whole numbers separated by commas, got ${flags.seeds}`);
  const threads = Number(flags.threads);
  if (!(Number.isInteger(threads) && threads >= 1)) fail(2, `--threads must be a whole number of at least 1, got ${flags.threads}`);
  // round to 3 significant digits: 1e-3 / 3.16 = 3.16e-4, not 3.1645569…e-4
  const round = (x) => Number(x.toPrecision(3));
  const guided = (m) => ({ estimator: 'guided', candidates: m, alpha: 0.5, normalize: true });
  const spec = {
    description: `Issue 23 stage 3 (protocol: docs/results/smollm2-evidence.md, as amended at 20:15 UTC in session 13): each arm's lr and guided's M on ${flags.task}'s dev. LoRA-ZO (r 8, alpha 16, q,v), seeds ${seeds.join(', ')}, ${budget} forward passes (budget F, stage 2), lr ${round(lr / HALF_DECADE)}, ${lr}, ${round(lr * HALF_DECADE)} (stage 0L's lr and its half-decade neighbours); the policy arms use ${flags.policy}. Test not read (1 example). Written by scripts/smollm2/stage3.mjs.`,
    grid: { model: ['smollm2-135m'], task: [flags.task], method: Object.values(ARMS).flat(), lr: [round(lr / HALF_DECADE), lr, round(lr * HALF_DECADE)], eps: [0.001], seed: seeds, forwardPasses: [budget], engine: ['ort'] },
    methods: {},
    // no evalEvery: a step is 2 passes for MeZO and M + 2 for guided, so each run takes finetune's default
    // (5 dev evaluations spread over its own steps, the last at its end)
    options: { batch: 16, evalN: 200, testN: 1 },
    threads,
  };
  const lora = { peft: 'lora', loraRank: 8, loraAlpha: 16, loraTargets: 'q_proj,v_proj' };
  spec.methods.mezo = { estimator: 'mezo', policy: 'none', ...lora };
  spec.methods['mezo+policy'] = { estimator: 'mezo', policy: flags.policy, ...lora };
  for (const m of [4, 8]) {
    spec.methods[`guided${m}`] = { ...guided(m), policy: 'none', ...lora };
    spec.methods[`guided${m}+policy`] = { ...guided(m), policy: flags.policy, ...lora };
  }
  const tmp = `${flags.spec}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(spec, null, 2)}\n`);
  renameSync(tmp, flags.spec);
  console.log(`stage 3's sweep spec: ${flags.spec} (${spec.grid.method.length} methods x 3 lrs x ${seeds.length} seeds = ${spec.grid.method.length * 3 * seeds.length} runs)`);
  process.exit(0);
}

const readText = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    fail(1, `${file}: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  }
};
const parse = (file, text) => {
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(1, `${file}: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  }
};
const runs = args.map((dir) => {
  // finetune's config.json has no method name: the sweep's run key (<task>-<method>-s<seed>-<hash>, with
  // the method's + written as -) names it
  const key = /-((?:mezo|guided[48])(?:-policy)?)-s\d+-[0-9a-f]{10}$/.exec(dir.replace(/\/+$/, ''));
  const method = key?.[1].replace('-policy', '+policy');
  if (!method) fail(1, `${dir}: not a stage-3 run directory (<task>-<method>-s<seed>-<hash>, method mezo, guided4 or guided8, each with or without +policy)`);
  const config = parse(join(dir, 'config.json'), readText(join(dir, 'config.json')));
  const events = readText(join(dir, 'metrics.jsonl')).trim().split('\n').map((l) => parse(join(dir, 'metrics.jsonl'), l));
  const last = events.filter((e) => e.event === 'eval').at(-1);
  const finished = last !== undefined && last.step === config.steps;
  // a non-finite dev loss is written as null (JSON has no NaN): a diverged run, whose mean is then not finite
  return { dir, method, lr: config.lr, seed: config.seed, finished, loss: typeof last?.devLoss === 'number' ? last.devLoss : NaN };
});
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
for (const [arm, candidates] of Object.entries(ARMS)) {
  const present = candidates.filter((m) => tuned.get(m) !== undefined);
  if (present.length === 0) {
    console.log(`${arm}: no finished runs`);
    continue;
  }
  const best = present.reduce((b, m) => (mean(m, tuned.get(m)) < mean(b, tuned.get(b)) ? m : b));
  console.log(`${arm}: ${best} at lr ${tuned.get(best)} (mean final dev loss ${mean(best, tuned.get(best)).toFixed(4)})`);
}
