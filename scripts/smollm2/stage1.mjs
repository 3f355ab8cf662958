// Issue 23, stage 1 (docs/results/smollm2-evidence.md): which tasks SmolLM2-135M learns under MeZO,
// their ranking, and the split into held-out evaluation and meta-training tasks.
// usage: node scripts/smollm2/stage1.mjs [--expect N] [--tokens FILE] [--stage2-spec FILE --lora-lr X] RUN_DIR...
// (stage-1 run directories or their committed records: config.json + metrics.jsonl each)
// Rules (fixed before the runs): a task learns if its dev accuracy at the last eval is >= 5 points above
// step 0's and its dev loss there is lower; learning tasks are ranked by that gain (ties: the larger
// dev-loss drop); fewer than two learning tasks means stage 1 is rerun at 1,000 forward passes on the
// tasks whose dev loss fell.
// The split, as amended at 20:15 UTC in session 13 (the sizing amendment: the cost of a task is its
// packed tokens per batch of 16, --tokens FILE, docs/results/smollm2/tokens.json by default):
// - held-out = the first three learning tasks, by rank, of at most EVAL_TOKENS tokens; fewer than two
//   such: the other learning tasks of at most META_TOKENS tokens, fewest tokens first, complete it to two;
// - meta-training = every other learning task of at most META_TOKENS tokens and, if fewer than two, the
//   non-learning tasks (at most META_TOKENS) with the largest dev-loss drop; never a held-out task.
// (Before the amendment: held-out = ranks 1, 3, 5 and meta-training = ranks 2, 4, 6, ..., any length.)
// --stage2-spec FILE writes stage 2's sweep spec to FILE, atomically: LoRA-ZO (r 8, alpha 16, q,v) at
// stage 0L's lr (--lora-lr) on the held-out tasks, seeds 0 and 1, 2,000 forward passes, dev every 125 steps.
// The meta-training command printed is the amended one (LoRA, --meta-lr = the LoRA lr, 180 meta steps).
// --expect N refuses to print a split until N finished runs are given (12 after the amendment).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
let expect = 0;
let stage2Spec;
let tokensFile = new URL('../../docs/results/smollm2/tokens.json', import.meta.url).pathname;
let loraLr;
/** the sizing amendment's limits, packed tokens per batch of 16 */
const EVAL_TOKENS = 600;
const META_TOKENS = 2000;
while (args[0]?.startsWith('--')) {
  const [flag, value] = args.splice(0, 2);
  if (flag === '--expect') {
    expect = Number(value);
    if (!Number.isInteger(expect) || expect < 1) {
      console.error(`stage1: --expect must be a positive integer, got ${value}`);
      process.exit(2);
    }
  } else if (flag === '--stage2-spec' && value) stage2Spec = value;
  else if (flag === '--tokens' && value) tokensFile = value;
  else if (flag === '--lora-lr' && value) {
    loraLr = Number(value);
    if (!(loraLr > 0)) {
      console.error(`stage1: --lora-lr must be a positive number, got ${value}`);
      process.exit(2);
    }
  } else {
    console.error(`stage1: unknown option ${flag}${['--stage2-spec', '--tokens'].includes(flag) ? ' (expected a file after it)' : flag === '--lora-lr' ? ' (expected a number after it)' : ''}`);
    process.exit(2);
  }
}
if (stage2Spec && loraLr === undefined) {
  console.error('stage1: --stage2-spec needs --lora-lr X (stage 0L\'s LoRA lr)');
  process.exit(2);
}
if (args.length === 0) {
  console.error('usage: node scripts/smollm2/stage1.mjs [--expect N] [--tokens FILE] [--stage2-spec FILE --lora-lr X] RUN_DIR...');
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
const tokens = readJson(tokensFile);
const cost = (r) => {
  const t = tokens[r.task];
  if (!Number.isFinite(t)) {
    console.error(`stage1: ${tokensFile}: no token count for task ${r.task} (node scripts/smollm2/tokens.mjs --out FILE TASK...)`);
    process.exit(1);
  }
  return t;
};
const heldOut = learning.filter((r) => cost(r) <= EVAL_TOKENS).slice(0, 3).map((r) => r.task);
if (heldOut.length < 2) {
  const extra = learning.filter((r) => !heldOut.includes(r.task) && cost(r) <= META_TOKENS).sort((a, b) => cost(a) - cost(b));
  heldOut.push(...extra.slice(0, 2 - heldOut.length).map((r) => r.task));
}
const meta = learning.filter((r) => !heldOut.includes(r.task) && cost(r) <= META_TOKENS).map((r) => r.task);
if (meta.length < 2) {
  const extra = finished.filter((r) => !r.learns && r.lossDrop > 0 && cost(r) <= META_TOKENS).sort((a, b) => b.lossDrop - a.lossDrop);
  meta.push(...extra.slice(0, 2 - meta.length).map((r) => r.task));
}
const tok = (task) => `${task} (${tokens[task]} tokens)`;
console.log(`held-out: ${heldOut.join(', ')}`);
console.log(`meta-training: ${meta.join(', ')}`);
console.log(`cost per batch of 16: ${[...heldOut, ...meta].map(tok).join(', ')}; limits ${EVAL_TOKENS} (held-out), ${META_TOKENS} (meta-training)`);
console.log(`rank 1: ${learning[0].task} (the demo was fixed on mr by the amendment of 16:35 UTC, session 12)`);
if (stage2Spec) {
  const spec = {
    description: `Issue 23 stage 2 (protocol: docs/results/smollm2-evidence.md, as amended at 20:15 UTC in session 13): the budget F. LoRA-ZO (r 8, alpha 16, q,v) MeZO at stage 0L's lr ${loraLr} on the held-out tasks (${heldOut.join(', ')}, from stage 1), seeds 0 and 1, 2,000 forward passes, dev 200 examples every 125 steps; test not read (1 example). Written by scripts/smollm2/stage1.mjs.`,
    grid: { model: ['smollm2-135m'], task: heldOut, method: ['lora'], eps: [0.001], seed: [0, 1], forwardPasses: [2000], engine: ['ort'] },
    methods: { lora: { estimator: 'mezo', policy: 'none', peft: 'lora', loraRank: 8, loraAlpha: 16, loraTargets: 'q_proj,v_proj', lr: loraLr } },
    options: { batch: 16, evalN: 200, testN: 1, evalEvery: 125 },
    threads: 2,
  };
  const tmp = `${stage2Spec}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(spec, null, 2)}\n`);
  renameSync(tmp, stage2Spec);
  console.log(`stage 2's sweep spec: ${stage2Spec} (zotune sweep ${stage2Spec} --out runs/smollm2-budget --workers 1)`);
}
console.log(`\nzotune meta-train --model smollm2-135m --tasks ${meta.join(',')} --meta-grad spsa --spsa-directions 16 \\\n  --meta-lr ${loraLr ?? 'LORA_LR'} --max-steps 180 \\\n  --peft lora --lora-rank 8 --lora-alpha 16 --lora-targets q_proj,v_proj --seed 0 --threads 2 --out runs/smollm2-meta --publish smollm2-135m/default`);
