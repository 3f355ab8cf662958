// The sweep spec (configs/sweeps/README.md): a grid of fine-tune runs and the comparisons to report.
// It expands into Runs — each one fine-tune config, normalised and named by a stable key (a readable
// prefix + a hash of everything that decides its result), so that a rerun, another machine or a
// second submission finds the same run under the same name. A run is handed to `zotune finetune` as
// that config (finetuneInput: the fields are the fine-tune config's own names), never as flags.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { sha256Hex } from '@zotune/io';

/** Model and task names: resolved by each worker in its own data directory, so never paths. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = z.string().regex(NAME, 'expected a name (letters, digits, . _ -), not a path');
const posInt = z.number().int().min(1);
const nonEmpty = <T extends z.ZodTypeAny>(t: T) => z.array(t).min(1, 'expected at least one value');

/**
 * Fine-tune settings that are not grid axes: common to the sweep, or per task. The fields are the
 * fine-tune config's own (@zotune/finetune's finetuneInputSchema, which validates them again in the
 * run; tests/sweep.test.ts checks that every field here is one of its settings).
 */
export const finetuneOptionsSchema = z.strictObject({
  batch: posInt.max(4096).optional(),
  evalN: posInt.optional(),
  testN: posInt.optional(),
  evalEvery: posInt.optional(),
  evalBatch: posInt.max(4096).optional(),
  weightDecay: z.number().min(0).optional(),
});
export type FinetuneOptions = z.infer<typeof finetuneOptionsSchema>;

/** `finetune --peft` and its options: ZO over LoRA or prefix adapter blocks (absent: every block). */
const peftFields = {
  peft: z.enum(['lora', 'prefix']).optional(),
  loraRank: posInt.max(4096).optional(),
  loraAlpha: z.number().positive().optional(),
  /** comma-separated module names, as --lora-targets */
  loraTargets: z.string().regex(/^[A-Za-z0-9_.,]+$/).optional(),
  prefixTokens: posInt.max(4096).optional(),
};

/** A method: an estimator with its options and a policy. Comparisons name methods. */
export const methodSchema = z.strictObject({
  estimator: z.enum(['mezo', 'guided', 'greedy', 'elite', 'adam']),
  /** 'none', 'auto', a reference (stories260K, stories260K/default:latest), a sha256:… digest, or a .zpol file (relative to the working directory) */
  policy: z.string().min(1).default('none'),
  candidates: posInt.max(1024).optional(),
  alpha: z.number().gt(0).lt(1).optional(),
  normalize: z.boolean().optional(),
  queries: posInt.max(1024).optional(),
  ...peftFields,
  /** this method's learning rate, over the grid's (a PEFT method needs its own) */
  lr: z.number().positive().optional(),
});
export type Method = z.infer<typeof methodSchema>;

const methodName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+._-]*$/, 'expected a method name (letters, digits, + . _ -)');

export const sweepSpecSchema = z.strictObject({
  description: z.string().optional(),
  grid: z.strictObject({
    model: nonEmpty(name).default(['stories260K']),
    task: nonEmpty(name),
    method: nonEmpty(methodName),
    /** absent: each estimator's default learning rate */
    lr: nonEmpty(z.number().positive()).optional(),
    eps: nonEmpty(z.number().positive()).default([1e-3]),
    seed: nonEmpty(z.number().int().min(0).max(0xffffffff)),
    /** training budget of every run, in forward passes */
    forwardPasses: nonEmpty(posInt),
    /** passed through as `finetune --engine E` (absent: finetune's default, no flag) */
    engine: nonEmpty(z.string().regex(/^[a-z0-9-]+$/, 'expected an engine name')).optional(),
  }),
  methods: z.record(methodName, methodSchema),
  /** options of every run */
  options: finetuneOptionsSchema.default({}),
  /** options of the runs of one task (over `options`) */
  taskOptions: z.record(name, finetuneOptionsSchema).default({}),
  /** threads each run uses (`finetune --threads N`; absent: 1); the local pool runs cores / threads at once */
  threads: posInt.max(256).optional(),
  compare: z
    .strictObject({
      /** treatment vs baseline, paired by seed (every other axis equal) */
      pairs: z.array(z.strictObject({ baseline: methodName, treatment: methodName, label: z.string().optional() })).default([]),
      /** a treatment, its baseline and a control (e.g. an untrained policy) side by side; treatment vs control paired by seed */
      controls: z
        .array(z.strictObject({ baseline: methodName, treatment: methodName, control: methodName, label: z.string().optional() }))
        .default([]),
    })
    .default({ pairs: [], controls: [] }),
});
export type SweepSpec = z.infer<typeof sweepSpecSchema>;

/** One fine-tune run of a sweep, normalised: the hash of `RunConfig` (minus key) is its key. */
export const runConfigSchema = z.strictObject({
  model: name,
  task: name,
  method: methodName,
  ...methodSchema.shape,
  /** 'none', 'auto', a reference or a sha256:… digest (a policy file is named by its digest) */
  policy: z.string().regex(/^(none|auto|sha256:[0-9a-f]{64}|[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)?)?)$/, 'expected none, auto, a policy reference or a sha256: digest'),
  eps: z.number().positive(),
  seed: z.number().int().min(0).max(0xffffffff),
  forwardPasses: posInt,
  engine: z.string().regex(/^[a-z0-9-]+$/).optional(),
  options: finetuneOptionsSchema,
});
export type RunConfig = z.infer<typeof runConfigSchema>;

export interface Run {
  /** `<task>-<method>-s<seed>-<10 hex of the config hash>`: a directory name and a BullMQ job id */
  key: string;
  config: RunConfig;
  /** the local .zpol file behind a sha256: policy (not part of the key: its digest is) */
  policyFile?: string;
  /** `--threads N` (not part of the key: it changes the speed, not the result) */
  threads?: number;
}

export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** One line naming the source and the field path of the first problem. */
export function zodProblem(err: z.ZodError, source: string): string {
  const i = err.issues[0];
  const field = i.path.map(String).join('.');
  if (i.code === 'unrecognized_keys') return `${source}: ${field ? field + ': ' : ''}unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${source}: ${field || '(root)'}: ${i.message}`;
}

/** Validate a parsed spec, including the cross-references (methods, comparisons, task options). */
export function parseSpec(value: unknown, source: string): SweepSpec {
  const r = sweepSpecSchema.safeParse(value);
  if (!r.success) throw new SpecError(zodProblem(r.error, source));
  const spec = r.data;
  const known = (m: string, path: string) => {
    if (!(m in spec.methods)) throw new SpecError(`${source}: ${path}: unknown method "${m}" (defined: ${Object.keys(spec.methods).join(', ') || 'none'})`);
  };
  spec.grid.method.forEach((m, i) => known(m, `grid.method.${i}`));
  spec.compare.pairs.forEach((p, i) => (['baseline', 'treatment'] as const).forEach((k) => known(p[k], `compare.pairs.${i}.${k}`)));
  spec.compare.controls.forEach((p, i) => (['baseline', 'treatment', 'control'] as const).forEach((k) => known(p[k], `compare.controls.${i}.${k}`)));
  for (const t of Object.keys(spec.taskOptions))
    if (!spec.grid.task.includes(t)) throw new SpecError(`${source}: taskOptions.${t}: "${t}" is not in grid.task`);
  for (const axis of ['model', 'task', 'method', 'lr', 'eps', 'seed', 'forwardPasses', 'engine'] as const) {
    const vals = spec.grid[axis] as readonly unknown[] | undefined;
    if (vals && new Set(vals).size !== vals.length) throw new SpecError(`${source}: grid.${axis}: repeated value`);
  }
  return spec;
}

/** Read and validate a spec file. */
export function loadSpec(file: string): SweepSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SpecError(`${file}: cannot read the sweep spec (${code === 'ENOENT' ? 'no such file' : (code ?? String(e))})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SpecError(`${file}: not JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return parseSpec(json, file);
}

/** JSON with sorted keys and no undefined: the same config always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const slug = (s: string) => s.toLowerCase().replace(/\+/g, '-').replace(/[^a-z0-9-]+/g, '').replace(/-+/g, '-');

/** The key of a normalised run config. */
export function runKey(c: RunConfig): string {
  return `${slug(c.task)}-${slug(c.method)}-s${c.seed}-${sha256Hex(canonicalJson(c)).slice(0, 10)}`;
}

const isPolicyFile = (p: string) => p.includes('/') && (p.endsWith('.zpol') || existsSync(p)) && !/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$/.test(p);

/**
 * Every run of the grid, in grid order (model, task, seed, method, lr, eps, budget, engine).
 * Policy files are read here (relative to `cwd`) and named by their sha256.
 */
export function expandRuns(spec: SweepSpec, cwd = process.cwd(), source = 'spec'): Run[] {
  const policyOf = new Map<string, { policy: string; file?: string }>();
  for (const [m, def] of Object.entries(spec.methods)) {
    if (!spec.grid.method.includes(m)) continue;
    if (isPolicyFile(def.policy)) {
      const file = resolve(cwd, def.policy);
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch {
        throw new SpecError(`${source}: methods.${m}.policy: cannot read the policy file ${file}`);
      }
      policyOf.set(m, { policy: `sha256:${sha256Hex(bytes)}`, file });
    } else policyOf.set(m, { policy: def.policy });
  }
  const g = spec.grid;
  const runs: Run[] = [];
  for (const model of g.model)
    for (const task of g.task)
      for (const seed of g.seed)
        for (const method of g.method)
          for (const lr of g.lr ?? [undefined])
            for (const eps of g.eps)
              for (const forwardPasses of g.forwardPasses)
                for (const engine of g.engine ?? [undefined]) {
                  const def = spec.methods[method];
                  const pol = policyOf.get(method)!;
                  const config: RunConfig = {
                    model, task, method, estimator: def.estimator, policy: pol.policy,
                    candidates: def.candidates, alpha: def.alpha, normalize: def.normalize, queries: def.queries,
                    peft: def.peft, loraRank: def.loraRank, loraAlpha: def.loraAlpha, loraTargets: def.loraTargets, prefixTokens: def.prefixTokens,
                    lr: def.lr ?? lr, eps, seed, forwardPasses, engine,
                    options: { ...spec.options, ...spec.taskOptions[task] },
                  };
                  runs.push({ key: runKey(config), config, policyFile: pol.file, threads: spec.threads });
                }
  const keys = new Set(runs.map((r) => r.key));
  if (keys.size !== runs.length) throw new SpecError(`${source}: two grid points give the same run (a repeated method definition?)`);
  return runs;
}

/**
 * The fine-tune config of a fresh run (a layer over finetune's defaults, as a --config preset): the
 * run's settings under their own names. `policyArg` replaces a digest by a local file.
 */
export function finetuneInput(run: Run, policyArg?: string): Record<string, unknown> {
  const { method: _method, options, ...settings } = run.config;
  return {
    ...settings,
    ...options,
    policy: policyArg ?? run.policyFile ?? settings.policy,
    // absent: one thread per run; finetune's own default (every core) would oversubscribe a pool of parallel runs
    threads: run.threads ?? 1,
  };
}
