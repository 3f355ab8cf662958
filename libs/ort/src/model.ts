// Every family on ONNX Runtime (engine ort): graph.ts's graph of the family's Arch, the weights in one
// home — each Block's Float32Array, fed to every run as an input (no copy into a tfjs variable, no initializer
// inside ORT), so in-place perturbations by the ZO engine are what the next run computes with. Adapters
// are inputs the same way: prefix tuning's keys and values (setPrefix), LoRA's A and B (setLora).
//
// Blocks on SharedArrayBuffers let the noise pool's worker threads perturb them in place (no noise sums
// handed back to this thread). onnxruntime-node 1.30 on Node 20 rejects inputs whose typed array sits on
// a SharedArrayBuffer ("Invalid argument": its N-API binding reads the buffer with
// napi_get_arraybuffer_info, which Node 20 refuses for shared memory; microsoft/onnxruntime#23148);
// Node >= 22.21 accepts them and ORT reads them in place. So `shared: 'auto'` (the default) runs a tiny
// probe session once per process (ortAcceptsShared): blocks on SharedArrayBuffers fed zero-copy where
// it passes, on plain ArrayBuffers (read in place) where it fails. With `shared: true` on a runtime that
// refuses them, each run first copies the blocks into one plain staging array per block: one memcpy of
// the weights per run and a second copy of them in memory.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import {
  archOf,
  attentionBias,
  checkIndex,
  checkpointFromBlocks,
  checkPlainBatch,
  headDim,
  hostBlocksFromCheckpoint,
  PAD_SEGMENT,
  ropeHost,
  type AttentionPrefix,
  type Block,
  type Checkpoint,
  type CheckpointFormat,
  type Arch,
  type Family,
  type LoraBranches,
  type Model,
  type ModelConfig,
  type PackedBatch,
  type PlainBatch,
} from '@zotune/models';
import { countSession } from './sessions';
import { buildGraph, buildMatMulGraph, loraInputs, loraTargetShape, parseAttention, prefixInputs, type AttentionKind, type GraphLora, type GraphOutput, type GraphVariant } from './graph';

export interface OrtModelOptions {
  /** ORT intra-op threads (default: the machine's cores) */
  threads?: number;
  /**
   * blocks on SharedArrayBuffers (the noise pool's threads update them in place): 'auto' (default) where
   * ORT accepts shared inputs (ortAcceptsShared), else plain ArrayBuffers; true always (staged into plain
   * arrays before each run where ORT refuses them); false never
   */
  shared?: boolean | 'auto';
  /** let ORT's worker threads spin between ops (faster on an idle machine, slower on a shared one); default false */
  spin?: boolean;
  /**
   * attention: 'gqa' (default; GroupQueryAttention, ORT's RotaryEmbedding for the rotary families, and
   * the last layer only at the scored rows), 'mha' (MultiHeadAttention instead), or 'plain' (the
   * plain-op graph: comparison and fallback). Default $ZOTUNE_ORT_ATTENTION, else gqa. A prefix (prefix
   * tuning) runs the plain graph.
   */
  attention?: AttentionKind;
  /**
   * the checkpoint is handed over (hostBlocksFromCheckpoint's handOver): the blocks adopt its arrays
   * where no transpose is needed and ckpt.tensors is emptied, so the process never holds the weights
   * twice; default false (the checkpoint's arrays are copied and it stays usable)
   */
  handOver?: boolean;
}

/**
 * The last layer's query rows of a scored batch: the distinct flat rows of `select` grouped by batch row,
 * padded to m per batch row by repeating one of the row's own (a batch row with none repeats its row 0),
 * rows [B, m] and the index of each selected row among the B·m. undefined when m > T / 2 (the fused
 * attention over all T rows is then cheaper than gathering).
 */
export function scoredRowLayout(B: number, T: number, select: Int32Array): { rows: Int32Array; m: number; index: Int32Array } | undefined {
  const per: number[][] = Array.from({ length: B }, () => []);
  const slot = new Map<number, number>(); // flat row → its place within its batch row
  for (const r of select) {
    if (slot.has(r)) continue;
    const b = Math.floor(r / T);
    slot.set(r, per[b].length);
    per[b].push(r);
  }
  const m = Math.max(1, ...per.map((p) => p.length));
  if (2 * m > T) return undefined;
  const rows = new Int32Array(B * m);
  for (let b = 0; b < B; b++) for (let j = 0; j < m; j++) rows[b * m + j] = per[b][j] ?? per[b][0] ?? b * T;
  const index = Int32Array.from(select, (r) => Math.floor(r / T) * m + slot.get(r)!);
  return { rows, m, index };
}

/** A Float32Array of n floats on a SharedArrayBuffer (shareable with worker threads). */
export function sharedFloats(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * n));
}

let sharedProbe: Promise<boolean> | undefined;

/**
 * Whether this runtime's onnxruntime-node accepts inputs on SharedArrayBuffers and reads them as they
 * are now (Node >= 22.21: yes; Node 20: "Invalid argument"). One 1×2·2×1 MatMul session, run twice with
 * a write in between, once per process.
 */
export function ortAcceptsShared(): Promise<boolean> {
  sharedProbe ??= (async () => {
    const session = await ort.InferenceSession.create(buildMatMulGraph(1, 2, 1));
    try {
      const a = sharedFloats(2);
      const w = sharedFloats(2);
      a.set([1, 2]);
      w.set([3, 4]);
      const run = async () => (await session.run({ a: new ort.Tensor('float32', a, [1, 2]), w: new ort.Tensor('float32', w, [2, 1]) })).y.data[0];
      const first = await run();
      w[0] = 5;
      return first === 11 && (await run()) === 13;
    } catch {
      return false;
    } finally {
      await session.release();
    }
  })().catch(() => false);
  return sharedProbe;
}

export class OrtModel implements Model {
  readonly family: Family;
  readonly engine = 'ort' as const;
  readonly config: ModelConfig;
  readonly blocks: Block[];
  readonly format: CheckpointFormat;
  readonly source: string;
  readonly threads: number;
  private readonly spin: boolean;
  /** the attention of the graph */
  readonly attention: AttentionKind;
  /** the family's architecture (block roles), which the graph walks */
  readonly arch: Arch;
  private readonly hd: number;
  /** RoPE tables (rotary families), else undefined */
  private readonly cos?: Float32Array; // [maxSeqLen, hd]
  private readonly sin?: Float32Array; // [maxSeqLen, hd] signed (-sin, +sin)
  /** the weights as ORT tensors over the blocks' own arrays (or their staging copies), created once */
  private readonly weightFeeds: Record<string, ort.Tensor> = {};
  /** [block data, staging copy] per block when the blocks are shared, else empty */
  private readonly staging: [Float32Array, Float32Array][] = [];
  /** one session per output and prefix length (0: no prefix) */
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  /** prefix tuning: P and the prefix inputs over the adapter's own arrays */
  private prefix?: { tokens: number; feeds: Record<string, ort.Tensor> };
  /**
   * LoRA's branches (setLora): what the graph computes, its key among the sessions, the A/B inputs over
   * the adapter's own arrays, and [array, staging copy] of those ORT cannot read in place
   */
  private lora?: { graph: GraphLora; key: string; feeds: Record<string, ort.Tensor>; staging: [Float32Array, Float32Array][] };
  /** whether this runtime's ORT reads inputs on SharedArrayBuffers (ortAcceptsShared) */
  private readonly acceptsShared: boolean;
  private disposed = false;

  /** whether the blocks live on SharedArrayBuffers (the noise pool's threads update them in place) */
  readonly sharedWeights: boolean;

  private constructor(ckpt: Checkpoint, opts: OrtModelOptions, acceptsShared: boolean) {
    this.config = { ...ckpt.config };
    this.format = ckpt.format;
    this.source = ckpt.source;
    this.threads = opts.threads ?? availableParallelism();
    this.spin = opts.spin ?? false;
    if (!(Number.isInteger(this.threads) && this.threads >= 1)) throw new Error(`threads: expected an integer >= 1, got ${opts.threads}`);
    const shared = opts.shared ?? 'auto';
    this.acceptsShared = acceptsShared;
    this.sharedWeights = shared === true || (shared === 'auto' && acceptsShared);
    this.blocks = hostBlocksFromCheckpoint(ckpt, this.sharedWeights ? sharedFloats : undefined, { handOver: opts.handOver });
    for (const b of this.blocks) {
      let feed = b.data!;
      if (this.sharedWeights && !acceptsShared) this.staging.push([b.data!, (feed = new Float32Array(b.size))]);
      this.weightFeeds[b.name] = new ort.Tensor('float32', feed, b.shape);
    }
    this.family = ckpt.family;
    this.hd = headDim(this.config);
    const has = new Set(this.blocks.map((b) => b.name));
    this.arch = archOf(this.config, (name) => has.has(name));
    // an empty ZOTUNE_ORT_ATTENTION is unset
    const attention = opts.attention ?? parseAttention(process.env.ZOTUNE_ORT_ATTENTION?.trim() || undefined);
    // ORT's CPU GroupQueryAttention refuses a head size that is not a multiple of 8 ("head_size must be a
    // multiple of 8"): such a model runs the plain graph
    this.attention = attention === 'gqa' && this.hd % 8 !== 0 ? 'plain' : attention;
    if (this.arch.positions === 'rope') {
      const { cosHost, sinHost } = ropeHost(this.hd, this.config.maxSeqLen, this.config.ropeTheta);
      this.cos = cosHost;
      this.sin = sinHost;
    }
  }

  /** Build the model and its scoring session (the checkpoint's arrays are copied, or adopted with handOver). */
  static async create(ckpt: Checkpoint, opts: OrtModelOptions = {}): Promise<OrtModel> {
    const m = new OrtModel(ckpt, opts, (opts.shared ?? 'auto') === false ? false : await ortAcceptsShared());
    await m.session('logprobs', 0, m.variant(0, true));
    return m;
  }

  async logits(batch: PlainBatch, rows?: Int32Array): Promise<Float32Array> {
    this.check(batch);
    const N = batch.batch * batch.length;
    const select = rows ?? Int32Array.from({ length: N }, (_, i) => i);
    checkIndex(select, N, 'rows');
    const out = await this.run('logits', batch, select);
    return out.logits.data as Float32Array;
  }

  async tokenLogProbs(batch: PackedBatch): Promise<Float32Array> {
    this.check(batch);
    const n = batch.predIndex.length;
    if (batch.targetIds.length !== n) throw new Error(`tokenLogProbs: ${n} predIndex entries but ${batch.targetIds.length} targetIds`);
    checkIndex(batch.predIndex, batch.batch * batch.length, 'predIndex');
    checkIndex(batch.targetIds, this.config.vocabSize, 'targetIds');
    const out = await this.run('logprobs', batch, batch.predIndex, batch.targetIds);
    return out.logprobs.data as Float32Array;
  }

  async scoreCandidates(batch: PackedBatch): Promise<Float32Array> {
    const groups = batch.batch * batch.numCandidates;
    if (batch.groupSize.length !== groups) throw new Error(`scoreCandidates: groupSize has ${batch.groupSize.length} entries, expected ${groups}`);
    checkIndex(batch.targetGroup, groups, 'targetGroup');
    const lp = await this.tokenLogProbs(batch); // [n]
    // float32 sums in target order, then the mean: TfjsModel's unsortedSegmentSum and div
    const sums = new Float32Array(groups);
    for (let i = 0; i < lp.length; i++) sums[batch.targetGroup[i]] += lp[i];
    for (let j = 0; j < groups; j++) sums[j] = sums[j] / Math.max(batch.groupSize[j], 1);
    return sums;
  }

  /** The weights back in HF layout (for the safetensors writer). */
  toCheckpoint(): Checkpoint {
    return checkpointFromBlocks(this.config, this.blocks, { format: this.format, source: this.source });
  }

  setPrefix(prefix: AttentionPrefix | undefined): void {
    if (!prefix) {
      this.prefix = undefined;
      return;
    }
    const { nLayers, nKvHeads } = this.config;
    const width = nKvHeads * this.hd;
    if (prefix.keys.length !== nLayers || prefix.values.length !== nLayers) throw new Error(`setPrefix: ${prefix.keys.length} keys and ${prefix.values.length} values for ${nLayers} layers`);
    const feeds: Record<string, ort.Tensor> = {};
    for (let l = 0; l < nLayers; l++) {
      const [k, v] = prefixInputs(l);
      for (const [name, a] of [[k, prefix.keys[l]], [v, prefix.values[l]]] as const) {
        if (a.length !== prefix.tokens * width) throw new Error(`setPrefix: layer ${l} holds ${a.length} values, expected [${prefix.tokens}, ${width}]`);
        feeds[name] = new ort.Tensor('float32', a, [prefix.tokens, width]);
      }
    }
    this.prefix = { tokens: prefix.tokens, feeds };
  }

  /**
   * Compute the targeted linears with LoRA's branch from now on (undefined: the base model again): the
   * graph adds scale·((x·A)·B) to x·W0 (graph.ts, `linear`), A and B fed at every run from the given
   * arrays, so the blocks (W0) are never written. One session per setting of rank, scale and targets.
   */
  setLora(lora: LoraBranches | undefined): void {
    if (!lora) {
      this.lora = undefined;
      return;
    }
    const { rank: r, scale } = lora;
    if (!(Number.isInteger(r) && r >= 1)) throw new Error(`setLora: rank ${r}, expected an integer >= 1`);
    if (!Number.isFinite(scale)) throw new Error(`setLora: scale ${scale}, expected a finite number`);
    const targets = lora.targets.map((t) => t.weight);
    if (new Set(targets).size !== targets.length) throw new Error('setLora: a weight is targeted twice');
    const feeds: Record<string, ort.Tensor> = {};
    const staging: [Float32Array, Float32Array][] = [];
    for (const { weight, a, b } of lora.targets) {
      const [din, dout] = loraTargetShape(this.arch, weight);
      if (a.length !== din * r || b.length !== r * dout) throw new Error(`setLora: ${weight} [${din}, ${dout}] takes A [${din}, ${r}] and B [${r}, ${dout}], got ${a.length} and ${b.length} values`);
      const [an, bn] = loraInputs(weight);
      for (const [name, arr, dims] of [[an, a, [din, r]], [bn, b, [r, dout]]] as const) {
        // as the blocks: an array on a SharedArrayBuffer that ORT refuses is copied before each run
        let feed: Float32Array = arr;
        if (arr.buffer instanceof SharedArrayBuffer && !this.acceptsShared) staging.push([arr, (feed = new Float32Array(arr.length))]);
        feeds[name] = new ort.Tensor('float32', feed, [...dims]);
      }
    }
    this.lora = { graph: { rank: r, scale, targets }, key: `r${r}*${scale}:${targets.join(',')}`, feeds, staging };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s).release();
  }

  // ---- internals ----

  /**
   * Learned positions: pos [B, T] int32, the table rows; fused RoPE: pos [B, T] int64 (RotaryEmbedding's
   * position_ids); plain RoPE: cos, sin [B, T, 1, hd] gathered by position.
   */
  private positionFeeds(batch: PlainBatch, fused: boolean): Record<string, ort.Tensor> {
    const { batch: B, length: T } = batch;
    if (!this.cos || !this.sin) {
      const offset = this.arch.posOffset;
      return { pos: new ort.Tensor('int32', Int32Array.from(batch.positions, (p) => p + offset), [B, T]) };
    }
    if (fused) return { pos: new ort.Tensor('int64', BigInt64Array.from(batch.positions, (p) => BigInt(p)), [B, T]) };
    const hd = this.hd;
    const N = B * T;
    const cos = new Float32Array(N * hd);
    const sin = new Float32Array(N * hd);
    for (let i = 0; i < N; i++) {
      const p = batch.positions[i] * hd;
      cos.set(this.cos.subarray(p, p + hd), i * hd);
      sin.set(this.sin.subarray(p, p + hd), i * hd);
    }
    return { cos: new ort.Tensor('float32', cos, [B, T, 1, hd]), sin: new ort.Tensor('float32', sin, [B, T, 1, hd]) };
  }

  private check(batch: PlainBatch): void {
    if (this.disposed) throw new Error('OrtModel: used after dispose()');
    checkPlainBatch(batch, this.config);
  }

  /** One session per output, prefix length, graph variant and LoRA setting (the current one). */
  private session(output: GraphOutput, prefixTokens = 0, variant: GraphVariant = this.variant(prefixTokens, false)): Promise<ort.InferenceSession> {
    const key = `${output}:${prefixTokens}:${variant.attention}:${variant.scoredRows ? 'rows' : 'all'}:${this.lora?.key ?? ''}`;
    let s = this.sessions.get(key);
    if (!s) {
      const graph = buildGraph(this.arch, this.config, output, prefixTokens, variant, this.lora?.graph);
      s = ort.InferenceSession.create(graph, {
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        // no memory pattern: it plans and keeps the buffers of every input shape it has seen, and a ZO run's
        // minibatches change shape (row length) every step, so a run's peak grew step by step (1.29x eval
        // after 30 guided steps on stories260K, 1.18x without it)
        enableMemPattern: false,
        // session config keys (onnxruntime_session_options_config_keys.h), strings in the Node binding
        extra: { session: { intra_op: { allow_spinning: this.spin ? '1' : '0' } } },
      }).then((session) => {
        countSession();
        return session;
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  /**
   * The graph variant of a run: the fused ops unless plain or prefix-tuned; scored rows when the batch
   * has a layout. A packed row of a rotary family longer than the rotary caches (maxSeqLen rows: several
   * examples can share a row, each with positions < maxSeqLen) runs the plain graph: ORT's RotaryEmbedding
   * refuses an input longer than its cache ("Updating cos_cache and sin_cache ... is not currently
   * supported") even when every position_id is inside it.
   */
  private variant(prefixTokens: number, scoredRows: boolean, rowLength = 0): GraphVariant {
    const tooLong = this.arch.positions === 'rope' && rowLength > this.config.maxSeqLen;
    return this.attention === 'plain' || prefixTokens > 0 || tooLong ? { attention: 'plain' } : { attention: this.attention, scoredRows };
  }

  /**
   * One run: the batch's inputs (ids, positions, mask, selected rows, targets) plus every weight. The mask
   * [B, 1, T, P + T] is built once here and read by every layer.
   */
  private async run(output: GraphOutput, batch: PlainBatch, select: Int32Array, targets?: Int32Array): Promise<ort.InferenceSession.ReturnType> {
    for (const [from, to] of this.staging) to.set(from);
    for (const [from, to] of this.lora?.staging ?? []) to.set(from);
    const { batch: B, length: T } = batch;
    const P = this.prefix?.tokens ?? 0;
    const fused = this.variant(P, false, T).attention !== 'plain';
    const layout = fused ? scoredRowLayout(B, T, select) : undefined;
    const variant = this.variant(P, !!layout, T);
    const feeds: Record<string, ort.Tensor> = {
      ...this.weightFeeds,
      ...this.prefix?.feeds,
      ...this.lora?.feeds,
      ids: new ort.Tensor('int32', batch.tokens, [B, T]),
      bias: new ort.Tensor('float32', attentionBias(B, T, batch.segments, P), [B, 1, T, P + T]),
      ...this.positionFeeds(batch, fused),
    };
    if (layout) {
      feeds.rows = new ort.Tensor('int32', layout.rows, [B, layout.m]);
      feeds.select = new ort.Tensor('int32', layout.index, [layout.index.length]);
    } else feeds.select = new ort.Tensor('int32', select, [select.length]);
    if (variant.attention === 'gqa') {
      // no past (a prompt of T tokens), seqlens[b] = index of row b's last real token: GroupQueryAttention
      // multiplies each row's queries by its keys 0..seqlens[b] only, so right padding costs no key work
      // (the bias masks the padding keys as well; the padding queries' outputs are never read)
      const seqlens = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        let t = T - 1;
        while (t > 0 && batch.segments[b * T + t] === PAD_SEGMENT) t--;
        seqlens[b] = t;
      }
      feeds.seqlens = new ort.Tensor('int32', seqlens, [B]);
      feeds.total = new ort.Tensor('int32', Int32Array.of(T), []);
    }
    if (targets) feeds.targets = new ort.Tensor('int32', targets, [targets.length, 1]);
    return (await this.session(output, P, variant)).run(feeds);
  }
}

/**
 * ORT's own fp32 MatMul throughput on `threads` intra-op threads (same session options as the model):
 * best wall time of `repeat` runs of [m, k] × [k, n] after one warm-up, inputs fed like the weights.
 */
export async function ortMatMulPeak(threads: number, repeat: number, m = 2048, k = 1024, n = 1024): Promise<{ shape: number[]; ms: number; gflopPerSecond: number; cpuMs: number }> {
  const session = await ort.InferenceSession.create(buildMatMulGraph(m, k, n), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  countSession();
  try {
    const fill = (len: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i) * 0.1);
    const feeds = { a: new ort.Tensor('float32', fill(m * k), [m, k]), w: new ort.Tensor('float32', fill(k * n), [k, n]) };
    await session.run(feeds);
    let best = Infinity;
    let cpuMs = Infinity; // least process CPU time (all threads) of one run: the work, however loaded the machine
    for (let r = 0; r < repeat; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await session.run(feeds);
      best = Math.min(best, performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpuMs = Math.min(cpuMs, (c.user + c.system) / 1000);
    }
    return { shape: [m, k, n], ms: best, gflopPerSecond: (2 * m * k * n) / (best * 1e6), cpuMs };
  } finally {
    await session.release();
  }
}

/** Build the ORT model from a checkpoint. */
export function createOrtModel(ckpt: Checkpoint, opts: OrtModelOptions = {}): Promise<OrtModel> {
  return OrtModel.create(ckpt, opts);
}
