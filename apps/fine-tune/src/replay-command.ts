// `zotune replay RUN_DIR --out FILE`: the fine-tuned weights rebuilt from the base weights (config.json
// names the model) and the trajectory alone: the run's whole fine-tune is its few-kilobyte trajectory.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { openTrajectory } from '@zotune/artifacts';
import { resolveDataDir } from '@zotune/data';
import { createLlama, resolveModel } from '@zotune/models';
import { action, emit, parseNumber, readRunConfig, UserError } from '@zotune/report';
import { defaultThreads, initBackend } from '@zotune/tensor';
import { replay } from '@zotune/zo';
import { parseRunConfig } from './config';
import { asUserError } from './setup';
import { WEIGHT_FILES, writeRunWeights } from './weights';

export interface ReplayResult {
  run: string;
  out: string;
  model: string;
  estimator: string;
  /** records applied */
  steps: number;
  /** complete records in the trajectory */
  recordedSteps: number;
  trajectoryBytes: number;
  seconds: number;
  backend: string;
}

export async function replayRun(runDir: string, out: string, opts: { step?: number; backend?: string; threads?: number } = {}): Promise<ReplayResult> {
  const dir = resolve(runDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${runDir}: no such run directory`, 2);
  let raw: unknown;
  try {
    raw = readRunConfig(dir);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  const config = parseRunConfig(raw, join(dir, 'config.json'));
  if (config.estimator === 'adam') throw new UserError(`${runDir}: an adam run has no trajectory to replay (first-order updates are not recorded)`, 2);
  const trajPath = join(dir, WEIGHT_FILES.trajectory);
  const t = openTrajectory(trajPath);
  const n = opts.step ?? t.records.length;
  if (n > t.records.length) throw new UserError(`--step ${n}: the trajectory holds ${t.records.length} complete steps`, 2);
  let resolved;
  try {
    resolved = resolveModel(config.model, resolveDataDir());
  } catch (e) {
    throw asUserError(`${join(dir, 'config.json')}: model`, e);
  }
  const backend = await initBackend((opts.backend ?? config.backend) as 'auto');
  const t0 = performance.now();
  const model = createLlama(resolved.checkpoint);
  try {
    await replay(model.blocks, t.header, t.records.slice(0, n), { threads: opts.threads ?? config.threads ?? defaultThreads() });
    writeRunWeights(resolve(out), model, { model: resolved.name, step: n });
  } finally {
    model.dispose();
  }
  return {
    run: dir,
    out: resolve(out),
    model: resolved.name,
    estimator: config.estimator,
    steps: n,
    recordedSteps: t.records.length,
    trajectoryBytes: statSync(trajPath).size,
    seconds: (performance.now() - t0) / 1000,
    backend: backend.name,
  };
}

/** Mount `zotune replay`. */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('rebuild a run\'s fine-tuned weights from the base weights and its trajectory alone, as safetensors')
    .argument('<RUN_DIR>', 'a fine-tune run directory (config.json + trajectory)')
    .requiredOption('--out <FILE>', 'the safetensors file to write (atomically)')
    .option('--step <N>', 'replay only the first N steps (e.g. the best step of summary.json)')
    .option('--backend <B>', 'tfjs backend (default: the run\'s)')
    .option('--threads <N>', 'threads of the noise and perturb passes; the weights are the same for any N (default: the cores)')
    .option('--json', 'print one JSON object on stdout')
    .action(
      action(async (runDir: string, flags: { out: string; step?: string; backend?: string; threads?: string; json?: boolean }) => {
        const step = flags.step === undefined ? undefined : parseNumber('--step', flags.step, { int: true, min: 0 });
        const threads = flags.threads === undefined ? undefined : parseNumber('--threads', flags.threads, { int: true, min: 1, max: 256 });
        if (flags.backend !== undefined && !['auto', 'tensorflow', 'wasm', 'cpu'].includes(flags.backend))
          throw new UserError(`--backend: unknown backend "${flags.backend}"; expected one of auto, tensorflow, wasm, cpu`, 2);
        const r = await replayRun(runDir, flags.out, { step, backend: flags.backend, threads });
        emit(r, !!flags.json, `${r.out}: ${r.model} after ${r.steps} of ${r.recordedSteps} ${r.estimator} steps, replayed from ${r.trajectoryBytes} bytes of trajectory in ${r.seconds.toFixed(2)} s`);
      }),
    );
}
