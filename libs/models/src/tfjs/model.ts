// The tfjs model of every family: one forward walking the family's Arch (families/arch.ts), in the
// same roles and order of operations as the ONNX graph (libs/ort graph.ts). The RMSNorm/RoPE/SwiGLU
// families (LLaMA, Qwen2) run fused wasm kernels where they can (forward on wasm: RoPE + attention,
// RMSNorm, SwiGLU, embedding; under a gradient tape the attention kernel with its backward kernel);
// everything else — the LayerNorm families (OPT, GPT-2), prefix tuning, other backends — runs the
// plain tfjs ops below (differentiable, any backend), which compute the same function.
// Built from a Checkpoint; exposes its parameters as Blocks in HF order (tf.Variables).
import * as tf from '@tensorflow/tfjs-core';
import { requireBackend } from '@zotune/tensor';
import { checkIndex, checkPlainBatch, packSequences, type PackedBatch, type PlainBatch } from '../batch';
import type { Checkpoint, CheckpointFormat } from '../checkpoint';
import { archOf, familyOf, type Arch, type Param } from '../families/arch';
import { checkpointFromBlocks, blocksFromCheckpoint } from '../llama/weights';
import { attentionBias } from '../mask';
import type { AttentionPrefix, Block, Family, ModelConfig, Model, TensorModel } from '../types';
import { attentionOps } from './attention';
import { registerGradients } from './kernels/gradients';
import { registerWasmSegmentSum } from './kernels/segment-sum';
import { attentionFused, attentionFusedWithGrad, gatherRowsFused, registerWasmKernels, rmsNormFused, swigluFused, transpose2d, wasmKernelsAvailable } from './kernels/wasm-kernels';
import { applyRope, disposeRope, ropeTables, type RopeTables } from './rope';

// the model must differentiate on every backend: gradients for tfjs-core, and the kernel wasm lacks
registerGradients();
registerWasmSegmentSum();
registerWasmKernels();

export interface TfjsModelOptions {
  /** use the fused wasm kernels when the backend is wasm and the family allows them (default true) */
  kernels?: boolean;
}

/** A linear (or a norm): its weight and optional bias as variables. */
interface Linear {
  /** [in, out] (a norm: [dim]) */
  w: tf.Variable;
  /** [out] when the checkpoint has one */
  b?: tf.Variable;
}

/** Derived tensors (transposed or concatenated weights) cached while their sources are unchanged. */
interface Derived {
  sources: object[];
  value: tf.Tensor;
}

/** GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³))). */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** A tensor's values on the host (awaiting the backend), the tensor disposed. */
async function readBack(t: tf.Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

export class TfjsModel implements Model, TensorModel {
  readonly engine = 'tfjs' as const;
  readonly family: Family;
  readonly config: ModelConfig;
  /** the family's architecture (block roles), which the forward walks */
  readonly arch: Arch;
  readonly blocks: Block[];
  /** where the weights came from */
  readonly format: CheckpointFormat;
  readonly source: string;
  private readonly hd: number;
  private readonly byName: Map<string, tf.Variable>;
  private readonly rope?: RopeTables;
  private readonly derived = new Map<string, Derived>();
  private readonly allowKernels: boolean;
  /** prefix tuning's keys and values (setPrefix), read at every forward */
  private prefix?: AttentionPrefix;
  private disposed = false;

  constructor(ckpt: Checkpoint, opts: TfjsModelOptions = {}) {
    this.config = { ...ckpt.config };
    this.format = ckpt.format;
    this.source = ckpt.source;
    this.family = familyOf(this.config);
    this.blocks = blocksFromCheckpoint(ckpt);
    this.byName = new Map(this.blocks.map((b) => [b.name, b.variable!]));
    this.arch = archOf(this.config, (name) => this.byName.has(name));
    this.hd = this.config.dim / this.config.nHeads;
    if (this.arch.positions === 'rope') this.rope = ropeTables(this.hd, this.config.maxSeqLen, this.config.ropeTheta);
    // the kernels compute RMSNorm, RoPE (rotate_half) + grouped attention and SwiGLU: those families only
    this.allowKernels = (opts.kernels ?? true) && this.arch.norm === 'rms' && this.arch.positions === 'rope' && this.arch.act === 'swiglu' && this.arch.preNorm;
  }

  // ---- Model: the results on the host ----

  logits(batch: PlainBatch, rows?: Int32Array): Promise<Float32Array> {
    return readBack(rows ? this.logitsAt(batch, rows) : this.forward(batch));
  }

  tokenLogProbs(batch: PackedBatch): Promise<Float32Array> {
    return readBack(this.tokenLogProbsTensor(batch));
  }

  scoreCandidates(batch: PackedBatch): Promise<Float32Array> {
    return readBack(this.scoreCandidatesTensor(batch));
  }

  // ---- TensorModel: tensors (differentiable under a gradient tape) ----

  forward(batch: PlainBatch): tf.Tensor3D {
    this.checkBatch(batch);
    return tf.tidy(() => {
      const logits = this.classify(this.finalNormed(this.hidden(batch))); // [N, V]
      return tf.reshape(logits, [batch.batch, batch.length, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /** Logits [rows.length, V] at the given flat positions (row * length + t) only. */
  logitsAt(batch: PlainBatch, rows: Int32Array): tf.Tensor2D {
    this.checkBatch(batch);
    checkIndex(rows, batch.batch * batch.length, 'rows');
    return tf.tidy(() => this.classify(this.finalNormed(this.hidden(batch, rows)))); // [n, V]
  }

  tokenLogProbsTensor(batch: PackedBatch): tf.Tensor1D {
    this.checkBatch(batch);
    const n = batch.predIndex.length;
    if (batch.targetIds.length !== n) throw new Error(`tokenLogProbs: ${n} predIndex entries but ${batch.targetIds.length} targetIds`);
    checkIndex(batch.predIndex, batch.batch * batch.length, 'predIndex');
    checkIndex(batch.targetIds, this.config.vocabSize, 'targetIds');
    const V = this.config.vocabSize;
    return tf.tidy(() => {
      const h = this.hidden(batch, batch.predIndex); // [n, dim]
      const logp = tf.logSoftmax(this.classify(this.finalNormed(h))); // [n, V]
      const flat = new Int32Array(n);
      for (let i = 0; i < n; i++) flat[i] = i * V + batch.targetIds[i];
      return tf.gather(tf.reshape(logp, [n * V]), tf.tensor1d(flat, 'int32')) as tf.Tensor1D; // [n]
    });
  }

  scoreCandidatesTensor(batch: PackedBatch): tf.Tensor2D {
    const groups = batch.batch * batch.numCandidates;
    if (batch.groupSize.length !== groups) throw new Error(`scoreCandidates: groupSize has ${batch.groupSize.length} entries, expected ${groups}`);
    checkIndex(batch.targetGroup, groups, 'targetGroup');
    return tf.tidy(() => {
      const lp = this.tokenLogProbsTensor(batch); // [n]
      const sums = tf.unsortedSegmentSum(lp, tf.tensor1d(batch.targetGroup, 'int32'), groups); // [B·K]
      const sizes = Float32Array.from(batch.groupSize, (s) => Math.max(s, 1));
      return tf.reshape(tf.div(sums, tf.tensor1d(sizes)), [batch.batch, batch.numCandidates]) as tf.Tensor2D;
    });
  }

  /** The weights back in HF layout (for the safetensors writer). */
  toCheckpoint(): Checkpoint {
    return checkpointFromBlocks(this.config, this.blocks, { format: this.format, source: this.source });
  }

  /** Prefix tuning: from now on every position also attends to these keys and values (the tfjs-ops path computes it). */
  setPrefix(prefix: AttentionPrefix | undefined): void {
    const width = this.config.nKvHeads * this.hd;
    if (prefix && (prefix.keys.length !== this.config.nLayers || prefix.values.length !== this.config.nLayers))
      throw new Error(`setPrefix: ${prefix.keys.length} keys and ${prefix.values.length} values for ${this.config.nLayers} layers`);
    for (const a of prefix ? [...prefix.keys, ...prefix.values] : [])
      if (a.length !== prefix!.tokens * width) throw new Error(`setPrefix: a layer's prefix holds ${a.length} values, expected [${prefix!.tokens}, ${width}]`);
    this.prefix = prefix;
  }

  /**
   * Prefix tuning's init from real tokens: per layer the keys (rotated) and values [P, nkv·hd] that
   * `tokens` (P of them) have when they come right before an input, i.e. at positions −P … −1. The
   * tokens run at 0 … P − 1 (attention among them depends on relative positions only) and their keys
   * are rotated back by P (RoPE of −P is the inverse rotation).
   */
  prefixKeysValues(tokens: number[]): { keys: Float32Array[]; values: Float32Array[] } {
    const P = tokens.length;
    if (!(P >= 1 && P < this.config.maxSeqLen)) throw new Error(`prefixKeysValues: ${P} tokens, expected 1 to ${this.config.maxSeqLen - 1}`);
    const batch = packSequences([tokens]);
    this.checkBatch(batch);
    const { nKvHeads: nkv } = this.config;
    const hd = this.hd;
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    tf.tidy(() => {
      let back = (k: tf.Tensor2D) => k;
      if (this.rope) {
        const { rot } = this.rope;
        const cos = tf.reshape(tf.slice(this.rope.cos, [P, 0], [1, hd]), [1, 1, hd]) as tf.Tensor3D; // row P
        const sin = tf.neg(tf.reshape(tf.slice(this.rope.sin, [P, 0], [1, hd]), [1, 1, hd])) as tf.Tensor3D; // row −P
        back = (k) => tf.reshape(applyRope(tf.reshape(k, [P, nkv, hd]) as tf.Tensor3D, cos, sin, rot), [P, nkv * hd]);
      }
      this.hiddenOps(batch, undefined, (l, k, v) => {
        keys[l] = back(k).dataSync() as Float32Array;
        values[l] = v.dataSync() as Float32Array;
      });
    });
    return { keys, values };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.blocks) b.variable!.dispose();
    for (const d of this.derived.values()) d.value.dispose();
    this.derived.clear();
    if (this.rope) disposeRope(this.rope);
  }

  // ---- internals ----

  private W(name: string): tf.Variable {
    return this.byName.get(name)!;
  }

  private lin(p: Param): Linear {
    return { w: this.W(p.w), b: p.b ? this.W(p.b) : undefined };
  }

  /** Whether this call runs the fused forward kernels (never while a gradient tape records). */
  private fused(): boolean {
    return this.allowKernels && !tf.engine().isTapeOn() && wasmKernelsAvailable();
  }

  /** Kernels usable with a gradient tape recording: the attention kernel has a backward kernel. */
  private kernelsUnderTape(): boolean {
    return this.allowKernels && tf.engine().isTapeOn() && wasmKernelsAvailable();
  }

  /**
   * Final hidden states before the final norm: [B·T, dim], or [n, dim] at the flat rows `select` only
   * (the last layer then runs its queries, o_proj and MLP on those rows alone). Call inside tf.tidy.
   */
  private hidden(batch: PlainBatch, select?: Int32Array): tf.Tensor2D {
    // the fused attention kernel knows no prefix: prefix tuning runs the plain ops
    if (this.prefix) return this.hiddenOps(batch, select);
    if (this.fused()) return this.hiddenKernels(batch, false, select);
    if (this.kernelsUnderTape()) return this.hiddenKernels(batch, true, select);
    return this.hiddenOps(batch, select);
  }

  /**
   * The kernel path (pre-norm RMSNorm, RoPE, SwiGLU): q|k|v and gate|up as one matmul each, one kernel for
   * RoPE + attention, and (forward only) one each for RMSNorm, SwiGLU and the embedding lookup. With
   * `grad`, the attention kernel is paired with its backward kernel and the cheap elementwise parts run
   * as differentiable tfjs ops.
   */
  private hiddenKernels(batch: PlainBatch, grad: boolean, select?: Int32Array): tf.Tensor2D {
    const { batch: B, length: T } = batch;
    const { nHeads: nh, nKvHeads: nkv, normEps: eps } = this.config;
    const hd = this.hd;
    const embed = this.W(this.arch.embed);
    const ids = tf.tensor1d(batch.tokens, 'int32');
    let x = grad ? (tf.gather(embed, ids) as tf.Tensor2D) : gatherRowsFused(embed as tf.Tensor2D, ids); // [N, dim]
    const pos = tf.tensor1d(batch.positions, 'int32');
    const seg = tf.tensor1d(batch.segments, 'int32');
    const attrs = { batch: B, length: T, nHeads: nh, nKvHeads: nkv, headDim: hd, scale: 1 / Math.sqrt(hd) };
    const attend = grad ? attentionFusedWithGrad : attentionFused;
    const norm = (v: tf.Tensor2D, p: Param) => (grad ? this.norm(v, p) : rmsNormFused(v, this.W(p.w), eps));
    const sel = select && tf.tensor1d(select, 'int32');
    const pick = (v: tf.Tensor2D) => (grad ? (tf.gather(v, sel!) as tf.Tensor2D) : gatherRowsFused(v, sel!));
    const last = this.arch.layers.length - 1;
    this.arch.layers.forEach((layer, l) => {
      const h = norm(x, layer.ln1); // [N, dim]
      const qkv = this.fusedLinear(`qkv${l}`, h, layer.qkv.map((p) => this.lin(p))); // [N, (nh+2nkv)·hd]
      if (sel && l === last) {
        // keys and values of every row, queries and everything after them at the selected rows only
        const need = new Int32Array(x.shape[0]);
        for (const r of select!) need[r] = 1;
        const att = attend(qkv, pos, seg, this.rope!.cos, this.rope!.sin, attrs, tf.tensor1d(need, 'int32')); // [N, nh·hd]
        x = tf.add(pick(x), this.linear(pick(att), this.lin(layer.o))); // [n, dim]
      } else {
        const att = attend(qkv, pos, seg, this.rope!.cos, this.rope!.sin, attrs); // [N, nh·hd]
        x = tf.add(x, this.linear(att, this.lin(layer.o)));
      }
      const h2 = norm(x, layer.ln2); // [N, dim]
      let act: tf.Tensor2D; // [N, hidden]
      if (grad) {
        const gate = this.linear(h2, this.lin(layer.gate!));
        act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), this.linear(h2, this.lin(layer.up))) as tf.Tensor2D;
      } else act = swigluFused(this.fusedLinear(`gu${l}`, h2, [this.lin(layer.gate!), this.lin(layer.up)]));
      x = tf.add(x, this.linear(act, this.lin(layer.down)));
    });
    return x;
  }

  /**
   * The plain-ops path, any family: token (+ learned position) embedding, per layer attention and FFN
   * with the family's norm placement, activation and biases. `prefix` (prefix tuning) puts its keys and
   * values before every row's own, the tokens keeping their positions. `capture` sees each layer's
   * keys (positioned) and values, [N, nkv·hd].
   */
  private hiddenOps(batch: PlainBatch, select?: Int32Array, capture?: (l: number, k: tf.Tensor2D, v: tf.Tensor2D) => void): tf.Tensor2D {
    const { arch, prefix } = this;
    const { batch: B, length: T } = batch;
    const N = B * T;
    const { nHeads: nh, nKvHeads: nkv } = this.config;
    const hd = this.hd;
    let x = tf.gather(this.W(arch.embed), tf.tensor1d(batch.tokens, 'int32')) as tf.Tensor2D; // [N, dim]
    if (arch.positions === 'learned') {
      // learned table row p + offset (OPT: 2); packed candidates restart their positions, so each sees its own
      const rows = Int32Array.from(batch.positions, (p) => p + arch.posOffset);
      x = tf.add(x, tf.gather(this.W(arch.posEmbed!), tf.tensor1d(rows, 'int32')));
    }
    let rotate = (t: tf.Tensor2D, _heads: number) => t;
    if (this.rope) {
      const { rot } = this.rope;
      const pos = tf.tensor1d(batch.positions, 'int32');
      const cos = tf.reshape(tf.gather(this.rope.cos, pos), [N, 1, hd]) as tf.Tensor3D; // [N, 1, hd]
      const sin = tf.reshape(tf.gather(this.rope.sin, pos), [N, 1, hd]) as tf.Tensor3D;
      rotate = (t, heads) => tf.reshape(applyRope(tf.reshape(t, [N, heads, hd]) as tf.Tensor3D, cos, sin, rot), [N, heads * hd]);
    }
    const scale = 1 / Math.sqrt(hd);
    const P = prefix?.tokens ?? 0;
    const bias = tf.tensor4d(attentionBias(B, T, batch.segments, P), [B, 1, T, P + T]); // [B, 1, T, P + T]
    const prefixAt = (l: number) => prefix && { keys: tf.tensor2d(prefix.keys[l], [P, nkv * hd]), values: tf.tensor2d(prefix.values[l], [P, nkv * hd]) };
    const shape = { batch: B, length: T, nHeads: nh, nKvHeads: nkv, headDim: hd };
    const sel = select && tf.tensor1d(select, 'int32');
    arch.layers.forEach((layer, l) => {
      const h = arch.preNorm ? this.norm(x, layer.ln1) : x; // [N, dim]
      const qkv =
        layer.qkv.length === 1
          ? (tf.split(this.linear(h, this.lin(layer.qkv[0])), [nh * hd, nkv * hd, nkv * hd], 1) as tf.Tensor2D[]) // fused q|k|v
          : layer.qkv.map((p) => this.linear(h, this.lin(p))); // [N, nh·hd], [N, nkv·hd] ×2
      const q = rotate(qkv[0], nh);
      const k = rotate(qkv[1], nkv);
      capture?.(l, k, qkv[2]);
      let att = attentionOps(tf.mul(q, scale), k, qkv[2], bias, shape, prefixAt(l)); // [N, nh·hd]
      if (sel && l === arch.layers.length - 1) {
        // after the last attention only the selected rows matter
        x = tf.gather(x, sel) as tf.Tensor2D; // [n, dim]
        att = tf.gather(att, sel) as tf.Tensor2D; // [n, nh·hd]
      }
      x = tf.add(x, this.linear(att, this.lin(layer.o)));
      if (!arch.preNorm) x = this.norm(x, layer.ln1);
      const h2 = arch.preNorm ? this.norm(x, layer.ln2) : x;
      const up = this.linear(h2, this.lin(layer.up)); // [N, hidden]
      let act: tf.Tensor2D;
      if (arch.act === 'swiglu') {
        const gate = this.linear(h2, this.lin(layer.gate!));
        act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up); // silu(gate) · up
      } else act = (arch.act === 'relu' ? tf.relu(up) : geluNew(up)) as tf.Tensor2D;
      x = tf.add(x, this.linear(act, this.lin(layer.down)));
      if (!arch.preNorm) x = this.norm(x, layer.ln2);
    });
    return x;
  }

  /**
   * norm(x) over the last axis: RMSNorm x·rsqrt(mean(x²)+eps)·w (the kernel when forward-only on wasm),
   * or LayerNorm (x−μ)·rsqrt(var+eps)·w + b.
   */
  private norm(x: tf.Tensor2D, p: Param): tf.Tensor2D {
    const eps = this.config.normEps;
    if (this.arch.norm === 'rms') {
      if (this.fused()) return rmsNormFused(x, this.W(p.w), eps);
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), this.W(p.w));
    }
    const { mean, variance } = tf.moments(x, -1, true); // [N, 1] each (biased variance, as torch)
    const y = tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), this.W(p.w)) as tf.Tensor2D;
    return p.b ? (tf.add(y, this.W(p.b)) as tf.Tensor2D) : y;
  }

  /** The final norm, or none (OPT post-norm). */
  private finalNormed(x: tf.Tensor2D): tf.Tensor2D {
    return this.arch.finalNorm ? this.norm(x, this.arch.finalNorm) : x;
  }

  /** x times the column-concatenation of several linears' weights (cached while they are unchanged). */
  private fusedLinear(key: string, x: tf.Tensor2D, parts: Linear[]): tf.Tensor2D {
    const ws = parts.map((p) => p.w);
    const w = this.derive(key, ws, () => tf.concat(ws, 1)) as tf.Tensor2D; // [in, Σ out]
    const y = tf.matMul(x, w) as tf.Tensor2D;
    const present = parts.flatMap((p) => (p.b ? [p.b] : []));
    if (present.length === 0) return y;
    const bias = this.derive(`${key}.bias`, present, () => tf.concat(parts.map((p) => p.b ?? tf.zeros([p.w.shape[1] as number])), 0));
    return tf.add(y, bias) as tf.Tensor2D;
  }

  private linear(x: tf.Tensor2D, p: Linear): tf.Tensor2D {
    const y = tf.matMul(x, p.w) as tf.Tensor2D;
    return p.b ? (tf.add(y, p.b) as tf.Tensor2D) : y;
  }

  /** [n, dim] → logits [n, V]. The tied classifier needs the embedding transposed to [dim, V]. */
  private classify(x: tf.Tensor2D): tf.Tensor2D {
    const embed = this.W(this.arch.embed);
    // under a tape the transpose must be differentiable; otherwise it is cached and the kernel may do it
    const w = this.arch.head ? this.W(this.arch.head) : this.derive('cls', [embed], () => (tf.engine().isTapeOn() ? tf.transpose(embed) : transpose2d(embed as tf.Tensor2D)));
    return tf.matMul(x, w as tf.Tensor2D);
  }

  /**
   * A tensor computed from weights, reused while none of its sources was reassigned (Variable.assign
   * gives a variable a new dataId). While a gradient tape records, it is recomputed so the gradient
   * reaches the sources.
   */
  private derive(key: string, sources: tf.Tensor[], compute: () => tf.Tensor): tf.Tensor {
    if (tf.engine().isTapeOn()) return compute();
    const ids = sources.map((s) => s.dataId);
    const hit = this.derived.get(key);
    if (hit && hit.sources.every((id, i) => id === ids[i])) return hit.value;
    hit?.value.dispose();
    const value = tf.keep(compute());
    this.derived.set(key, { sources: ids, value });
    return value;
  }

  private checkBatch(b: PlainBatch): void {
    if (this.disposed) throw new Error('TfjsModel: used after dispose()');
    checkPlainBatch(b, this.config);
  }
}

/** Build the tfjs model from a checkpoint (the checkpoint's arrays are copied; it can be dropped). */
export function createTfjsModel(ckpt: Checkpoint, opts: TfjsModelOptions = {}): TfjsModel {
  requireBackend('createTfjsModel');
  return new TfjsModel(ckpt, opts);
}

/** The weights of a model back in HF layout. */
export function toCheckpoint(model: Model): Checkpoint {
  return model.toCheckpoint();
}
