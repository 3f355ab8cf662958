// Issue 23, stage 4 (docs/results/smollm2-evidence.md, as amended at 20:15 UTC in session 13): the decisive
// comparison's sweep spec, from stage 3's tuned settings.
// usage: node scripts/smollm2/stage4.mjs --spec FILE --tasks T1,T2 --budget F --policy REF --control REF
//          --mezo LR --mezo-policy LR --guided M:LR --guided-policy M:LR [--threads 2]
// writes to FILE, atomically: LoRA-ZO (r 8, alpha 16, q,v) on the held-out tasks, seeds 2-7 (0 and 1 tuned
// stage 3), F forward passes, dev 200 examples 5 times per run, the whole test split (at most 1,000) read
// once at the end from the best-dev checkpoint; the four arms each at its own tuned lr (and M), and the
// untrained control (REF --control: the meta-training command with --lr-mlp 0, the same starting networks)
// with MeZO at the policy arm's lr. Its compare section pairs every arm with MeZO by seed and the trained
// policy with the untrained one, so `zotune sweep report DIR` gives the sign tests. The sweep runs the tasks
// in the order given, seed by seed, every method of a seed together (so a stopped sweep leaves whole pairs);
// each run on --threads ORT threads (the local pool runs cores / threads at once; threads change no result).
import { renameSync, writeFileSync } from 'node:fs';
import { LORA, STAGE4_ARMS, guidedWith } from './protocol.mjs';

const fail = (line) => {
  console.error(`stage4: ${line}`);
  process.exit(2);
};
const FLAGS = ['spec', 'tasks', 'budget', 'policy', 'control', 'mezo', 'mezo-policy', 'guided', 'guided-policy', 'threads'];
const args = process.argv.slice(2);
const flags = { threads: '2' };
while (args.length > 0) {
  const [flag, value] = args.splice(0, 2);
  if (!flag.startsWith('--') || !FLAGS.includes(flag.slice(2))) fail(`unknown option ${flag}`);
  if (value === undefined || value.startsWith('--')) fail(`${flag}: expected a value after it`);
  flags[flag.slice(2)] = value;
}
for (const f of FLAGS) if (flags[f] === undefined) fail(`--${f} is required`);

const lrOf = (flag, text) => {
  const lr = Number(text);
  if (!(lr > 0)) fail(`--${flag}: expected a positive learning rate, got ${text}`);
  return lr;
};
/** guided's tuned setting, M:LR with M 4 or 8 (stage 3's grid) */
const guidedOf = (flag) => {
  const m = /^([48]):(.+)$/.exec(flags[flag]);
  if (!m) fail(`--${flag}: expected M:LR with M 4 or 8 (stage 3's grid), got ${flags[flag]}`);
  return { candidates: Number(m[1]), lr: lrOf(flag, m[2]) };
};
const budget = Number(flags.budget);
if (!(Number.isInteger(budget) && budget >= 2)) fail(`--budget: expected a whole number of forward passes (at least 2), got ${flags.budget}`);
const tasks = flags.tasks.split(',').filter(Boolean);
if (tasks.length === 0) fail('--tasks: expected a comma-separated list of tasks');
const threads = Number(flags.threads);
if (!(Number.isInteger(threads) && threads >= 1)) fail(`--threads: expected a whole number of at least 1, got ${flags.threads}`);

const guided = guidedOf('guided');
const guidedPolicy = guidedOf('guided-policy');
const methods = {
  mezo: { estimator: 'mezo', policy: 'none', ...LORA, lr: lrOf('mezo', flags.mezo) },
  'mezo+policy': { estimator: 'mezo', policy: flags.policy, ...LORA, lr: lrOf('mezo-policy', flags['mezo-policy']) },
  guided: { ...guidedWith(guided.candidates), policy: 'none', ...LORA, lr: guided.lr },
  'guided+policy': { ...guidedWith(guidedPolicy.candidates), policy: flags.policy, ...LORA, lr: guidedPolicy.lr },
  // the untrained control: the same starting networks, at the policy arm's lr
  'mezo+init': { estimator: 'mezo', policy: flags.control, ...LORA, lr: lrOf('mezo-policy', flags['mezo-policy']) },
};
const spec = {
  description: `Issue 23 stage 4 (protocol: docs/results/smollm2-evidence.md, as amended at 20:15 UTC in session 13): the decisive comparison on the held-out ${tasks.join(', ')}. LoRA-ZO (r 8, alpha 16, q,v), seeds 2-7, ${budget} forward passes (budget F), each arm at its stage-3 tuned lr (and M); the untrained control (${flags.control}) at the policy arm's lr. Test: the whole split (at most 1,000), the best-dev checkpoint. Written by scripts/smollm2/stage4.mjs.`,
  grid: { model: ['smollm2-135m'], task: tasks, method: Object.keys(methods), eps: [0.001], seed: [2, 3, 4, 5, 6, 7], forwardPasses: [budget], engine: ['ort'] },
  methods,
  options: { batch: 16, evalN: 200, testN: 1000 },
  threads,
  compare: {
    pairs: STAGE4_ARMS.map((t) => ({ baseline: 'mezo', treatment: t, label: `${t} vs MeZO` })),
    controls: [{ baseline: 'mezo', treatment: 'mezo+policy', control: 'mezo+init', label: 'trained vs untrained policy' }],
  },
};
const tmp = `${flags.spec}.tmp-${process.pid}`;
writeFileSync(tmp, `${JSON.stringify(spec, null, 2)}\n`);
renameSync(tmp, flags.spec);
console.log(`stage 4's sweep spec: ${flags.spec} (5 methods x ${tasks.length} tasks x 6 seeds = ${5 * tasks.length * 6} runs)`);
