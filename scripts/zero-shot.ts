// Zero-shot test accuracy of a model on every built-in task and every shipped task config, as a
// Markdown table (stdout); progress on stderr.
//   npx tsx scripts/zero-shot.ts [--model stories260K] [--seed 0] [--backend wasm] [--tasks sst2,copa,...] [--n N]
// --n N evaluates the first N test examples of each task (the same examples `zotune eval --n N` takes).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EvalReport } from '@zotune/finetune';
import { runEval } from '../apps/fine-tune/src/eval-run';
import { builtinTaskNames, TASK_CONFIG_DIR } from '../libs/tasks/src/index';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'stories260K' },
    seed: { type: 'string', default: '0' },
    backend: { type: 'string' },
    batch: { type: 'string', default: '64' },
    tasks: { type: 'string' },
    n: { type: 'string' },
  },
});

const shipped = readdirSync(TASK_CONFIG_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => join(TASK_CONFIG_DIR, f));
const tasks = values.tasks ? values.tasks.split(',') : [...builtinTaskNames(), ...shipped];

const rows: EvalReport[] = [];
for (const task of tasks) {
  const r = await runEval({ model: values.model, task, split: 'test', seed: values.seed, batch: values.batch, backend: values.backend, n: values.n }, (l) =>
    process.stderr.write(l + '\n'),
  );
  process.stderr.write(`  ${r.task}: ${(100 * r.accuracy).toFixed(1)}% (${r.examplesPerSecond.toFixed(0)} examples/s)\n`);
  rows.push(r);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;
const out = [
  `Zero-shot test accuracy of ${values.model} (seed ${values.seed}, backend ${rows[0]?.backend ?? '?'}):`,
  '',
  '| task | test examples | accuracy % | majority class % | examples/s |',
  '|---|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const majority = Math.max(...Object.values(r.perClass).map((c) => c.gold)) / r.n;
    return `| ${r.task} | ${r.n} | ${pct(r.accuracy)} | ${pct(majority)} | ${r.examplesPerSecond.toFixed(0)} |`;
  }),
];
process.stdout.write(out.join('\n') + '\n');
