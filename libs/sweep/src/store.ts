// A sweep's results directory:
//   DIR/spec.json             the spec of the last submission (the report reads its comparisons)
//   DIR/plan.json             key and config of each of its runs
//   DIR/runs/<key>/           the finetune run directory (config.json, metrics.jsonl, trajectory, summary.json, …);
//                             for a run done by a remote worker: the files it sent back (no weights: `zotune replay` rebuilds them)
//   DIR/results/<key>.json    the run's record, written last and atomically: its presence means "done"
//   DIR/failures/<key>.json   why the last attempt failed (removed when the run succeeds)
//   DIR/logs/<key>.log        finetune's stderr
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '@zotune/io';
import type { MetricRecord } from '@zotune/report';
import { runConfigSchema, type RunConfig, type SweepSpec } from './spec';
import { z } from 'zod';

export interface RunResult {
  key: string;
  config: RunConfig;
  /** the finetune summary */
  summary: Record<string, unknown>;
  /** wall seconds of the finetune process(es) of the last attempt */
  childSeconds: number;
  /** 'local' or the worker's name (host:pid) */
  worker: string;
  finishedAt: string;
}

/** A stored run as the report reads it (report.ts's tables, robustness.ts's lr scans): its result and metrics. */
export interface ReportRun {
  result: RunResult;
  /** metrics.jsonl records ([] when the run directory kept none) */
  metrics: MetricRecord[];
  /** its method sets its own lr in the spec (`methods.M.lr`): the lr is then the method's, not the setting's */
  ownLr?: boolean;
}

const resultSchema = z.looseObject({
  key: z.string(),
  config: runConfigSchema,
  summary: z.record(z.string(), z.unknown()),
  childSeconds: z.number().default(0),
  worker: z.string().default('unknown'),
  finishedAt: z.string().default(''),
});

export interface Failure {
  key: string;
  reason: string;
  at: string;
  worker?: string;
}

export class SweepDir {
  readonly root: string;
  constructor(dir: string) {
    this.root = resolve(dir);
  }
  runDir(key: string): string {
    return join(this.root, 'runs', key);
  }
  resultFile(key: string): string {
    return join(this.root, 'results', `${key}.json`);
  }
  logFile(key: string): string {
    return join(this.root, 'logs', `${key}.log`);
  }
  failureFile(key: string): string {
    return join(this.root, 'failures', `${key}.json`);
  }
  isDone(key: string): boolean {
    return existsSync(this.resultFile(key));
  }
  writeSpec(spec: SweepSpec): void {
    writeJsonAtomic(join(this.root, 'spec.json'), spec);
  }
  /** plan.json: the key and config of every run of the spec (collect, status and report need no policy files). */
  writePlan(runs: readonly { key: string; config: RunConfig }[]): void {
    writeJsonAtomic(join(this.root, 'plan.json'), runs.map((r) => ({ key: r.key, config: r.config })));
  }
  readPlan(): { key: string; config: RunConfig }[] {
    const f = join(this.root, 'plan.json');
    if (!existsSync(f)) throw new Error(`${f}: missing (not a sweep directory? run \`zotune sweep SPEC --out DIR\` first)`);
    const r = z.array(z.strictObject({ key: z.string(), config: runConfigSchema })).safeParse(JSON.parse(readFileSync(f, 'utf8')));
    if (!r.success) throw new Error(`${f}: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`);
    return r.data;
  }
  readSpecJson(): unknown {
    const f = join(this.root, 'spec.json');
    return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
  }
  writeResult(r: RunResult): void {
    writeJsonAtomic(this.resultFile(r.key), r);
    rmSync(this.failureFile(r.key), { force: true });
  }
  writeFailure(f: Failure): void {
    writeJsonAtomic(this.failureFile(f.key), f);
  }
  readFailure(key: string): Failure | undefined {
    const f = this.failureFile(key);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Failure) : undefined;
  }
  /** Every result record in the directory, sorted by key; a malformed one is named. */
  results(): RunResult[] {
    const d = join(this.root, 'results');
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => {
        const file = join(d, f);
        let json: unknown;
        try {
          json = JSON.parse(readFileSync(file, 'utf8'));
        } catch (e) {
          throw new Error(`${file}: not JSON (${(e as Error).message.split('\n')[0]})`);
        }
        const r = resultSchema.safeParse(json);
        if (!r.success) throw new Error(`${file}: ${r.error.issues[0].path.join('.') || '(root)'}: ${r.error.issues[0].message}`);
        return r.data as RunResult;
      });
  }
  /** Store the files a remote worker sent back into runs/<key>/, then the record (last: it means done). */
  storeRemote(r: RunResult, files: Record<string, Uint8Array | string>, log?: string): void {
    const dir = this.runDir(r.key);
    mkdirSync(dir, { recursive: true });
    for (const [name, data] of Object.entries(files)) writeFileAtomic(join(dir, name), data);
    if (log !== undefined) writeFileAtomic(this.logFile(r.key), log);
    this.writeResult(r);
  }
}
