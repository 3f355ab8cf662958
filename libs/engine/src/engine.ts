// The engine layer above both engines (tfjs: libs/models' TfjsModel; ONNX Runtime: libs/ort's OrtModel).
// Selection, like the tfjs backend's: `--engine auto|ort|tfjs` (or ZOTUNE_ENGINE). auto runs
// forward-only work (ZO steps, eval, scoring, nll, generate) on ONNX Runtime and keeps tfjs where
// gradients are needed (Adam, meta-gradients) and on the tfjs-node-gpu path; it says what it chose and
// why, and falls back to tfjs with a one-line note when onnxruntime-node cannot be loaded. openModel
// then gives the one Model interface whichever engine was chosen: nothing after it asks which. The ORT
// binding is imported only here, on demand, so a missing package never breaks the tfjs path.
import { availableParallelism } from 'node:os';
import { createTfjsModel, type Checkpoint, type Model } from '@zotune/models';
import { loadOrt, ortSessionsCreated, type AttentionKind } from '@zotune/ort';

export type EngineName = 'auto' | 'ort' | 'tfjs';
export const ENGINES: readonly EngineName[] = ['auto', 'ort', 'tfjs'];

/** What the caller will do with the model: forward passes only, or gradients through it. */
export type EngineWork = 'forward' | 'gradients';

export interface EngineChoice {
  /** the engine in use */
  name: 'ort' | 'tfjs';
  /** why it was chosen, including what was tried and failed */
  reason: string;
  /** ORT's intra-op threads (engine ort) */
  threads?: number;
  /** onnxruntime-node's version (engine ort) */
  ortVersion?: string;
}

/** Parse a user-given engine name (flag or ZOTUNE_ENGINE); throws a one-line error naming the source. */
export function parseEngine(value: string | undefined, source = '--engine'): EngineName {
  const v = (value ?? 'auto').trim();
  if ((ENGINES as readonly string[]).includes(v)) return v as EngineName;
  throw new Error(`${source}: unknown engine "${v}"; expected one of ${ENGINES.join(', ')}`);
}

/** The engine preference from the flag when given, else ZOTUNE_ENGINE (empty = unset, as a shell's `ZOTUNE_ENGINE=`), else auto. */
export function enginePreference(flag: string | undefined): EngineName {
  if (flag !== undefined) return parseEngine(flag, '--engine');
  return parseEngine(process.env.ZOTUNE_ENGINE?.trim() || undefined, 'ZOTUNE_ENGINE');
}

/** Parse --threads (default: the machine's cores). */
export function parseThreads(value: string | number | undefined, source = '--threads'): number {
  if (value === undefined) return availableParallelism();
  const n = typeof value === 'number' ? value : Number(value);
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`${source}: expected an integer >= 1, got "${value}"`);
  if (n > 256) throw new Error(`${source}: at most 256 (the noise pool's bound), got "${value}"`);
  return n;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);
}

/** onnxruntime-node's version, or the one-line reason it cannot be loaded. */
async function probeOrt(module: string): Promise<{ version?: string; error?: string }> {
  try {
    const ort = await import(/* @vite-ignore */ module);
    return { version: ort.env?.versions?.node ?? 'unknown' };
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    return { error: missing ? `${module} is not installed` : `${module} failed to load: ${firstLine(e)}` };
  }
}

export interface ChooseEngineOptions {
  /** ORT intra-op threads */
  threads?: number;
  /** the tfjs backend runs on a GPU (tfjs-node-gpu): auto keeps tfjs there */
  gpu?: boolean;
  /** the ORT package to load (tests point it at a missing one) */
  ortModule?: string;
}

/** Pick the engine for `work`; throws a one-line error when an explicit choice cannot be honoured. */
export async function chooseEngine(pref: EngineName, work: EngineWork, opts: ChooseEngineOptions = {}): Promise<EngineChoice> {
  const threads = opts.threads ?? availableParallelism();
  const module = opts.ortModule ?? 'onnxruntime-node';
  if (pref === 'tfjs') return { name: 'tfjs', reason: 'requested' };
  if (work === 'gradients') {
    if (pref === 'ort') throw new Error('--engine ort: this command needs gradients (tfjs autodiff); use --engine tfjs or auto');
    return { name: 'tfjs', reason: 'auto: gradients need tfjs autodiff' };
  }
  if (pref === 'auto' && opts.gpu) return { name: 'tfjs', reason: 'auto: the tfjs-node-gpu GPU backend is active' };
  const probe = await probeOrt(module);
  if (probe.error) {
    if (pref === 'ort') throw new Error(`--engine ort: ${probe.error}; use --engine tfjs`);
    return { name: 'tfjs', reason: `auto: ${probe.error}; fell back to tfjs` };
  }
  const why = pref === 'ort' ? 'requested' : 'auto: forward-only work';
  return { name: 'ort', reason: `${why}; ONNX Runtime ${probe.version}, ${threads} intra-op thread(s)`, threads, ortVersion: probe.version };
}

/**
 * The engine for a command's forward-only work (eval, replay, model, bench), from its `--engine` and
 * `--threads` flags as typed (strings) or already parsed, on the tfjs backend in use. A flag that is
 * invalid or cannot be honoured rejects with a one-line Error naming it (async, so `.catch` sees
 * every failure).
 */
export async function forwardEngine(flags: { engine?: string; threads?: string | number }, backend: { name: string; reason: string }): Promise<EngineChoice> {
  return chooseEngine(enginePreference(flags.engine), 'forward', { threads: parseThreads(flags.threads), gpu: isGpuBackend(backend) });
}

/** Whether the active tfjs backend is tfjs-node-gpu (from initBackend's choice). */
export function isGpuBackend(backend: { name: string; reason: string }): boolean {
  return backend.name === 'tensorflow' && /tfjs-node-gpu(?! failed| not installed)/.test(backend.reason);
}

/** The engine as the commands' JSON output reports it. */
export function engineReport(e: EngineChoice): Record<string, unknown> {
  return { name: e.name, reason: e.reason, ...(e.name === 'ort' ? { threads: e.threads, ortVersion: e.ortVersion, sessions: ortSessionsCreated() } : {}) };
}

/** The one-line stderr note of a choice. */
export function engineNote(choice: EngineChoice): string {
  return `zotune: engine ${choice.name} (${choice.reason})\n`;
}

export interface OpenModelOptions {
  /**
   * the checkpoint is handed over: the model adopts its arrays where it can (engine ort) or copies them
   * into its variables (tfjs), and ckpt.tensors is emptied either way, so the process never holds the
   * weights twice; default false (the checkpoint stays usable)
   */
  handOver?: boolean;
  /** engine ort: blocks on SharedArrayBuffers for worker threads (OrtModelOptions.shared) */
  shared?: boolean;
  /** engine ort: the attention of the graph (default $ZOTUNE_ORT_ATTENTION, else gqa) */
  attention?: AttentionKind;
  /** engine tfjs: the fused wasm kernels where the family allows them (default true) */
  kernels?: boolean;
}

/** The model of a checkpoint on the chosen engine: the one Model interface, whichever it is. */
export async function openModel(ckpt: Checkpoint, choice: EngineChoice, opts: OpenModelOptions = {}): Promise<Model> {
  if (choice.name === 'tfjs') {
    const m = createTfjsModel(ckpt, { kernels: opts.kernels });
    // the variables hold their own copy: a handed-over checkpoint is released all the same
    if (opts.handOver) ckpt.tensors.clear();
    return m;
  }
  const { createOrtModel } = await loadOrt();
  return createOrtModel(ckpt, { handOver: opts.handOver, shared: opts.shared, attention: opts.attention, threads: choice.threads });
}
