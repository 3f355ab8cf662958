// What `zotune replay RUN_DIR --out FILE` does: the fine-tuned weights rebuilt from the base weights
// (config.json names the model) and the trajectory alone: the run's whole fine-tune is its few-kilobyte trajectory.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openTrajectory } from '@zotune/artifacts';
import { resolveDataDir } from '@zotune/data';
import type { GgufOutType } from '@zotune/gguf';
import { type Checkpoint, withFile, hfLayoutOfBlocks, hfTensorOf, modelDigest, readSafetensorsHeader, readSafetensorsTensor, resolveModel, toCheckpoint, writeGgufCheckpoint, writeSafetensors, type HostTensor } from '@zotune/models';
import { peftLabel } from '@zotune/peft';
import { engineNote, engineReport, openModel, forwardEngine } from '@zotune/engine';
import { readRunConfig, UserError, usageError } from '@zotune/report';
import { backendNote, initBackend } from '@zotune/tensor';
import { replay } from '@zotune/zo';
import { parseRunConfig } from './config';
import type { ReplayFormat } from './schema';
import { asUserError } from './setup';
import { checkPeftHeader } from './resume';
import { openAdapter, WEIGHT_FILES, weightsStep, writeRunWeights } from './weights';

export interface ReplayResult {
  run: string;
  out: string;
  model: string;
  estimator: string;
  /** 'full', or the PEFT setting of the run */
  peft: string;
  /** what the file holds: the model's weights, a PEFT run's adapter, or (--merge) the LoRA-merged full weights */
  wrote: 'weights' | 'adapter' | 'merged';
  /** the file's format: safetensors, or GGUF with its tensor type (gguf-f32, gguf-f16, gguf-q8_0) */
  format: string;
  /** records applied */
  steps: number;
  /** complete records in the trajectory */
  recordedSteps: number;
  trajectoryBytes: number;
  seconds: number;
  backend: string;
  /** the engine of this replay, and the one whose forward passes computed the recorded losses */
  engine: Record<string, unknown>;
  recordedEngine: string;
  /**
   * the run's own weight file of the same step (model.safetensors or final.safetensors), when there
   * is one, against the replayed weights: max |Δ| over all weights (0: the same bits)
   */
  runWeights: { file: string; maxAbsDiff: number } | null;
}

/**
 * The replayed weights against a run weight file of the same step, if the run wrote one. `replayed`
 * gives each tensor by name on demand and the file is read one tensor at a time, so the comparison
 * holds no second copy of the weights.
 */
function compareWithRun(dir: string, step: number, names: readonly string[], replayed: (name: string) => HostTensor): ReplayResult['runWeights'] {
  for (const name of [WEIGHT_FILES.final, WEIGHT_FILES.best]) {
    const file = join(dir, name);
    if (weightsStep(file) !== step) continue;
    const maxAbsDiff = withFile(file, (r) => {
      const { entries } = readSafetensorsHeader(r);
      let m = 0;
      for (const n of names) {
        const e = entries.get(n);
        const t = replayed(n);
        if (!e) return Infinity;
        const got = readSafetensorsTensor(r, n, e);
        if (got.data.length !== t.data.length) return Infinity;
        for (let i = 0; i < t.data.length; i++) m = Math.max(m, Math.abs(t.data[i] - got.data[i]));
      }
      return m;
    });
    return { file, maxAbsDiff };
  }
  return null;
}


export interface ReplayOptions {
  step?: number;
  backend?: string;
  engine?: string;
  threads?: string;
  merge?: boolean;
  /** safetensors (default) or gguf: a GGUF holds full weights, so a LoRA run is merged into it */
  format?: ReplayFormat;
  /** the GGUF's tensor type (default f32) */
  ggufType?: GgufOutType;
  /** stderr lines (the backend and engine notes); nothing is written to stderr without it */
  log?: (line: string) => void;
}

/** Write full weights as GGUF; the tokenizer and general metadata come from the base model's GGUF. */
function ggufBaseOrThrow(base: { format: string; name: string }): void {
  if (base.format !== 'gguf')
    throw new UserError(`--format gguf: the run's base model ${base.name} is not a GGUF (${base.format}); a GGUF needs the tokenizer metadata a GGUF base carries (write safetensors instead)`, 2);
}

function writeGgufOut(file: string, ckpt: Checkpoint, base: { source: string; format: string; name: string }, type: GgufOutType, step: number): void {
  ggufBaseOrThrow(base);
  writeGgufCheckpoint(file, ckpt, { type, source: base.source, name: `${base.name} (zotune replay, step ${step})` });
}

/** Rebuild a run's weights at `opts.step` (default: every complete record) into `out`. */
export async function replayRun(runDir: string, out: string, opts: ReplayOptions = {}): Promise<ReplayResult> {
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
  const format = opts.format ?? 'safetensors';
  if (format === 'gguf' && config.peft && config.peft.method !== 'lora')
    throw new UserError(`--format gguf: a --peft ${config.peft.method} run's adapter cannot be merged into the weights (write safetensors instead)`, 2);
  // a GGUF holds whole models: a LoRA run is written merged
  const merge = opts.merge || (format === 'gguf' && config.peft?.method === 'lora');
  if (opts.merge && config.peft?.method !== 'lora')
    throw new UserError(`--merge: only a --peft lora run has adapters to merge into the weights (${runDir} is ${config.peft ? `--peft ${config.peft.method}` : 'a full-parameter run'})`, 2);
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
  // before any work: a GGUF carries its tokenizer in the metadata, which only a GGUF base has to give
  const base = { source: resolved.checkpoint.source, format: resolved.checkpoint.format, name: resolved.name };
  if (format === 'gguf') ggufBaseOrThrow(base);
  const backend = await initBackend((opts.backend ?? config.backend) as 'auto', { quiet: true });
  opts.log?.(backendNote(backend).trimEnd());
  const engine = await forwardEngine({ engine: opts.engine, threads: opts.threads }, backend).catch(usageError);
  opts.log?.(engineNote(engine).trimEnd());
  const t0 = performance.now();
  // handed over: the blocks are the only copy of the weights
  const model = await openModel(resolved.checkpoint, engine, { handOver: true });
  let runWeights;
  try {
    // a PEFT run's trajectory moves its adapter's blocks; the base weights stay as loaded
    const adapter = config.peft && openAdapter(model, config.peft);
    if (config.peft) checkPeftHeader(t.header.run, config.peft, { name: resolved.name, digest: () => modelDigest(model) }, trajPath);
    // replay needs no forward pass (the recorded losses are fed back): any engine rebuilds the same bits
    await replay(adapter ? adapter.blocks : model.blocks, t.header, t.records.slice(0, n), { threads: engine.threads });
    const meta = { model: resolved.name, step: n };
    const ggufType = opts.ggufType ?? 'f32';
    if (format === 'gguf') writeGgufOut(resolve(out), adapter ? adapter.merged() : toCheckpoint(model), base, ggufType, n);
    else if (adapter && merge) writeSafetensors(resolve(out), adapter.merged().tensors, { format: 'pt', 'zotune.model': meta.model, 'zotune.step': String(meta.step), 'zotune.merged': peftLabel(config.peft) });
    else writeRunWeights(resolve(out), model, meta, adapter || undefined);
    // the run's own files hold the adapter (PEFT) or the weights: compare like with like
    if (merge || format === 'gguf') runWeights = null;
    else if (adapter) {
      const tensors = adapter.tensors();
      runWeights = compareWithRun(dir, n, [...tensors.keys()], (name) => tensors.get(name)!);
    } else {
      const layout = hfLayoutOfBlocks(model.config, model.blocks);
      runWeights = compareWithRun(dir, n, [...layout.keys()], (name) => hfTensorOf(layout.get(name)!));
    }
  } finally {
    await model.dispose();
  }
  return {
    run: dir,
    out: resolve(out),
    model: resolved.name,
    estimator: config.estimator,
    peft: peftLabel(config.peft),
    wrote: merge ? 'merged' : config.peft ? 'adapter' : 'weights',
    format: format === 'gguf' ? `gguf-${opts.ggufType ?? 'f32'}` : 'safetensors',
    steps: n,
    recordedSteps: t.records.length,
    trajectoryBytes: statSync(trajPath).size,
    seconds: (performance.now() - t0) / 1000,
    backend: backend.name,
    engine: engineReport(engine),
    recordedEngine: t.header.engine ?? 'tfjs',
    runWeights,
  };
}

