// The tfjs model of every family. LLaMA and Qwen2 (RMSNorm, RoPE in HF rotate_half order, grouped-query
// attention, SwiGLU, optional q/k/v biases, tied or separate classifier) run the fused-kernel path
// below; the LayerNorm families (OPT, GPT-2) run families/forward.ts's ops path over their Arch.
// Built from a Checkpoint; exposes its parameters as Blocks in HF order.
import * as tf from '@tensorflow/tfjs-core';
import { requireBackend } from '@zotune/tensor';
import { checkIndex, checkPlainBatch, type PackedBatch } from '../batch';
import type { Checkpoint, CheckpointFormat } from '../checkpoint';
import { archOf, familyOf, type Arch } from '../families/arch';
import { archHidden, archNorm } from '../families/forward';
import type { AnyModel, AttentionPrefix, Block, Family, LlamaConfig, Model } from '../types';
import { attentionOps } from './attention';
import { registerGradients } from './kernels/gradients';
import { registerWasmSegmentSum } from './kernels/segment-sum';
import { attentionFused, attentionFusedWithGrad, gatherRowsFused, registerWasmKernels, rmsNormFused, swigluFused, transpose2d, wasmKernelsAvailable } from './kernels/wasm-kernels';
import { attentionBias } from './mask';
import { LAYER_LINEARS, layerPrefix, type LayerLinear } from './names';
import { applyRope, disposeRope, ropeTables, type RopeTables } from './rope';
import { blocksFromCheckpoint, checkpointFromBlocks } from './weights';

// the model must differentiate on every backend: gradients for tfjs-core, and the kernel wasm lacks
registerGradients();
registerWasmSegmentSum();
registerWasmKernels();

export interface LlamaOptions {
  /** use the fused wasm kernels when the backend is wasm and no gradient tape records (default true) */
  kernels?: boolean;
}

export type PlainBatch = Pick<PackedBatch, 'batch' | 'length' | 'tokens' | 'positions' | 'segments'>;

interface Linear {
  /** [in, out] */
  w: tf.Variable;
  /** [out] when the checkpoint has one */
  b?: tf.Variable;
}

interface Layer {
  inNorm: tf.Variable; // [dim]
  postNorm: tf.Variable; // [dim]
  lin: Record<LayerLinear, Linear>;
}

/** Derived tensors (transposed or concatenated weights) cached while their sources are unchanged. */
interface Derived {
  sources: object[];
  value: tf.Tensor;
}

export class LlamaModel implements Model {
  readonly family: Family;
  readonly config: LlamaConfig;
  /** the family's architecture (block roles); the kernel path serves the RMSNorm/RoPE families */
  readonly arch: Arch;
  readonly blocks: Block[];
  /** where the weights came from */
  readonly format: CheckpointFormat;
  readonly source: string;
  private readonly hd: number;
  private readonly embed: tf.Variable; // [V, dim]
  private readonly finalNorm?: tf.Variable; // [dim] (absent: OPT post-norm)
  private readonly lmHead?: tf.Variable; // [dim, V] (untied only)
  private readonly layers: Layer[] = [];
  private readonly rope?: RopeTables;
  private readonly byName: Map<string, tf.Variable>;
  private readonly derived = new Map<string, Derived>();
  private readonly allowKernels: boolean;
  /** prefix tuning's keys and values (setPrefix), read at every forward */
  private prefix?: AttentionPrefix;
  private disposed = false;

  constructor(ckpt: Checkpoint, opts: LlamaOptions = {}) {
    this.allowKernels = opts.kernels ?? true;
    this.config = { ...ckpt.config };
    this.format = ckpt.format;
    this.source = ckpt.source;
    this.family = familyOf(this.config);
    this.blocks = blocksFromCheckpoint(ckpt);
    const byName = new Map(this.blocks.map((b) => [b.name, b.variable!]));
    this.byName = byName;
    this.arch = archOf(this.config, (name) => byName.has(name));
    const get = (name: string) => byName.get(name)!;
    this.embed = get(this.arch.embed);
    this.finalNorm = this.arch.finalNorm && get(this.arch.finalNorm.w);
    if (this.arch.head) this.lmHead = get(this.arch.head);
    this.hd = this.config.dim / this.config.nHeads;
    if (this.arch.positions === 'rope') this.rope = ropeTables(this.hd, this.config.maxSeqLen, this.config.ropeTheta);
    if (!this.kernelFamily()) return;
    for (let l = 0; l < this.config.nLayers; l++) {
      const p = layerPrefix(l);
      const lin = {} as Record<LayerLinear, Linear>;
      for (const name of LAYER_LINEARS) lin[name] = { w: get(`${p}.${name}.weight`), b: byName.get(`${p}.${name}.bias`) };
      this.layers.push({ inNorm: get(`${p}.input_layernorm.weight`), postNorm: get(`${p}.post_attention_layernorm.weight`), lin });
    }
  }

  forward(batch: PlainBatch): tf.Tensor3D {
    this.checkBatch(batch);
    return tf.tidy(() => {
      const x = this.finalNormed(this.hidden(batch)); // [N, dim]
      const logits = this.classify(x); // [N, V]
      return tf.reshape(logits, [batch.batch, batch.length, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /** Logits [rows.length, V] at the given flat positions (row * length + t) only. */
  logitsAt(batch: PlainBatch, rows: Int32Array): tf.Tensor2D {
    this.checkBatch(batch);
    checkIndex(rows, batch.batch * batch.length, 'rows');
    return tf.tidy(() => {
      const h = this.hidden(batch, rows); // [n, dim]
      return this.classify(this.finalNormed(h));
    });
  }

  tokenLogProbs(batch: PackedBatch): tf.Tensor1D {
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

  scoreCandidates(batch: PackedBatch): tf.Tensor2D {
    const groups = batch.batch * batch.numCandidates;
    if (batch.groupSize.length !== groups) throw new Error(`scoreCandidates: groupSize has ${batch.groupSize.length} entries, expected ${groups}`);
    checkIndex(batch.targetGroup, groups, 'targetGroup');
    return tf.tidy(() => {
      const lp = this.tokenLogProbs(batch); // [n]
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

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.blocks) b.variable!.dispose();
    for (const d of this.derived.values()) d.value.dispose();
    this.derived.clear();
    if (this.rope) disposeRope(this.rope);
  }

  // ---- internals ----

  /** LLaMA-shaped families (RMSNorm, RoPE, SwiGLU, LLaMA's tensor names) run the kernel path. */
  private kernelFamily(): boolean {
    return this.family === 'llama' || this.family === 'qwen2';
  }

  /** The final norm (the kernel when forward-only on wasm), or none (OPT post-norm). */
  private finalNormed(x: tf.Tensor2D): tf.Tensor2D {
    if (!this.finalNorm) return x;
    if (this.arch.norm === 'rms') return this.rmsNorm(x, this.finalNorm);
    return archNorm(this.arch, this.config.normEps, (n) => this.byName.get(n)!, x, this.arch.finalNorm!);
  }

  /** Whether this call runs the fused wasm kernels (forward only: never while a gradient tape records). */
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
    if (!this.kernelFamily()) return archHidden(this.arch, this.config, (n) => this.byName.get(n)!, batch, select, this.rope, this.prefix);
    // the fused attention kernel knows no prefix: prefix tuning runs the plain ops
    if (this.prefix) return this.hiddenOps(batch, select);
    if (this.fused()) return this.hiddenKernels(batch, false, select);
    if (this.kernelsUnderTape()) return this.hiddenKernels(batch, true, select);
    return this.hiddenOps(batch, select);
  }

  /**
   * The kernel path: q|k|v and gate|up as one matmul each, one kernel for RoPE + attention, and (forward
   * only) one each for RMSNorm, SwiGLU and the embedding lookup. With `grad`, the attention kernel is
   * paired with its backward kernel and the cheap elementwise parts run as differentiable tfjs ops.
   */
  private hiddenKernels(batch: PlainBatch, grad: boolean, select?: Int32Array): tf.Tensor2D {
    const { batch: B, length: T } = batch;
    const { nHeads: nh, nKvHeads: nkv, normEps: eps } = this.config;
    const hd = this.hd;
    const ids = tf.tensor1d(batch.tokens, 'int32');
    let x = grad ? (tf.gather(this.embed, ids) as tf.Tensor2D) : gatherRowsFused(this.embed as tf.Tensor2D, ids); // [N, dim]
    const pos = tf.tensor1d(batch.positions, 'int32');
    const seg = tf.tensor1d(batch.segments, 'int32');
    const attrs = { batch: B, length: T, nHeads: nh, nKvHeads: nkv, headDim: hd, scale: 1 / Math.sqrt(hd) };
    const attend = grad ? attentionFusedWithGrad : attentionFused;
    const norm = (v: tf.Tensor2D, w: tf.Variable) => (grad ? this.rmsNormOps(v, w) : rmsNormFused(v, w, eps));
    const sel = select && tf.tensor1d(select, 'int32');
    const pick = (v: tf.Tensor2D) => (grad ? (tf.gather(v, sel!) as tf.Tensor2D) : gatherRowsFused(v, sel!));
    const last = this.layers.length - 1;
    this.layers.forEach((layer, l) => {
      const { lin } = layer;
      const h = norm(x, layer.inNorm); // [N, dim]
      const qkv = this.fusedLinear(`qkv${l}`, h, [lin['self_attn.q_proj'], lin['self_attn.k_proj'], lin['self_attn.v_proj']]); // [N, (nh+2nkv)·hd]
      if (sel && l === last) {
        // keys and values of every row, queries and everything after them at the selected rows only
        const need = new Int32Array(x.shape[0]);
        for (const r of select!) need[r] = 1;
        const att = attend(qkv, pos, seg, this.rope!.cos, this.rope!.sin, attrs, tf.tensor1d(need, 'int32')); // [N, nh·hd]
        x = tf.add(pick(x), this.linear(pick(att), lin['self_attn.o_proj'])); // [n, dim]
      } else {
        const att = attend(qkv, pos, seg, this.rope!.cos, this.rope!.sin, attrs); // [N, nh·hd]
        x = tf.add(x, this.linear(att, lin['self_attn.o_proj']));
      }
      const h2 = norm(x, layer.postNorm); // [N, dim]
      let act: tf.Tensor2D; // [N, hidden]
      if (grad) {
        const gate = this.linear(h2, lin['mlp.gate_proj']);
        act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), this.linear(h2, lin['mlp.up_proj'])) as tf.Tensor2D;
      } else act = swigluFused(this.fusedLinear(`gu${l}`, h2, [lin['mlp.gate_proj'], lin['mlp.up_proj']]));
      x = tf.add(x, this.linear(act, lin['mlp.down_proj']));
    });
    return x;
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

  /** The differentiable path: plain tfjs ops, on any backend. */
  private hiddenOps(batch: PlainBatch, select?: Int32Array): tf.Tensor2D {
    const { batch: B, length: T } = batch;
    const N = B * T;
    const { nHeads: nh, nKvHeads: nkv } = this.config;
    const hd = this.hd;
    let x = tf.gather(this.embed, tf.tensor1d(batch.tokens, 'int32')) as tf.Tensor2D; // [N, dim]
    const pos = tf.tensor1d(batch.positions, 'int32');
    const cos = tf.reshape(tf.gather(this.rope!.cos, pos), [N, 1, hd]) as tf.Tensor3D; // [N, 1, hd]
    const sin = tf.reshape(tf.gather(this.rope!.sin, pos), [N, 1, hd]) as tf.Tensor3D; // [N, 1, hd]
    const scale = tf.scalar(1 / Math.sqrt(hd));
    const P = this.prefix?.tokens ?? 0;
    const bias = tf.tensor4d(attentionBias(B, T, batch.segments, P), [B, 1, T, P + T]); // [B, 1, T, P + T]
    const prefixAt = (l: number) =>
      this.prefix && { keys: tf.tensor2d(this.prefix.keys[l], [P, nkv * hd]), values: tf.tensor2d(this.prefix.values[l], [P, nkv * hd]) };
    const shape = { batch: B, length: T, nHeads: nh, nKvHeads: nkv, headDim: hd };
    const sel = select && tf.tensor1d(select, 'int32');
    const last = this.layers[this.layers.length - 1];
    for (const [l, layer] of this.layers.entries()) {
      const h = this.rmsNorm(x, layer.inNorm); // [N, dim]
      let q = tf.reshape(this.linear(h, layer.lin['self_attn.q_proj']), [N, nh, hd]) as tf.Tensor3D; // [N, nh, hd]
      let k = tf.reshape(this.linear(h, layer.lin['self_attn.k_proj']), [N, nkv, hd]) as tf.Tensor3D; // [N, nkv, hd]
      const v = this.linear(h, layer.lin['self_attn.v_proj']); // [N, nkv·hd]
      q = tf.mul(applyRope(q, cos, sin, this.rope!.rot), scale);
      k = applyRope(k, cos, sin, this.rope!.rot);
      let att = attentionOps(tf.reshape(q, [N, nh * hd]), tf.reshape(k, [N, nkv * hd]), v, bias, shape, prefixAt(l)); // [N, nh·hd]
      if (sel && layer === last) {
        // after the last attention only the selected rows matter
        x = tf.gather(x, sel) as tf.Tensor2D; // [n, dim]
        att = tf.gather(att, sel) as tf.Tensor2D; // [n, nh·hd]
      }
      x = tf.add(x, this.linear(att, layer.lin['self_attn.o_proj']));
      const h2 = this.rmsNorm(x, layer.postNorm); // [N, dim]
      const gate = this.linear(h2, layer.lin['mlp.gate_proj']); // [N, hidden]
      const up = this.linear(h2, layer.lin['mlp.up_proj']); // [N, hidden]
      const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D; // silu(gate) · up
      x = tf.add(x, this.linear(act, layer.lin['mlp.down_proj']));
    }
    return x;
  }

  private linear(x: tf.Tensor2D, p: Linear): tf.Tensor2D {
    const y = tf.matMul(x, p.w) as tf.Tensor2D;
    return p.b ? (tf.add(y, p.b) as tf.Tensor2D) : y;
  }

  /** x · rsqrt(mean(x²) + eps) · w over the last axis (the kernel when forward-only on wasm). */
  private rmsNorm(x: tf.Tensor2D, w: tf.Tensor1D | tf.Variable): tf.Tensor2D {
    return this.fused() ? rmsNormFused(x, w, this.config.normEps) : this.rmsNormOps(x, w);
  }

  private rmsNormOps(x: tf.Tensor2D, w: tf.Tensor1D | tf.Variable): tf.Tensor2D {
    const ms = tf.mean(tf.square(x), -1, true); // [N, 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.config.normEps))), w);
  }

  /** [n, dim] → logits [n, V]. The tied classifier needs the embedding transposed to [dim, V]. */
  private classify(x: tf.Tensor2D): tf.Tensor2D {
    // under a tape the transpose must be differentiable; otherwise it is cached and the kernel may do it
    const w = this.lmHead ?? this.derive('cls', [this.embed], () => (tf.engine().isTapeOn() ? tf.transpose(this.embed) : transpose2d(this.embed as tf.Tensor2D)));
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
    if (this.disposed) throw new Error('LlamaModel: used after dispose()');
    checkPlainBatch(b, this.config);
  }
}

/** Build the tfjs model from a checkpoint (the checkpoint's arrays are copied; it can be dropped). */
export function createLlama(ckpt: Checkpoint, opts: LlamaOptions = {}): LlamaModel {
  requireBackend('createLlama');
  return new LlamaModel(ckpt, opts);
}

/** The weights of a model back in HF layout. */
export function toCheckpoint(model: AnyModel): Checkpoint {
  if (model instanceof LlamaModel) return model.toCheckpoint();
  return checkpointFromBlocks(model.config, model.blocks, { format: 'hf-safetensors', source: 'memory' });
}
