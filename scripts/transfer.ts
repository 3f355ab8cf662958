// The transfer experiment of issue 6: does the policy meta-trained on SST-2 and COPA help on tasks it
// never saw? For every task × seed it fine-tunes with MeZO and the guided estimator, each without and
// with the policy, at the same budget of forward passes, by running the real CLI:
//   node apps/cli/bin/zotune.js finetune --model M --task T --estimator mezo|guided --policy REF|none
//        --forward-passes N --seed S --out DIR --json
// Every summary is kept in the results directory (a rerun skips finished runs and resumes killed
// ones); the Markdown table (final train loss and test accuracy, mean ± sd over seeds, and the share
// of (task, estimator) pairs where the policy variant wins) goes to stdout and to table.md.
//
//   node --import tsx scripts/transfer.ts --forward-passes 10000 --parallel 2 --out runs/transfer
//   scripts/transfer.sh --forward-passes 200 --seeds 0 --tasks cb   (a smoke run)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../libs/io/src/index';
import { controlTable, METHODS, tabulate, type Method, type Summary } from './transfer-table';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'apps/cli/bin/zotune.js');

const USAGE = `usage: node --import tsx scripts/transfer.ts [options]
  --model M             base model (default stories260K)
  --tasks LIST          tasks (default rte,cb,boolq,wsc,wic,multirc: the ones the shipped policy never saw)
  --seeds LIST          run seeds (default 0,1,2)
  --methods LIST        any of mezo,mezo+policy,guided,guided+policy (default all four)
  --forward-passes N    training budget of every run, in forward passes (default 10000)
  --policy REF          the policy of the +policy variants (default M: its shipped default policy)
  --parallel P          fine-tune processes at once (default 2)
  --out DIR             results directory (default runs/transfer); rerunning skips finished runs
  --finetune-args "..." extra flags for every finetune run, e.g. "--lr 1e-4 --test-n 500"
  --table-only          do not run anything, only tabulate the summaries in --out
  --control DIR         also compare with the policy runs in DIR (the same experiment run with an
                        untrained policy: --policy runs/policy-init/policy.zpol, see the README)
  --help`;

interface Options {
  model: string;
  tasks: string[];
  seeds: number[];
  methods: Method[];
  forwardPasses: number;
  policy: string;
  parallel: number;
  out: string;
  extra: string[];
  tableOnly: boolean;
  control?: string;
}

function fail(msg: string): never {
  process.stderr.write(`transfer: ${msg}\n`);
  process.exit(2);
}

function list(flag: string, v: string): string[] {
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) fail(`${flag}: expected a comma-separated list, got "${v}"`);
  return items;
}

function int(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`${flag}: expected an integer >= ${min}, got "${v}"`);
  return n;
}

function parseOptions(argv: string[]): Options {
  // parseArgs refuses a separate value that starts with '-': glue --finetune-args and its value
  const args = argv.flatMap((a, i) => (argv[i - 1] === '--finetune-args' ? [] : a === '--finetune-args' && i + 1 < argv.length ? [`${a}=${argv[i + 1]}`] : [a]));
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        model: { type: 'string', default: 'stories260K' },
        tasks: { type: 'string', default: 'rte,cb,boolq,wsc,wic,multirc' },
        seeds: { type: 'string', default: '0,1,2' },
        methods: { type: 'string', default: Object.keys(METHODS).join(',') },
        'forward-passes': { type: 'string', default: '10000' },
        policy: { type: 'string' },
        parallel: { type: 'string', default: '2' },
        out: { type: 'string', default: 'runs/transfer' },
        'finetune-args': { type: 'string', default: '' },
        'table-only': { type: 'boolean', default: false },
        control: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    fail(`${(e as Error).message.split('\n')[0]}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const methods = list('--methods', values.methods!).map((m) => {
    if (!(m in METHODS)) fail(`--methods: unknown method "${m}"; expected ${Object.keys(METHODS).join(', ')}`);
    return m as Method;
  });
  return {
    model: values.model!,
    tasks: list('--tasks', values.tasks!),
    seeds: list('--seeds', values.seeds!).map((s) => int('--seeds', s, 0)),
    methods,
    forwardPasses: int('--forward-passes', values['forward-passes']!, 1),
    policy: values.policy ?? values.model!,
    parallel: int('--parallel', values.parallel!, 1),
    out: resolve(values.out!),
    extra: values['finetune-args']!.split(/\s+/).filter(Boolean),
    tableOnly: values['table-only']!,
    control: values.control === undefined ? undefined : resolve(values.control),
  };
}

interface Job {
  task: string;
  method: Method;
  seed: number;
  /** run directory of the fine-tune */
  dir: string;
  /** where its --json summary is kept */
  summary: string;
  log: string;
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9+]+/g, '');

function jobs(o: Options): Job[] {
  const out: Job[] = [];
  for (const task of o.tasks)
    for (const seed of o.seeds)
      for (const method of o.methods) {
        const name = `${slug(task)}-${method.replace('+', '-')}-s${seed}`;
        out.push({ task, method, seed, dir: join(o.out, 'runs', name), summary: join(o.out, 'summaries', `${name}.json`), log: join(o.out, 'logs', `${name}.log`) });
      }
  return out;
}

function finetuneArgs(o: Options, j: Job): string[] {
  // a run dir left by a killed attempt is resumed (finetune refuses to overwrite it)
  if (existsSync(join(j.dir, 'config.json'))) return ['finetune', '--resume', j.dir, '--json'];
  const m = METHODS[j.method];
  return [
    'finetune', '--model', o.model, '--task', j.task, '--estimator', m.estimator, '--policy', m.policy ? o.policy : 'none',
    '--forward-passes', String(o.forwardPasses), '--seed', String(j.seed), '--out', j.dir, '--json', ...o.extra,
  ];
}

function runJob(o: Options, j: Job): Promise<boolean> {
  const args = finetuneArgs(o, j);
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      writeFileAtomic(j.log, `$ zotune ${args.join(' ')}\n${stderr}`);
      if (code === 0) {
        try {
          const s = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
          // keyed by the experiment's names (the summary's own task is the display name, e.g. CB)
          writeFileAtomic(j.summary, JSON.stringify({ ...s, taskName: s.task, task: j.task, method: j.method, seed: j.seed }, null, 2) + '\n');
          return done(true);
        } catch {
          /* fall through: reported below */
        }
      }
      process.stderr.write(`transfer: ${j.task} ${j.method} seed ${j.seed} failed (exit ${code}): ${stderr.trim().split('\n').at(-1) ?? ''} (log ${j.log})\n`);
      done(false);
    });
  });
}

async function runAll(o: Options, todo: Job[]): Promise<number> {
  let next = 0;
  let failed = 0;
  let finished = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (next < todo.length) {
      const j = todo[next++];
      process.stderr.write(`transfer: start ${j.task} ${j.method} seed ${j.seed}\n`);
      if (!(await runJob(o, j))) failed++;
      finished++;
      const s = (Date.now() - t0) / 1000;
      process.stderr.write(`transfer: ${finished}/${todo.length} done, ${s.toFixed(0)} s elapsed, ETA ${((s / finished) * (todo.length - finished)).toFixed(0)} s\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.parallel, todo.length) }, worker));
  return failed;
}

/** experiment.json keeps every invocation on this results directory (tasks may be run in several goes). */
function recordInvocation(o: Options): void {
  const file = join(o.out, 'experiment.json');
  let invocations: unknown[] = [];
  if (existsSync(file)) {
    try {
      const old = JSON.parse(readFileSync(file, 'utf8'));
      invocations = Array.isArray(old?.invocations) ? old.invocations : [old];
    } catch {
      fail(`${file}: not valid JSON; move it away or fix it`);
    }
  }
  invocations.push({ ...o, startedAt: new Date().toISOString() });
  writeFileAtomic(file, JSON.stringify({ invocations }, null, 2) + '\n');
}

/** The summaries in DIR of the experiment's tasks and seeds, rows in --tasks order. */
function readSummaries(dir: string, o: Options): Summary[] {
  const d = join(dir, 'summaries');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')) as Summary)
    .filter((s) => o.tasks.includes(s.task) && o.seeds.includes(s.seed))
    .sort((a, b) => o.tasks.indexOf(a.task) - o.tasks.indexOf(b.task));
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.control && !existsSync(join(o.control, 'summaries'))) fail(`--control: no summaries/ in ${o.control} (expected a transfer results directory)`);
  for (const sub of ['runs', 'summaries', 'logs']) mkdirSync(join(o.out, sub), { recursive: true });
  let failed = 0;
  if (!o.tableOnly) {
    const all = jobs(o);
    const todo = all.filter((j) => !existsSync(j.summary));
    process.stderr.write(
      `transfer: ${all.length} runs (${o.tasks.length} tasks × ${o.seeds.length} seeds × ${o.methods.length} methods) at ${o.forwardPasses} forward passes; ` +
        `${all.length - todo.length} already done; ${o.parallel} at a time; results in ${o.out}\n`,
    );
    recordInvocation(o);
    failed = await runAll(o, todo);
  }
  const summaries = readSummaries(o.out, o).filter((s) => o.methods.includes(s.method));
  const fp = [...new Set(summaries.map((s) => s.forwardPasses))].join('/') || String(o.forwardPasses);
  let table = tabulate(summaries, fp);
  if (o.control) {
    const control = readSummaries(o.control, o);
    table += '\n' + controlTable(summaries, control);
  }
  writeFileAtomic(join(o.out, 'table.md'), table);
  process.stdout.write(table);
  if (failed) {
    process.stderr.write(`transfer: ${failed} runs failed (see ${join(o.out, 'logs')}); rerun to retry them\n`);
    process.exitCode = 1;
  }
}

await main();
