// Issue 23's methods and spec flags (docs/results/smollm2-evidence.md): one definition for the scripts of stages 3, 4 and
// the lr scan, so that a method means the same sweep settings in each.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** LoRA-ZO as the sizing amendment fixed it: r 8, alpha 16, on q_proj and v_proj */
export const LORA = { peft: 'lora', loraRank: 8, loraAlpha: 16, loraTargets: 'q_proj,v_proj' };

/** the guided estimator as the protocol runs it: M candidates, alpha 0.5, normalised */
export const guidedWith = (m) => ({ estimator: 'guided', candidates: m, alpha: 0.5, normalize: true });

/** the four arms of stages 3-4 and the methods each may use */
export const ARMS = {
  MeZO: ['mezo'],
  'MeZO + policy': ['mezo+policy'],
  guided: ['guided4', 'guided8'],
  'guided + policy': ['guided4+policy', 'guided8+policy'],
};

/** stage 4's arms other than MeZO (what each is compared with MeZO for), and all its methods with the untrained control */
export const STAGE4_ARMS = ['mezo+policy', 'guided', 'guided+policy'];
export const STAGE4_METHODS = ['mezo', ...STAGE4_ARMS, 'mezo+init'];

/** stage 3's six methods, without their lr: name -> a sweep spec's method; `policy` = the meta-trained policy */
export function stage3Methods(policy) {
  const methods = {
    mezo: { estimator: 'mezo', policy: 'none', ...LORA },
    'mezo+policy': { estimator: 'mezo', policy, ...LORA },
  };
  for (const m of [4, 8]) {
    methods[`guided${m}`] = { ...guidedWith(m), policy: 'none', ...LORA };
    methods[`guided${m}+policy`] = { ...guidedWith(m), policy, ...LORA };
  }
  return methods;
}

/** a stage-3 or scan run directory's method: the sweep's run key is <task>-<method>-s<seed>-<hash>, + written as - */
export function methodOfRunDir(dir) {
  const key = /-((?:mezo|guided[48])(?:-policy)?)-s\d+-[0-9a-f]{10}$/.exec(dir.replace(/\/+$/, ''));
  return key?.[1].replace('-policy', '+policy');
}

/** the half-decade step of the protocol's lr grids */
export const HALF_DECADE = 3.16;

/** 3 significant digits: 1e-3 / 3.16 = 3.16e-4, not 3.1645569…e-4 */
export const round3 = (x) => Number(x.toPrecision(3));

/**
 * The spec-writing mode's flags (`--name value` pairs) of SCRIPT: the known names with their defaults (undefined:
 * required). Checked and converted: lr (positive), budget (forward passes, at least 2), seeds (distinct whole
 * numbers), threads (at least 1). A bad flag prints one line, `SCRIPT: …`, and exits with code 2.
 */
export function parseSpecFlags(script, args, known) {
  const fail = (line) => {
    console.error(`${script}: ${line}`);
    process.exit(2);
  };
  const flags = Object.fromEntries(Object.entries(known).filter(([, v]) => v !== undefined));
  const rest = [...args];
  while (rest.length > 0) {
    const [flag, value] = rest.splice(0, 2);
    if (!flag.startsWith('--') || !(flag.slice(2) in known)) fail(`unknown option ${flag}`);
    if (value === undefined || value.startsWith('--')) fail(`${flag}: expected a value after it`);
    flags[flag.slice(2)] = value;
  }
  for (const f of Object.keys(known)) if (flags[f] === undefined) fail(`--${f} is required`);
  const out = { ...flags };
  if ('lr' in known) {
    out.lr = Number(flags.lr);
    if (!(out.lr > 0)) fail(`--lr must be a positive number, got ${flags.lr}`);
  }
  if ('budget' in known) {
    out.budget = Number(flags.budget);
    if (!(Number.isInteger(out.budget) && out.budget >= 2)) fail(`--budget must be a whole number of forward passes (at least 2), got ${flags.budget}`);
  }
  if ('seeds' in known) {
    out.seeds = flags.seeds.split(',').map(Number);
    if (!out.seeds.every((x) => Number.isInteger(x) && x >= 0) || new Set(out.seeds).size !== out.seeds.length) fail(`--seeds must be distinct whole numbers separated by commas, got ${flags.seeds}`);
  }
  if ('threads' in known) {
    out.threads = Number(flags.threads);
    if (!(Number.isInteger(out.threads) && out.threads >= 1)) fail(`--threads must be a whole number of at least 1, got ${flags.threads}`);
  }
  return out;
}

/** Write JSON (a sweep spec, a rule's result) atomically: a temporary file, then a rename. */
export function writeJsonFile(file, spec) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(spec, null, 2)}\n`);
  renameSync(tmp, file);
}

/**
 * A stage-3 or scan run directory's record: its method (from the run key), lr, seed, whether its last dev
 * evaluation is at its last step, that evaluation's dev loss (NaN when not finite: JSON writes it as null) and
 * the step-0 dev loss (the base model's; undefined without one). `notARun` is the line for a directory whose name
 * is no run key; any unreadable file is one line too, `SCRIPT: FILE: why`, with exit code 1.
 */
export function readStageRun(script, dir, notARun) {
  const fail = (line) => {
    console.error(`${script}: ${line}`);
    process.exit(1);
  };
  const read = (file, parse) => {
    try {
      return parse(readFileSync(file, 'utf8'));
    } catch (e) {
      fail(`${file}: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
    }
  };
  // finetune's config.json has no method name: the sweep's run key names it
  const method = methodOfRunDir(dir);
  if (!method) fail(`${dir}: ${notARun}`);
  const config = read(join(dir, 'config.json'), JSON.parse);
  const evals = read(join(dir, 'metrics.jsonl'), (t) => t.trim().split('\n').map((l) => JSON.parse(l))).filter((e) => e.event === 'eval');
  const last = evals.at(-1);
  const base = evals.find((e) => e.step === 0)?.devLoss;
  return {
    dir, method, lr: config.lr, seed: config.seed,
    finished: last !== undefined && last.step === config.steps,
    loss: typeof last?.devLoss === 'number' ? last.devLoss : NaN,
    base: typeof base === 'number' ? base : undefined,
  };
}
