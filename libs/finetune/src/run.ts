// The run as a library: finetune(config) starts a run, resumeFinetune(dir) continues one, each
// writing the run directory `zotune finetune` writes (config.json, trajectory, metrics.jsonl,
// model.safetensors, summary.json, report.html), so the CLI resumes, replays and evaluates it.
import { existsSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { readRunConfig, UserError } from '@zotune/report';
import { parseRunConfig, resolveConfig, withAbsolutePaths, type FinetuneConfig } from './config';
import { parseInput, type FinetuneInput } from './schema';
import { fetchRunData } from './setup';
import { runFinetune, type FinetuneOptions, type FinetuneSummary } from './trainer';

export interface FinetuneRunOptions extends Omit<FinetuneOptions, 'dir' | 'resume'> {
  /** the run directory, new or empty (default runs/<task>-<estimator>-s<seed>-<time> under the working directory, as the CLI) */
  dir?: string;
  /** first fetch the pinned model and task files the run needs that are missing (as `zotune finetune --fetch`) */
  fetch?: boolean;
}

export interface ResumeRunOptions extends Omit<FinetuneOptions, 'dir' | 'resume'> {
  /** run this session on another engine than config.json's (the replayed weights are the same bits) */
  engine?: FinetuneConfig['engine'];
  /** ORT intra-op threads of this session */
  threads?: number;
}

/** A config with every field resolved (config.json of a run) rather than a layer over the defaults. */
function isResolved(c: FinetuneInput | FinetuneConfig): c is FinetuneConfig {
  return (c as { version?: unknown }).version !== undefined;
}

/**
 * The run's config from what a library user gives: a layer over the defaults (the fields of a preset,
 * e.g. `{ task: 'story-name', steps: 20 }`; its files made absolute, as the CLI's flags), or a resolved
 * config (a run's config.json).
 */
export function runConfigOf(config: FinetuneInput | FinetuneConfig, source = 'finetune config'): FinetuneConfig {
  return isResolved(config) ? parseRunConfig(config, source) : resolveConfig([withAbsolutePaths(parseInput(config, source))]);
}

/**
 * Fine-tune as `zotune finetune` does, in this process: resolves to the summary (summary.json).
 * Progress: opts.onProgress gets every metrics line; opts.log the stderr lines; opts.quiet (default
 * true here) hides the progress bar. opts.signal stops the run after the step under way: the promise
 * rejects with a FinetuneAbortError and the directory resumes with resumeFinetune(dir).
 */
export async function finetune(config: FinetuneInput | FinetuneConfig, opts: FinetuneRunOptions = {}): Promise<FinetuneSummary> {
  const resolved = runConfigOf(config);
  if (opts.fetch) await fetchRunData(resolved.model, resolved.task, opts.log ?? (() => {}));
  const { fetch: _, dir, ...rest } = opts;
  return runFinetune(resolved, { quiet: true, ...rest, dir: resolve(dir ?? defaultRunDir(runName(resolved))) });
}

/** Continue a killed or aborted run from its last complete trajectory record (ZO runs). */
export async function resumeFinetune(dirArg: string, opts: ResumeRunOptions = {}): Promise<FinetuneSummary> {
  const { engine, threads, ...rest } = opts;
  return runFinetune(resumeConfig(dirArg, { engine, threads }), { quiet: true, ...rest, dir: resolve(dirArg), resume: true });
}

/** A run directory's config.json, with this session's engine and threads over it. */
export function resumeConfig(dirArg: string, session: { engine?: FinetuneConfig['engine']; threads?: number } = {}): FinetuneConfig {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) throw new UserError(`--resume ${dirArg}: no such run directory`, 2);
  let raw: unknown;
  try {
    raw = readRunConfig(dir);
  } catch (e) {
    throw new UserError(`--resume: ${(e as Error).message}`, 2);
  }
  const config = parseRunConfig(raw, join(dir, 'config.json'));
  if (session.engine) config.engine = session.engine;
  if (session.threads) config.threads = session.threads;
  return config;
}

function stamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-');
}

/** runs/<name>-<timestamp>, with -2, -3, … if taken. */
export function defaultRunDir(name: string): string {
  const base = join('runs', `${name}-${stamp()}`);
  let out = base;
  for (let i = 2; existsSync(out); i++) out = `${base}-${i}`;
  return out;
}

/** <task>-<estimator>[-<peft>]-s<seed>: the run directory's name before its time stamp. */
export function runName(c: FinetuneConfig): string {
  const task = basename(c.task, extname(c.task)).toLowerCase().replace(/[^a-z0-9]+/g, '');
  return `${task}-${c.estimator}${c.peft ? `-${c.peft.method}` : ''}-s${c.seed}`;
}
