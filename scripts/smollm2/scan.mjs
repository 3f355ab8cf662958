// Issue 23's lr scan (docs/results/smollm2-evidence.md, the second amendment, 23:30 UTC in session 14): MeZO
// and the best arm over two decades, lrᴸ/10 … 10·lrᴸ in half-decade steps, on stage 3's task and seeds.
// usage:
//   node scripts/smollm2/scan.mjs --spec FILE --task T --lr L --budget F --arm METHOD --policy REF [--seeds 0] [--threads 1]
//       writes the scan's sweep spec to FILE, atomically: MeZO and METHOD (the best arm's stage-3 method:
//       the arm other than MeZO with the lowest tuned final dev loss; mezo+policy, guided4, guided8,
//       guided4+policy or guided8+policy) at L/10 and 10·L, the same settings as stage 3 (whose runs at
//       L/3.16, L and 3.16·L are the scan's three middle lrs)
//   node scripts/smollm2/scan.mjs RUN_DIR...
//       the stable range of each method over the scan's runs and stage 3's: diverged = a final dev loss that is
//       not finite or above 1.1x the base model's (the run's dev loss at step 0); the stable range reaches the
//       largest lr with no diverged seed
import { HALF_DECADE, parseSpecFlags, readStageRun, round3, stage3Methods, writeJsonFile } from './protocol.mjs';

const fail = (code, line) => {
  console.error(`scan: ${line}`);
  process.exit(code);
};
const args = process.argv.slice(2);
if (args.length === 0) fail(2, 'usage: node scripts/smollm2/scan.mjs --spec FILE --task T --lr L --budget F --arm METHOD --policy REF [--seeds 0] [--threads 1] | RUN_DIR...');

if (args[0].startsWith('--')) {
  const flags = parseSpecFlags('scan', args, { spec: undefined, task: undefined, lr: undefined, budget: undefined, arm: undefined, policy: undefined, seeds: '0', threads: '1' });
  const { lr, budget, seeds, threads } = flags;
  const all = stage3Methods(flags.policy);
  if (flags.arm === 'mezo' || !(flags.arm in all)) fail(2, `--arm must be one of stage 3's methods other than mezo (${Object.keys(all).filter((m) => m !== 'mezo').join(', ')}), got ${flags.arm}`);
  const lrs = [round3(lr / 10), round3(lr * 10)];
  const spec = {
    description: `Issue 23's lr scan (protocol: docs/results/smollm2-evidence.md, the second amendment): MeZO and ${flags.arm} on ${flags.task}'s dev at lr ${lrs.join(' and ')} (stage 3's runs give ${round3(lr / HALF_DECADE)}, ${lr}, ${round3(lr * HALF_DECADE)}). LoRA-ZO (r 8, alpha 16, q,v), seeds ${seeds.join(', ')}, ${budget} forward passes (budget F). Test not read (1 example). Written by scripts/smollm2/scan.mjs.`,
    grid: { model: ['smollm2-135m'], task: [flags.task], method: ['mezo', flags.arm], lr: lrs, eps: [0.001], seed: seeds, forwardPasses: [budget], engine: ['ort'] },
    methods: { mezo: all.mezo, [flags.arm]: all[flags.arm] },
    // as stage 3: finetune's default 5 dev evaluations per run, the last at its end
    options: { batch: 16, evalN: 200, testN: 1 },
    threads,
  };
  writeJsonFile(flags.spec, spec);
  console.log(`the scan's sweep spec: ${flags.spec} (2 methods x 2 lrs x ${seeds.length} seeds = ${4 * seeds.length} runs)`);
  process.exit(0);
}

const runs = args.map((dir) => {
  const r = readStageRun('scan', dir, 'not a stage-3 or scan run directory (<task>-<method>-s<seed>-<hash>)');
  if (r.base === undefined) fail(1, `${dir}: no dev evaluation at step 0 (the base model's dev loss)`);
  return { ...r, diverged: !(r.loss <= 1.1 * r.base) };
});
const unfinished = runs.filter((r) => !r.finished);
if (unfinished.length > 0) {
  console.log(`unfinished: ${unfinished.map((r) => `${r.method} lr ${r.lr} seed ${r.seed}`).join(', ')}`);
  process.exit(0);
}
const lrs = [...new Set(runs.map((r) => r.lr))].sort((a, b) => a - b);
console.log(`| method | ${lrs.join(' | ')} | stable up to |`);
console.log(`|---|${lrs.map(() => '---:|').join('')}---:|`);
for (const method of [...new Set(runs.map((r) => r.method))]) {
  const at = (lr) => runs.filter((r) => r.method === method && r.lr === lr);
  const cell = (lr) => {
    const rs = at(lr);
    if (rs.length === 0) return '—';
    const mean = rs.reduce((a, r) => a + r.loss, 0) / rs.length;
    const n = rs.filter((r) => r.diverged).length;
    return `${Number.isFinite(mean) ? mean.toFixed(4) : 'not finite'}${n > 0 ? ` (diverged: ${n} of ${rs.length})` : ''}`;
  };
  const stable = lrs.filter((lr) => at(lr).length > 0 && at(lr).every((r) => !r.diverged)).at(-1);
  console.log(`| ${method} | ${lrs.map(cell).join(' | ')} | ${stable ?? 'none'} |`);
}
