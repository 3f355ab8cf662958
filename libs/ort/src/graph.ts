// Every family's forward as an ONNX graph, generated from its Arch (libs/models families/arch.ts; no
// Python, no exported file), in the same roles and order of operations as the tfjs forward. Every
// weight is a graph INPUT named by its block (Hugging Face name, matrices [in, out] as the model stores
// them, so MatMul needs no transpose): each run is fed the blocks' own Float32Arrays, and a
// perturbation made in place is what the next run computes with.
//
// Other inputs, computed in JS per batch (OrtModel.run): ids [B, T] int32; positions: learned rows
// pos [B, T] int32, or plain RoPE's cos / sin [B, T, 1, hd] (tables gathered by position; sin signed as
// (-sin, +sin) over the two halves); bias [B, 1, T, T] (0 or MASKED: causal + candidate packing);
// select [n] int32 (flat rows b·T + t where the classifier runs); targets [n, 1] int32 (logprobs only).
// LoRA (Model.setLora): each targeted linear's A [in, r] and B [r, out] are inputs as well (loraInputs),
// over the adapter's own arrays, and the graph adds scale·((x·A)·B) to x·W0: no merged weight, W0 untouched.
// Outputs: logits [n, V], or logprobs [n, 1] = log_softmax(logits)[target].
//
// The plain variant uses plain ONNX ops (opset 17) in the patterns ORT's optimiser fuses (Pow/ReduceMean/
// Add/Sqrt/Div/Mul → SimplifiedLayerNormalization; Transpose + MatMul → FusedMatMul). The fused variants
// (GraphVariant, chosen by OrtModel) replace RoPE and attention by ORT's contrib ops, which its optimiser
// does not produce from plain ops: RotaryEmbedding (rotary families; cos/sin caches inside the graph,
// positions fed per token) and GroupQueryAttention (or MultiHeadAttention) reading the same mask as
// attention_bias; the last layer then computes queries only at the rows the output needs.
import onnxProto from 'onnx-proto';
import { headDim, ropeHost, type Arch, type ModelConfig, type Param } from '@zotune/models';

const { onnx } = onnxProto;
type Attr = onnxProto.onnx.IAttributeProto;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT32 = onnx.TensorProto.DataType.INT32;
export const INT64 = onnx.TensorProto.DataType.INT64;
/** ONNX Runtime's contrib operators (GroupQueryAttention, MultiHeadAttention, RotaryEmbedding). */
export const MS_DOMAIN = 'com.microsoft';

export const ai = (name: string, i: number): Attr => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
export const af = (name: string, f: number): Attr => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f });
export const ais = (name: string, ints: number[]): Attr => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });

/** What the graph returns: every logit at the selected rows, or the log-probability of each target. */
export type GraphOutput = 'logits' | 'logprobs';

export class GraphBuilder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly inits: onnxProto.onnx.ITensorProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private count = 0;
  private readonly consts = new Map<string, string>();

  /** One node; returns its output names (`outputs` of them). `domain` 'com.microsoft' for ORT's contrib ops. */
  opN(type: string, inputs: string[], outputs: number, attrs: Attr[] = [], domain = ''): string[] {
    const out = Array.from({ length: outputs }, () => `t${this.count++}`);
    this.nodes.push({ opType: type, input: inputs, output: out, attribute: attrs, name: `${type}_${this.count}`, ...(domain ? { domain } : {}) });
    return out;
  }

  /** One node of ORT's contrib domain (com.microsoft), first output only. */
  ms(type: string, inputs: string[], attrs: Attr[] = []): string {
    return this.opN(type, inputs, 1, attrs, MS_DOMAIN)[0];
  }

  /** A float32 constant tensor (small tables such as the RoPE caches). */
  floats(name: string, dims: number[], data: Float32Array): string {
    this.inits.push({ name, dataType: FLOAT, dims, floatData: Array.from(data) });
    return name;
  }

  op(type: string, inputs: string[], attrs: Attr[] = []): string {
    return this.opN(type, inputs, 1, attrs)[0];
  }

  /** An int64 vector constant (Reshape shapes), shared by value. */
  ints(values: number[]): string {
    const key = `i${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `c${this.consts.size}`;
      this.inits.push({ name, dataType: INT64, dims: [values.length], int64Data: values });
      this.consts.set(key, name);
    }
    return name;
  }

  /** A float32 scalar constant. */
  scalar(v: number): string {
    const key = `f${v}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `c${this.consts.size}`;
      this.inits.push({ name, dataType: FLOAT, dims: [], floatData: [v] });
      this.consts.set(key, name);
    }
    return name;
  }

  input(name: string, elemType: number, dims: (number | string)[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(from: string, name: string, elemType: number, dims: (number | string)[]): void {
    this.nodes.push({ opType: 'Identity', input: [from], output: [name], name: `out_${name}` });
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  encode(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'zotune',
      // the contrib domain is declared always: a graph that uses none of its ops runs the same
      opsetImport: [
        { domain: '', version: 17 },
        { domain: MS_DOMAIN, version: 1 },
      ],
      graph: { name: 'llama', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

/**
 * How the rotary families' graph computes attention (the rest of the layer is the same):
 *   plain: the plain ops above (RoPE as Mul/Add over fed cos/sin rows, MatMul + Softmax over [B, nh, T, T]);
 *   gqa:   ORT's contrib RotaryEmbedding (per-token position_ids, rotate-half = interleaved 0) and
 *          GroupQueryAttention (kv heads shared natively, our packed mask as attention_bias);
 *   mha:   the same RotaryEmbedding and MultiHeadAttention (kv heads repeated to nh, mask as attention_bias).
 * With `scoredRows` (fused only) the last layer computes its queries, attention, o_proj and MLP only at the
 * rows the output needs (input rows [B, m]: m scored rows per batch row), keys and values at every row.
 */
export type AttentionKind = 'plain' | 'gqa' | 'mha';
export const ATTENTION_KINDS: readonly AttentionKind[] = ['gqa', 'mha', 'plain'];

/** Parse an attention kind (option, flag or ZOTUNE_ORT_ATTENTION); one-line error naming the source. */
export function parseAttention(value: string | undefined, source = 'ZOTUNE_ORT_ATTENTION'): AttentionKind {
  const v = (value ?? 'gqa').trim();
  if ((ATTENTION_KINDS as readonly string[]).includes(v)) return v as AttentionKind;
  throw new Error(`${source}: unknown attention "${v}"; expected one of ${ATTENTION_KINDS.join(', ')}`);
}

export interface GraphVariant {
  attention: AttentionKind;
  scoredRows?: boolean;
}

/**
 * LoRA's branches (Model.setLora): each targeted linear computes x·W0 (+ bias) + scale·((x·A)·B), its
 * A [in, rank] and B [rank, out] graph inputs (loraInputs) fed like the weights, so a forward needs no
 * merged W0 + scale·A·B and W0 stays the block's own array.
 */
export interface GraphLora {
  rank: number;
  /** alpha / r, a constant of the graph */
  scale: number;
  /** the targeted weights' block names (per-layer linears) */
  targets: readonly string[];
}

/** Graph input names of the LoRA factors of a targeted weight: A [in, r], B [r, out]. */
export const loraInputs = (weight: string): [string, string] => [`${weight}.lora_A`, `${weight}.lora_B`];

/**
 * [in, out] of a weight LoRA may target: a per-layer matrix (a layer index in its name), which the graph
 * computes with `linear`; the embedding and the classifier are not. Throws one line otherwise.
 */
export function loraTargetShape(arch: Arch, weight: string): [number, number] {
  const t = arch.tensors.find((s) => s.name === weight);
  if (!t || t.kind !== 'matrix' || !/\.\d+\./.test(weight)) throw new Error(`LoRA target ${weight} is not a per-layer matrix of the model`);
  return t.transpose ? [t.hfShape[1], t.hfShape[0]] : [t.hfShape[0], t.hfShape[1]];
}

/**
 * The serialized ONNX model of any family, walking its Arch (libs/models families/arch.ts): RMSNorm or
 * LayerNorm, pre- or post-norm, rotary or learned positions, grouped-query attention, biases, SwiGLU /
 * ReLU / gelu_new, tied or separate classifier. The weight inputs are exactly arch.tensors.
 *
 * Inputs besides the weights, by variant (see the file header for the plain ones):
 *   every graph: ids [B, T] int32, bias [B, 1, T, T] ([B, 1, T, P + T] with a prefix), select [n] int32,
 *          targets [n, 1] int32 (logprobs only); learned positions: pos [B, T] int32 (table rows:
 *          position + the family's offset)
 *   plain rotary: cos, sin [B, T, 1, hd]
 *   fused: rotary pos [B, T] int64 (position of each token: restarts per candidate), seqlens [B] int32
 *          (= each row's last real token) and total [] int32 (= T) for GroupQueryAttention, and with
 *          scoredRows: rows [B, m] int32 (flat rows b·T + t whose queries the last layer computes) and
 *          select [n] indexing the B·m rows.
 * A prefix (prefix tuning) always uses the plain attention. With `lora`: A [in, r] and B [r, out] of
 * each target (loraInputs), any variant.
 */
export function buildGraph(arch: Arch, config: ModelConfig, output: GraphOutput, prefixTokens = 0, variant: GraphVariant = { attention: 'plain' }, lora?: GraphLora): Uint8Array {
  const fused = variant.attention !== 'plain' && prefixTokens === 0;
  const scoredRows = fused && !!variant.scoredRows;
  const rotary = arch.positions === 'rope';
  const g = new GraphBuilder();
  const { dim, nHeads: nh, nKvHeads: nkv, vocabSize: V } = config;
  const nLayers = arch.layers.length;
  const hd = headDim(config);
  const group = nh / nkv;
  for (const s of arch.tensors) g.input(s.name, FLOAT, s.transpose ? [s.hfShape[1], s.hfShape[0]] : s.hfShape);
  // LoRA: the factors of each targeted weight [in, out] (the block's orientation), by weight name
  const branches = new Map<string, [string, string]>();
  for (const w of lora?.targets ?? []) {
    const [din, dout] = loraTargetShape(arch, w);
    const [a, b] = loraInputs(w);
    branches.set(w, [g.input(a, FLOAT, [din, lora!.rank]), g.input(b, FLOAT, [lora!.rank, dout])]);
  }
  const ids = g.input('ids', INT32, ['B', 'T']);
  let cos = '';
  let sin = '';
  let pos = '';
  let cosCache = '';
  let sinCache = '';
  if (!rotary) pos = g.input('pos', INT32, ['B', 'T']);
  else if (fused) {
    pos = g.input('pos', INT64, ['B', 'T']);
    // RotaryEmbedding's caches [maxSeqLen, hd / 2]: the first half of the host tables (same float32 values as the plain graph's rows)
    const { cosHost, sinHost } = ropeHost(hd, config.maxSeqLen, config.ropeTheta);
    const half = (t: Float32Array, sign: number) => Float32Array.from({ length: config.maxSeqLen * (hd / 2) }, (_, i) => sign * t[Math.floor(i / (hd / 2)) * hd + (i % (hd / 2))]);
    cosCache = g.floats('rope.cos', [config.maxSeqLen, hd / 2], half(cosHost, 1));
    sinCache = g.floats('rope.sin', [config.maxSeqLen, hd / 2], half(sinHost, -1)); // host first half holds −sin
  } else {
    cos = g.input('cos', FLOAT, ['B', 'T', 1, hd]);
    sin = g.input('sin', FLOAT, ['B', 'T', 1, hd]);
  }
  // with P prefix positions the keys are [prefix, tokens]: bias [B, 1, T, P + T] (0 on the prefix columns)
  const bias = g.input('bias', FLOAT, ['B', 1, 'T', prefixTokens > 0 ? 'S' : 'T']);
  const prefix = prefixTokens > 0 ? prefixAttention(g, ids, nLayers, nkv, hd, prefixTokens) : undefined;
  const seqlens = variant.attention === 'gqa' && fused ? g.input('seqlens', INT32, ['B']) : '';
  const total = variant.attention === 'gqa' && fused ? g.input('total', INT32, []) : '';
  const rows = scoredRows ? g.input('rows', INT32, ['B', 'm']) : '';
  const select = g.input('select', INT32, ['n']);
  const targets = output === 'logprobs' ? g.input('targets', INT32, ['n', 1]) : '';

  // created when first used (an unused initializer makes ORT print a warning at session creation)
  const scale = () => g.scalar(1 / Math.sqrt(hd));
  // RMSNorm: x · (1 / sqrt(mean(x²) + eps)) · w over the last axis, the pattern ORT fuses to
  // SimplifiedLayerNormalization; LayerNorm (with bias): opset 17's op, one kernel in ORT
  const norm = (x: string, p: Param) => {
    if (arch.norm === 'layer') return g.op('LayerNormalization', [x, p.w, p.b ?? ''], [ai('axis', -1), af('epsilon', config.normEps)]);
    const ms = g.op('ReduceMean', [g.op('Pow', [x, g.scalar(2)])], [ais('axes', [-1]), ai('keepdims', 1)]);
    return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, g.scalar(config.normEps)])])]), p.w]);
  };
  // x [.., in] · W [in, out] (+ bias) → [.., out]; a LoRA target adds scale·((x·A)·B): x·A [.., r], scaled
  // there (r values per row, not out), then · B [r, out]. The branch is added after the bias so that the
  // base product keeps the base graph's ops (ORT may fuse MatMul + bias): with B = 0 the branch is ±0
  // and the linear gives the base model's bits
  const linear = (x: string, p: Param) => {
    const y = g.op('MatMul', [x, p.w]);
    const yb = p.b ? g.op('Add', [y, p.b]) : y;
    const ab = branches.get(p.w);
    if (!ab) return yb;
    const xa = g.op('Mul', [g.op('MatMul', [x, ab[0]]), g.scalar(lora!.scale)]); // [.., r]
    return g.op('Add', [yb, g.op('MatMul', [xa, ab[1]])]);
  };
  // rotate_half RoPE on [B, T, heads·hd] with the fed rows cos / sin [B, T, 1, hd]: x ⊙ cos + concat(x₂, x₁) ⊙ sinSigned
  const rope = (x: string, heads: number) => {
    const x4 = g.op('Reshape', [x, g.ints([0, 0, heads, hd])]); // [B, T, heads, hd]
    const [x1, x2] = g.opN('Split', [x4], 2, [ai('axis', -1)]);
    const partner = g.op('Concat', [x2, x1], [ai('axis', -1)]);
    return g.op('Reshape', [g.op('Add', [g.op('Mul', [x4, cos]), g.op('Mul', [partner, sin])]), g.ints([0, 0, heads * hd])]);
  };
  // the positions of a projection [B, S, heads·hd] at positions [B, S]: the contrib op (HF rotate_half =
  // non-interleaved) or the plain ops; learned positions were added to the embeddings
  const position = (x: string, heads: number, at: string) => {
    if (!rotary) return x;
    return fused ? g.ms('RotaryEmbedding', [x, at, cosCache, sinCache], [ai('interleaved', 0)]) : rope(x, heads);
  };
  // plain grouped attention of queries q [B, S, nh·hd] (positioned, unscaled) over keys k [B, T, nkv·hd]
  // and values v [B, T, nkv·hd] (prefix-tuned: layer l's prefix before them) with bias [B, 1, S, T]:
  // [B, S, nh·hd]; queries grouped by the kv head they share (HF repeat_kv: head h uses kv head floor(h / group))
  const groupedAttention = (q: string, k: string, v: string, b: string, l: number) => {
    const qs = g.op('Mul', [g.op('Reshape', [q, g.ints([0, 0, nkv, group, hd])]), scale()]); // [B, S, nkv, group, hd]
    const qg = g.op('Reshape', [g.op('Transpose', [qs], [ais('perm', [0, 2, 3, 1, 4])]), g.ints([0, 0, -1, hd])]); // [B, nkv, group·S, hd]
    let kt = g.op('Transpose', [g.op('Reshape', [k, g.ints([0, 0, nkv, hd])])], [ais('perm', [0, 2, 3, 1])]); // [B, nkv, hd, T]
    let vh = g.op('Transpose', [g.op('Reshape', [v, g.ints([0, 0, nkv, hd])])], [ais('perm', [0, 2, 1, 3])]); // [B, nkv, T, hd]
    if (prefix) [kt, vh] = prefix(l, kt, vh); // [B, nkv, hd, P + T], [B, nkv, P + T, hd]
    const scores = g.op('Reshape', [g.op('MatMul', [qg, kt]), g.ints([0, nh, -1, 0])]); // [B, nh, S, T]
    const probs = g.op('Reshape', [g.op('Softmax', [g.op('Add', [scores, b])], [ai('axis', -1)]), g.ints([0, nkv, -1, 0])]); // [B, nkv, group·S, T]
    const o = g.op('Reshape', [g.op('MatMul', [probs, vh]), g.ints([0, 0, group, -1, hd])]); // [B, nkv, group, S, hd]
    return g.op('Reshape', [g.op('Transpose', [o], [ais('perm', [0, 3, 1, 2, 4])]), g.ints([0, 0, nh * hd])]); // [B, S, nh·hd]
  };
  // the fused attention over all T rows: [B, T, nh·hd]
  const fusedAttention = (q: string, k: string, v: string) => {
    if (variant.attention === 'gqa') return g.opN('GroupQueryAttention', [q, k, v, '', '', seqlens, total, '', '', '', bias], 1, [ai('num_heads', nh), ai('kv_num_heads', nkv)], MS_DOMAIN)[0];
    // MultiHeadAttention has one head count: kv heads repeated (HF repeat_kv: head h reads kv head floor(h / group))
    const repeat = (t: string) =>
      group === 1 ? t : g.op('Reshape', [g.op('Expand', [g.op('Reshape', [t, g.ints([0, 0, nkv, 1, hd])]), g.ints([1, 1, 1, group, 1])]), g.ints([0, 0, nh * hd])]);
    return g.ms('MultiHeadAttention', [q, repeat(k), repeat(v), '', '', bias], [ai('num_heads', nh)]);
  };
  // rows [B, m] of a [B, T, ...] tensor (gathered by flat row b·T + t): [B, m, ...]
  const atRows = (t: string, axis: number) => g.op('Gather', [g.op('Flatten', [t], [ai('axis', axis)]), rows], [ai('axis', 0)]);

  let x = g.op('Gather', [arch.embed, ids], [ai('axis', 0)]); // [B, T, dim]
  if (!rotary) x = g.op('Add', [x, g.op('Gather', [arch.posEmbed!, pos], [ai('axis', 0)])]); // + learned position rows
  arch.layers.forEach((layer, l) => {
    const last = l === nLayers - 1;
    const h = arch.preNorm ? norm(x, layer.ln1) : x; // [B, T, dim]
    // q | k | v of the rows `hq` ([B, S, dim]): their own linears or one fused projection split
    const fusedQkv = layer.qkv.length === 1;
    const project = (hq: string): string[] =>
      fusedQkv ? g.opN('Split', [linear(hq, layer.qkv[0]), g.ints([nh * hd, nkv * hd, nkv * hd])], 3, [ai('axis', -1)]) : layer.qkv.map((p) => linear(hq, p));
    let att: string;
    if (last && scoredRows) {
      // queries only at the scored rows [B, m]: their hidden rows, positions and mask rows gathered by flat row;
      // keys and values at every row (a fused q|k|v projects every row and keeps the scored queries)
      const [qAll, kRaw, v] = fusedQkv ? project(h) : [undefined, linear(h, layer.qkv[1]), linear(h, layer.qkv[2])];
      const k = position(kRaw, nkv, pos);
      const posq = rotary ? g.op('Gather', [g.op('Reshape', [pos, g.ints([-1])]), rows], [ai('axis', 0)]) : ''; // [B, m]
      const qRaw = qAll ? atRows(qAll, 2) : linear(atRows(h, 2), layer.qkv[0]); // [B, m, nh·hd]
      const biasq = g.op('Unsqueeze', [atRows(bias, 3), g.ints([1])]); // [B, 1, m, T]
      att = g.op('Reshape', [groupedAttention(position(qRaw, nh, posq), k, v, biasq, l), g.ints([-1, nh * hd])]); // [B·m, nh·hd]
      x = g.op('Reshape', [atRows(x, 2), g.ints([-1, dim])]); // [B·m, dim]
    } else {
      const [q, k, v] = project(h);
      const qp = position(q, nh, pos); // [B, T, nh·hd]
      const kp = position(k, nkv, pos); // [B, T, nkv·hd]
      att = fused ? fusedAttention(qp, kp, v) : groupedAttention(qp, kp, v, bias, l); // [B, T, nh·hd]
    }
    if (last && !scoredRows) {
      // after the last attention only the selected rows matter: [n, dim] from here on
      x = g.op('Gather', [g.op('Reshape', [x, g.ints([-1, dim])]), select], [ai('axis', 0)]);
      att = g.op('Gather', [g.op('Reshape', [att, g.ints([-1, nh * hd])]), select], [ai('axis', 0)]);
    }
    x = g.op('Add', [x, linear(att, layer.o)]);
    if (!arch.preNorm) x = norm(x, layer.ln1);
    const h2 = arch.preNorm ? norm(x, layer.ln2) : x;
    const up = linear(h2, layer.up); // [.., hidden]
    let act: string;
    if (arch.act === 'swiglu') {
      const gate = linear(h2, layer.gate!);
      act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // silu(gate) · up
    } else if (arch.act === 'relu') act = g.op('Relu', [up]);
    else {
      // gelu_new: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))
      const cube = g.op('Mul', [g.op('Pow', [up, g.scalar(3)]), g.scalar(0.044715)]);
      const inner = g.op('Mul', [g.op('Add', [up, cube]), g.scalar(Math.sqrt(2 / Math.PI))]);
      act = g.op('Mul', [g.op('Mul', [up, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.scalar(1)])]);
    }
    x = g.op('Add', [x, linear(act, layer.down)]);
    if (!arch.preNorm) x = norm(x, layer.ln2);
  });
  if (scoredRows) x = g.op('Gather', [x, select], [ai('axis', 0)]); // [B·m, dim] → [n, dim]
  const xn = arch.finalNorm ? norm(x, arch.finalNorm) : x; // [n, dim]
  // the tied classifier reads the embedding [V, dim] transposed (Gemm transB: no copy)
  const logits = arch.head ? g.op('MatMul', [xn, arch.head]) : g.op('Gemm', [xn, arch.embed], [ai('transB', 1)]); // [n, V]
  if (output === 'logits') g.output(logits, 'logits', FLOAT, ['n', V]);
  else g.output(g.op('GatherElements', [g.op('LogSoftmax', [logits], [ai('axis', -1)]), targets], [ai('axis', 1)]), 'logprobs', FLOAT, ['n', 1]);
  return g.encode();
}

/** Graph input names of layer l's prefix keys and values, [P, nkv·hd] each. */
export const prefixInputs = (l: number): [string, string] => [`prefix.${l}.key`, `prefix.${l}.value`];

/**
 * Prefix tuning, the only change to the attention: layer l's prefix keys and values (graph inputs
 * [P, nkv·hd], no RoPE) broadcast over the batch and put before the tokens' keys and values.
 */
export function prefixAttention(g: GraphBuilder, ids: string, nLayers: number, nkv: number, hd: number, P: number) {
  const batchOnes = g.op('Concat', [g.op('Slice', [g.op('Shape', [ids]), g.ints([0]), g.ints([1])]), g.ints([1, 1, 1])], [ai('axis', 0)]); // [B, 1, 1, 1]
  const inputs = Array.from({ length: nLayers }, (_, l) => prefixInputs(l).map((n) => g.input(n, FLOAT, [P, nkv * hd])));
  return (l: number, kt: string, v: string): [string, string] => {
    const [pk, pv] = inputs[l];
    const keys = g.op('Expand', [g.op('Transpose', [g.op('Reshape', [pk, g.ints([1, P, nkv, hd])])], [ais('perm', [0, 2, 3, 1])]), batchOnes]); // [B, nkv, hd, P]
    const values = g.op('Expand', [g.op('Transpose', [g.op('Reshape', [pv, g.ints([1, P, nkv, hd])])], [ais('perm', [0, 2, 1, 3])]), batchOnes]); // [B, nkv, P, hd]
    return [g.op('Concat', [keys, kt], [ai('axis', 3)]), g.op('Concat', [values, v], [ai('axis', 2)])];
  };
}

/** A one-node graph y = a · w (a [m, k], w [k, n], both inputs): ORT's MatMul peak for benchmarks. */
export function buildMatMulGraph(m: number, k: number, n: number): Uint8Array {
  const g = new GraphBuilder();
  g.output(g.op('MatMul', [g.input('a', FLOAT, [m, k]), g.input('w', FLOAT, [k, n])]), 'y', FLOAT, [m, n]);
  return g.encode();
}
