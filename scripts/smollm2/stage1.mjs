// Issue 23, stage 1 (docs/results/smollm2-evidence.md): which tasks SmolLM2-135M learns under MeZO,
// their ranking, and the split into held-out evaluation and meta-training tasks.
// usage: node scripts/smollm2/stage1.mjs [--expect N] RUN_DIR...   (stage-1 run directories or their
// committed records: config.json + metrics.jsonl each)
// Rules (fixed before the runs): a task learns if its dev accuracy at the last eval is >= 5 points above
// step 0's and its dev loss there is lower; learning tasks are ranked by that gain (ties: the larger
// dev-loss drop); held-out = ranks 1, 3, 5 (at most three); meta-training = ranks 2, 4, 6, ... and, if
// fewer than two, the non-learning tasks with the largest dev-loss drop; fewer than two learning tasks
// means stage 1 is rerun at 1,000 forward passes on the tasks whose dev loss fell.
// The meta-training command printed uses lr1 = 3e-5 (the amendment of 17:05 UTC, session 12); it runs
// after stage 2, with --peft lora --lora-rank 8 --lora-alpha 16 --lora-targets q,v if stage 2 picks LoRA-ZO.
// --expect N refuses to print a split until N finished runs are given (the sweep has 14).
// --stage2-spec FILE also writes stage 2's sweep spec (the held-out tasks, seeds 0 and 1, lr1 = 3e-5,
// 4,000 forward passes, dev every 250 steps) to FILE, atomically.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
let expect = 0;
let stage2Spec;
while (args[0]?.startsWith('--')) {
  const [flag, value] = args.splice(0, 2);
  if (flag === '--expect') {
    expect = Number(value);
    if (!Number.isInteger(expect) || expect < 1) {
      console.error(`stage1: --expect must be a positive integer, got ${value}`);
      process.exit(2);
    }
  } else if (flag === '--stage2-spec' && value) stage2Spec = value;
  else {
    console.error(`stage1: unknown option ${flag}${flag === '--stage2-spec' ? ' (expected a file after it)' : ''}`);
    process.exit(2);
  }
}
if (args.length === 0) {
  console.error('usage: node scripts/smollm2/stage1.mjs [--expect N] [--stage2-spec FILE] RUN_DIR...');
  process.exit(2);
}

const readJson = (file) => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`stage1: ${file}: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
    process.exit(1);
  }
};

const rows = args.map((dir) => {
  const config = readJson(join(dir, 'config.json'));
  let text;
  try {
    text = readFileSync(join(dir, 'metrics.jsonl'), 'utf8');
  } catch {
    console.error(`stage1: ${join(dir, 'metrics.jsonl')}: missing`);
    process.exit(1);
  }
  const evals = text.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'eval');
  const first = evals[0], last = evals.at(-1);
  const finished = first?.step === 0 && last?.step === config.steps;
  const gain = finished ? Math.round((last.devAcc - first.devAcc) * 1000) / 10 : NaN; // points, one decimal
  const lossDrop = finished ? first.devLoss - last.devLoss : NaN;
  return {
    task: config.task, finished, acc: evals.map((e) => (e.devAcc * 100).toFixed(1)), loss0: first?.devLoss, lossEnd: last?.devLoss, gain, lossDrop,
    learns: finished && gain >= 5 && lossDrop > 0,
  };
});

console.log('| task | dev acc (each eval) | dev loss first → last | gain (points) | learns |');
console.log('|---|---|---|---:|---|');
for (const r of rows)
  console.log(`| ${r.task} | ${r.acc.join(' → ')} | ${r.loss0?.toFixed(3)} → ${r.lossEnd?.toFixed(3)} | ${r.finished ? r.gain.toFixed(1) : 'unfinished'} | ${r.finished ? (r.learns ? 'yes' : 'no') : '—'} |`);

const finished = rows.filter((r) => r.finished);
if (finished.length < expect) {
  console.log(`\n${finished.length} of ${expect} runs finished: no split yet.`);
  process.exit(0);
}
const byGain = (a, b) => b.gain - a.gain || b.lossDrop - a.lossDrop;
const learning = finished.filter((r) => r.learns).sort(byGain);
console.log(`\nranking: ${learning.map((r, i) => `${i + 1}. ${r.task} (+${r.gain.toFixed(1)})`).join(', ') || 'none'}`);
if (learning.length < 2) {
  const fell = finished.filter((r) => r.lossDrop > 0).map((r) => r.task);
  console.log(`fewer than two tasks learn: rerun stage 1 at 1,000 forward passes on ${fell.join(', ') || '(none: no dev loss fell)'}`);
  process.exit(0);
}
const heldOut = learning.filter((_, i) => i % 2 === 0).slice(0, 3).map((r) => r.task);
const meta = learning.filter((_, i) => i % 2 === 1).map((r) => r.task);
if (meta.length < 2) {
  const extra = finished.filter((r) => !r.learns && r.lossDrop > 0).sort((a, b) => b.lossDrop - a.lossDrop);
  meta.push(...extra.slice(0, 2 - meta.length).map((r) => r.task));
}
console.log(`held-out: ${heldOut.join(', ')}`);
console.log(`meta-training: ${meta.join(', ')}`);
console.log(`rank 1: ${learning[0].task} (the demo was fixed on mr by the amendment of 16:35 UTC, session 12)`);
if (stage2Spec) {
  const spec = {
    description: `Issue 23 stage 2 (protocol: docs/results/smollm2-evidence.md): the budget F. MeZO at lr1 = 3e-5 on the held-out tasks (${heldOut.join(', ')}, from stage 1), seeds 0 and 1, 4,000 forward passes, dev 200 examples every 250 steps; test not read (1 example). Written by scripts/smollm2/stage1.mjs.`,
    grid: { model: ['smollm2-135m'], task: heldOut, method: ['mezo'], lr: [3e-5], eps: [0.001], seed: [0, 1], forwardPasses: [4000], engine: ['ort'] },
    methods: { mezo: { estimator: 'mezo', policy: 'none' } },
    options: { batch: 16, evalN: 200, testN: 1, evalEvery: 250 },
    threads: 2,
  };
  const tmp = `${stage2Spec}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(spec, null, 2)}\n`);
  renameSync(tmp, stage2Spec);
  console.log(`stage 2's sweep spec: ${stage2Spec} (zotune sweep ${stage2Spec} --out runs/smollm2-budget --workers 1)`);
}
console.log(`\nzotune meta-train --model smollm2-135m --tasks ${meta.join(',')} --meta-grad spsa --spsa-directions 16 \\\n  --meta-lr 3e-5 --max-steps 360 --seed 0 --threads 2 --out runs/smollm2-meta --publish smollm2-135m/default`);
