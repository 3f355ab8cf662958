// `zotune bench forward`: the model's forward pass (full logits) and scoring pass (tokenLogProbs on a
// packed batch of the same size): ms per call, tokens/s, achieved GFLOP/s and its ratio to the
// backend's 2-D matMul peak, measured in the same process.
import * as tf from '@tensorflow/tfjs-core';
import { writeJsonAtomic } from '@zotune/io';
import {
  archOf,
  FAMILY_15M_CONFIGS,
  packBatch,
  packSequences,
  randomCheckpoint,
  resolveModel,
  wasmKernelsAvailable,
  STORIES15M_CONFIG,
  STORIES260K_CONFIG,
  type Checkpoint,
  type Model,
  type ModelConfig,
} from '@zotune/models';
import { engineNote, engineReport, enginePreference, openModel, parseThreads, type EngineName, forwardEngine } from '@zotune/engine';
import { loadOrt, parseAttention, type AttentionKind } from '@zotune/ort';
import { UserError, emit, parseNumber, usageError } from '@zotune/report';
import { initBackend, parseBackend } from '@zotune/tensor';
import type { ForwardShape } from './bench-shapes';

// every shape --shape's help names (commands.ts), and no other
const SHAPES: Record<string, ModelConfig> = {
  stories15M: STORIES15M_CONFIG,
  stories260K: STORIES260K_CONFIG,
  // the stories15M dimensions in the other families' architectures (biases, LayerNorm, learned positions, 2-matrix FFN)
  'qwen2-15M': FAMILY_15M_CONFIGS.qwen2,
  'opt-15M': FAMILY_15M_CONFIGS.opt,
  'gpt2-15M': FAMILY_15M_CONFIGS.gpt2,
} satisfies Record<ForwardShape, ModelConfig>;

export interface BenchForwardFlags {
  model?: string;
  shape?: string;
  batch: string;
  seq: string;
  repeat: string;
  seed: string;
  out?: string;
  backend?: string;
  kernels: boolean;
  engine?: string;
  threads?: string;
  attention?: string;
  json?: boolean;
}

export interface Timing {
  /** median of the timed calls */
  ms: number;
  /** fastest timed call */
  bestMs: number;
  /** median process CPU time (user + system, all threads) of the timed calls: on a loaded machine this moves far less than wall time (interleaved timings only) */
  cpuMs?: number;
  /** engine ort: GFLOP per CPU-second over the MatMul peak's GFLOP per CPU-second (work efficiency, steady under load) */
  cpuRatioToPeak?: number;
  tokensPerSecond: number;
  /** FLOPs of the call as computed (see flopCounting) */
  gflop: number;
  /** gflop over the median time */
  gflopPerSecond: number;
  /** gflopPerSecond over the measured matMul peak */
  ratioToPeak: number;
}

export interface BenchForwardResult {
  model: string;
  /** 'checkpoint' for --model, 'random' for --shape */
  weights: 'checkpoint' | 'random';
  config: ModelConfig;
  parameters: number;
  backend: string;
  /** the forward engine (ort: ONNX Runtime on `threads` intra-op threads; its peak is ORT's own MatMul) */
  engine: Record<string, unknown>;
  /** the fused wasm kernels ran (else the tfjs-ops path; engine tfjs only) */
  fusedKernels: boolean;
  batch: number;
  seq: number;
  tokens: number;
  repeat: number;
  /** forward(): logits [batch, seq, vocab] of a plain causal batch, weights unchanged between calls */
  forward: Timing & { msPerForward: number };
  /** forward() right after every block was reassigned (as in a ZO step: packed weights are rebuilt) */
  forwardAfterUpdate: Timing;
  /** tokenLogProbs() of a packed batch of the same size: prompt + 2 candidates of 2 tokens per row */
  scoring: Timing & { targets: number };
  /** engine ort: the rotary graph's attention (gqa, mha or plain; the learned-position families are always plain) */
  attention?: string;
  /** engine ort, further --attention kinds timed in the same run (interleaved with the first) against the same peak */
  compare?: { attention: string; forward: Timing; forwardAfterUpdate: Timing; scoring: Timing }[];
  /** 2-D matMul [2048, 1024] × [1024, 1024] on this engine (tfjs backend, or ORT on the same threads) */
  matmulPeak: { shape: number[]; ms: number; gflopPerSecond: number; cpuMs?: number };
  flopCounting: string;
}

/** Median and best wall ms of `repeat` calls after one warm-up; `before` runs untimed before each. */
async function time(repeat: number, fn: () => void | Promise<unknown>, before?: () => void): Promise<{ ms: number; bestMs: number }> {
  before?.();
  await fn();
  const ts: number[] = [];
  for (let r = 0; r < repeat; r++) {
    before?.();
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { ms: ts[Math.floor(ts.length / 2)], bestMs: ts[0] };
}

/** Matmul FLOPs per token of one decoder layer: the q|k|v projection, and o_proj + the MLP (3 matrices for SwiGLU, else 2). */
/**
 * `time` for several functions at once, interleaved: one warm-up each, then `repeat` rounds that call each
 * once (the order rotating per round), so a load change on a shared machine hits every one of them alike.
 */
async function timeInterleaved(repeat: number, fns: (() => Promise<unknown>)[], before?: (i: number) => void): Promise<{ ms: number; bestMs: number; cpuMs: number }[]> {
  const ts: number[][] = fns.map(() => []);
  const cpu: number[][] = fns.map(() => []);
  for (let i = 0; i < fns.length; i++) {
    before?.(i);
    await fns[i]();
  }
  for (let r = 0; r < repeat; r++) {
    for (let j = 0; j < fns.length; j++) {
      const i = (j + r) % fns.length;
      before?.(i);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fns[i]();
      ts[i].push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[i].push((c.user + c.system) / 1000);
    }
  }
  const median = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)];
  return ts.map((t, i) => ({ ms: median(t), bestMs: Math.min(...t), cpuMs: median(cpu[i]) }));
}

/** Matmul FLOPs per token of one decoder layer: the q|k|v projection, and o_proj + the MLP (3 matrices for SwiGLU, else 2). */
function layerFlops(c: ModelConfig): { qkv: number; rest: number } {
  const hd = c.dim / c.nHeads;
  const ffn = archOf(c).act === 'swiglu' ? 3 : 2;
  return { qkv: 2 * c.dim * (c.nHeads + 2 * c.nKvHeads) * hd, rest: 2 * (c.nHeads * hd * c.dim + ffn * c.dim * c.hiddenDim) };
}

/** Matmul FLOPs per token of all decoder layers. */
function layerFlopsPerToken(c: ModelConfig): number {
  const f = layerFlops(c);
  return (f.qkv + f.rest) * c.nLayers;
}

/** Attention FLOPs (scores and weighted sum) of one layer over the (query, key) pairs the mask allows. */
function attentionFlops(c: ModelConfig, pairs: number): number {
  const hd = c.dim / c.nHeads;
  return 2 * 2 * hd * c.nHeads * pairs;
}

function tokenRows(batch: number, seq: number, vocab: number): number[][] {
  // deterministic ids spread over the vocabulary (BOS first)
  return Array.from({ length: batch }, (_, b) => Array.from({ length: seq }, (_, t) => (t === 0 ? 1 : 3 + ((b * 7919 + t * 104729) % (vocab - 3)))));
}

export async function benchForward(opts: {
  model?: string;
  shape?: string;
  batch: number;
  seq: number;
  repeat: number;
  seed: number;
  /** allow the fused wasm kernels (default true) */
  kernels?: boolean;
  backend?: ReturnType<typeof parseBackend>;
  engine?: EngineName;
  threads?: number;
  /** engine ort: the attention kinds to time, the first one reported at the top level (default: the engine's default) */
  attention?: AttentionKind[];
}): Promise<BenchForwardResult> {
  const backend = await initBackend(opts.backend ?? parseBackend(process.env.ZOTUNE_BACKEND, 'ZOTUNE_BACKEND'));
  const engine = await forwardEngine(opts, backend).catch(usageError);
  process.stderr.write(engineNote(engine));
  const say = (s: string) => process.stderr.write(`zotune bench forward: ${s}\n`);
  let ckpt: Checkpoint;
  let name: string;
  if (opts.shape !== undefined) {
    const cfg = SHAPES[opts.shape];
    if (!cfg) throw new UserError(`--shape: unknown shape "${opts.shape}"; expected one of ${Object.keys(SHAPES).join(', ')}`, 2);
    ckpt = randomCheckpoint(cfg, opts.seed);
    name = opts.shape;
  } else {
    try {
      const r = resolveModel(opts.model ?? 'stories260K');
      ckpt = r.checkpoint;
      name = r.name;
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  }
  const { batch: B, seq: T, repeat } = opts;
  const c = ckpt.config;
  if (T > c.maxSeqLen) throw new UserError(`--seq: ${T} exceeds the model's context of ${c.maxSeqLen}`, 2);
  const kinds = engine.name === 'ort' ? (opts.attention ?? []) : [];
  if (engine.name !== 'ort' && opts.attention?.length) throw new UserError('--attention: only with --engine ort', 2);
  const open = async (attention?: AttentionKind): Promise<Model> =>
    openModel(ckpt, engine, { kernels: opts.kernels ?? true, attention });
  const model = await open(kinds[0]);
  try {
    const parameters = model.blocks.reduce((a, b) => a + b.size, 0);
    const N = B * T;

    // the engine's 2-D matMul peak, measured here before and after the model (best of both: a busy
    // machine can only make a measurement slower): tfjs's matMul, or ORT's MatMul on the same threads
    const a = tf.randomNormal([2048, 1024]);
    const w = tf.randomNormal([1024, 1024]);
    const ortPeak = engine.name === 'ort' ? (await loadOrt()).ortMatMulPeak : undefined;
    let peakCpuMs = Infinity;
    const peakMs = async () =>
      ortPeak
        ? await ortPeak(engine.threads!, Math.max(5, repeat)).then((p) => {
            peakCpuMs = Math.min(peakCpuMs, p.cpuMs);
            return p.ms;
          })
        : (await time(Math.max(5, repeat), () => {
            const r = tf.matMul(a, w);
            r.dataSync();
            r.dispose();
          })).bestMs;
    let mmMs = await peakMs();
    const peakOf = (ms: number) => (2 * 2048 * 1024 * 1024) / (ms * 1e6);

    const plain = packSequences(tokenRows(B, T, c.vocabSize));
    const causalPairs = (B * T * (T + 1)) / 2;
    const fwdFlops = N * (layerFlopsPerToken(c) + 2 * c.dim * c.vocabSize) + c.nLayers * attentionFlops(c, causalPairs);
    const timing = (t: { ms: number; bestMs: number; cpuMs?: number }, flops: number, tokens: number): Timing => ({
      ...t,
      tokensPerSecond: tokens / (t.ms / 1000),
      gflop: flops / 1e9,
      gflopPerSecond: flops / (t.ms * 1e6),
      ratioToPeak: 0, // set once the peak is final
    });

    // scoring: each row = prompt (T − 4) + 2 candidates of 2 tokens; the classifier runs at 4 targets per
    // row, and the last layer computes its queries, o_proj and MLP at the 3 predicting rows only
    const rows = tokenRows(B, T, c.vocabSize);
    const packed = packBatch(
      rows.map((r) => r.slice(0, T - 4)),
      rows.map((r) => [r.slice(T - 4, T - 2), r.slice(T - 2)]),
    );
    const P = T - 4;
    const n = packed.predIndex.length;
    const allPairs = B * ((P * (P + 1)) / 2 + 2 * (2 * P + 3)); // prompt causal + each candidate: prompt + its own causal
    const lastPairs = B * (P + 2 * (P + 1)); // the last prompt token and each candidate's first token
    const f = layerFlops(c);
    const scoreFlops =
      N * (c.nLayers * f.qkv + (c.nLayers - 1) * f.rest) +
      n * (f.rest + 2 * c.dim * c.vocabSize) +
      (c.nLayers - 1) * attentionFlops(c, allPairs) +
      attentionFlops(c, lastPairs);

    // every model to time (engine ort: one per --attention kind), opened together and timed interleaved
    const models: Model[] = [model];
    try {
      for (const kind of kinds.slice(1)) models.push(await open(kind));
    } catch (e) {
      for (const m of models.slice(1)) await m.dispose();
      throw e;
    }
    const attentionOf = (m: Model) => ('attention' in m ? String(m.attention) : undefined);
    const label = (i: number) => (models.length > 1 ? `[${attentionOf(models[i])}] ` : '');
    const forwardOf = (m: Model) => () => m.logits(plain);
    // as in a ZO step: every block gets new data before the forward (tfjs: packed weights are rebuilt;
    // ort: the blocks are written in place and read by the next run as they are)
    const reassign = (i: number) => {
      for (const b of models[i].blocks) {
        if (b.data) b.data.set(b.data);
        else b.variable!.assign(tf.tidy(() => tf.mul(b.variable!, 1)));
      }
    };
    const scoreOf = (m: Model) => () => m.tokenLogProbs(packed);
    let results: { fwd: Timing; upd: Timing; sc: Timing }[];
    try {
      const fwd = (await timeInterleaved(repeat, models.map(forwardOf))).map((t) => timing(t, fwdFlops, N));
      fwd.forEach((t, i) => say(`${label(i)}forward ${B}×${T}: ${t.ms.toFixed(1)} ms (CPU ${t.cpuMs!.toFixed(0)} ms), ${Math.round(t.tokensPerSecond)} tokens/s, ${t.gflopPerSecond.toFixed(1)} GFLOP/s`));
      const upd = (await timeInterleaved(repeat, models.map(forwardOf), reassign)).map((t) => timing(t, fwdFlops, N));
      upd.forEach((t, i) => say(`${label(i)}forward after a weight update: ${t.ms.toFixed(1)} ms`));
      const sc = (await timeInterleaved(repeat, models.map(scoreOf))).map((t) => timing(t, scoreFlops, N));
      sc.forEach((t, i) => say(`${label(i)}scoring ${B}×${T} (${n} targets): ${t.ms.toFixed(1)} ms (CPU ${t.cpuMs!.toFixed(0)} ms), ${Math.round(t.tokensPerSecond)} tokens/s`));
      results = models.map((_, i) => ({ fwd: fwd[i], upd: upd[i], sc: sc[i] }));
    } finally {
      for (const m of models.slice(1)) await m.dispose();
    }
    const main = results[0];
    const compare = results.slice(1).map((r, j) => ({ attention: attentionOf(models[j + 1]) ?? kinds[j + 1], forward: r.fwd, forwardAfterUpdate: r.upd, scoring: r.sc }));

    mmMs = Math.min(mmMs, await peakMs());
    tf.dispose([a, w]);
    const peak = peakOf(mmMs);
    for (const t of [main.fwd, main.upd, main.sc, ...compare.flatMap((x) => [x.forward, x.forwardAfterUpdate, x.scoring])]) {
      t.ratioToPeak = t.gflopPerSecond / peak;
      if (t.cpuMs !== undefined && Number.isFinite(peakCpuMs)) t.cpuRatioToPeak = (t.gflop / t.cpuMs) / ((2 * 2048 * 1024 * 1024) / 1e9 / peakCpuMs);
    }
    say(`matMul 2048×1024×1024: ${peak.toFixed(1)} GFLOP/s (peak); forward at ${(main.fwd.ratioToPeak * 100).toFixed(0)} % of it`);

    return {
      model: name,
      weights: opts.shape !== undefined ? 'random' : 'checkpoint',
      config: c,
      parameters,
      backend: backend.name,
      engine: engineReport(engine),
      fusedKernels: engine.name === 'tfjs' && (opts.kernels ?? true) && wasmKernelsAvailable() && archOf(c).norm === 'rms', // the LayerNorm families run tfjs ops
      batch: B,
      seq: T,
      tokens: N,
      repeat,
      forward: { ...main.fwd, msPerForward: main.fwd.ms },
      forwardAfterUpdate: main.upd,
      scoring: { ...main.sc, targets: n },
      ...(attentionOf(model) ? { attention: attentionOf(model) } : {}),
      ...(compare.length ? { compare } : {}),
      matmulPeak: { shape: [2048, 1024, 1024], ms: mmMs, gflopPerSecond: peak, ...(Number.isFinite(peakCpuMs) ? { cpuMs: peakCpuMs } : {}) },
      flopCounting:
        '2·(q,k,v,o,gate,up,down weights) per token and layer (scoring: o,gate,up,down of the last layer at the targets only) + 2·dim·vocab per classified position (forward: all; scoring: the targets) + 4·hd·heads per allowed (query, key) pair and layer',
    };
  } finally {
    await model.dispose();
  }
}

/** The action of `zotune bench forward` (declared in commands.ts). */
export async function benchForwardCommand(flags: BenchForwardFlags): Promise<void> {
  if (flags.model !== undefined && flags.shape !== undefined) throw new UserError('--model and --shape: give one of them, not both', 2);
  let backend;
  let engine: EngineName;
  let threads: number;
  let attention: AttentionKind[] | undefined;
  try {
    attention = flags.attention?.split(',').map((k) => parseAttention(k, '--attention'));
    backend = flags.backend !== undefined ? parseBackend(flags.backend, '--backend') : undefined;
    engine = enginePreference(flags.engine);
    threads = parseThreads(flags.threads);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  const result = await benchForward({
    model: flags.model,
    shape: flags.shape,
    batch: parseNumber('--batch', flags.batch, { int: true, min: 1 }),
    seq: parseNumber('--seq', flags.seq, { int: true, min: 6 }),
    repeat: parseNumber('--repeat', flags.repeat, { int: true, min: 1 }),
    seed: parseNumber('--seed', flags.seed, { int: true, min: 0 }),
    kernels: flags.kernels,
    backend,
    engine,
    threads,
    attention,
  });
  if (flags.out) writeJsonAtomic(flags.out, result);
  const f = result.forward;
  emit(
    result,
    !!flags.json,
    [
      `${result.model} (${result.weights} weights) on engine ${result.engine.name} (${result.engine.name === 'ort' ? `${result.engine.threads} threads` : result.backend}${result.fusedKernels ? ', fused kernels' : ''}), batch ${result.batch} × ${result.seq}`,
      `forward: ${f.ms.toFixed(1)} ms, ${Math.round(f.tokensPerSecond)} tokens/s, ${f.gflopPerSecond.toFixed(1)} GFLOP/s = ${(f.ratioToPeak * 100).toFixed(0)} % of the ${result.matmulPeak.gflopPerSecond.toFixed(1)} GFLOP/s matMul peak`,
      `forward after a weight update: ${result.forwardAfterUpdate.ms.toFixed(1)} ms`,
      `scoring (${result.scoring.targets} targets): ${result.scoring.ms.toFixed(1)} ms, ${Math.round(result.scoring.tokensPerSecond)} tokens/s`,
      ...(result.attention ? [`attention ${result.attention}: forward ${(f.ratioToPeak * 100).toFixed(0)} % of peak, scoring ${(result.scoring.ratioToPeak * 100).toFixed(0)} %${f.cpuRatioToPeak !== undefined ? ` (per CPU second: ${(f.cpuRatioToPeak * 100).toFixed(0)} %, ${(result.scoring.cpuRatioToPeak! * 100).toFixed(0)} %)` : ''}`] : []),
      ...(result.compare ?? []).map(
        (x) =>
          `attention ${x.attention}: forward ${x.forward.ms.toFixed(1)} ms = ${(x.forward.ratioToPeak * 100).toFixed(0)} % of peak (${(x.forward.ms / f.ms).toFixed(2)}× the first), scoring ${x.scoring.ms.toFixed(1)} ms = ${(x.scoring.ratioToPeak * 100).toFixed(0)} % (${(x.scoring.ms / result.scoring.ms).toFixed(2)}×)`,
      ),
    ].join('\n'),
  );
}
