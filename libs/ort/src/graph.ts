// The LLaMA forward as an ONNX graph, generated from the model config (no Python, no exported file).
// Every weight is a graph INPUT named by its block (Hugging Face name, matrices [in, out] as the
// model stores them, so MatMul needs no transpose): each run is fed the blocks' own Float32Arrays,
// and a perturbation made in place is what the next run computes with.
//
// Other inputs, computed in JS per batch (see feeds.ts):
//   ids [B, T] int32, cos / sin [B, T, 1, hd] (RoPE tables gathered by position; sin signed as
//   (-sin, +sin) over the two halves), bias [B, 1, T, T] (0 or MASKED: causal + candidate packing),
//   select [n] int32 (flat rows b·T + t where the classifier runs), targets [n, 1] int32 (logprobs only).
// Outputs: logits [n, V], or logprobs [n, 1] = log_softmax(logits)[target].
//
// Plain ONNX ops (opset 17) written in the patterns ORT's optimiser fuses (Pow/ReduceMean/Add/Sqrt/Div/
// Mul → SimplifiedLayerNormalization; Transpose + MatMul → FusedMatMul), in the same order of
// operations as LlamaModel, so the logits agree to float32 round-off.
import onnxProto from 'onnx-proto';
import { headDim, layerPrefix, tensorSpecs, EMBED_NAME, FINAL_NORM_NAME, LM_HEAD_NAME, type LlamaConfig } from '@zotune/models';

const { onnx } = onnxProto;
type Attr = onnxProto.onnx.IAttributeProto;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT32 = onnx.TensorProto.DataType.INT32;
const INT64 = onnx.TensorProto.DataType.INT64;

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

  /** One node; returns its output names (`outputs` of them). */
  opN(type: string, inputs: string[], outputs: number, attrs: Attr[] = []): string[] {
    const out = Array.from({ length: outputs }, () => `t${this.count++}`);
    this.nodes.push({ opType: type, input: inputs, output: out, attribute: attrs, name: `${type}_${this.count}` });
    return out;
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
      opsetImport: [{ domain: '', version: 17 }],
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
 * The serialized ONNX model of a LLaMA config. `hasBias(name)` says which optional linear biases the
 * checkpoint has (as tensorSpecs); the weight inputs are exactly tensorSpecs(config, hasBias).
 */
export function buildLlamaGraph(config: LlamaConfig, output: GraphOutput, hasBias: (name: string) => boolean = () => false, prefixTokens = 0): Uint8Array {
  const g = new GraphBuilder();
  const { dim, nHeads: nh, nKvHeads: nkv, vocabSize: V, nLayers } = config;
  const hd = headDim(config);
  const group = nh / nkv;
  const specs = tensorSpecs(config, hasBias);
  const shapeOf = new Map<string, number[]>();
  for (const s of specs) shapeOf.set(s.name, s.kind === 'matrix' ? [s.hfShape[1], s.hfShape[0]] : s.hfShape);
  for (const s of specs) g.input(s.name, FLOAT, shapeOf.get(s.name)!);
  const ids = g.input('ids', INT32, ['B', 'T']);
  const cos = g.input('cos', FLOAT, ['B', 'T', 1, hd]);
  const sin = g.input('sin', FLOAT, ['B', 'T', 1, hd]);
  // with P prefix positions the keys are [prefix, tokens]: bias [B, 1, T, P + T] (0 on the prefix columns)
  const bias = g.input('bias', FLOAT, ['B', 1, 'T', prefixTokens > 0 ? 'S' : 'T']);
  const prefix = prefixTokens > 0 ? prefixAttention(g, ids, nLayers, nkv, hd, prefixTokens) : undefined;
  const select = g.input('select', INT32, ['n']);
  const targets = output === 'logprobs' ? g.input('targets', INT32, ['n', 1]) : '';

  const eps = g.scalar(config.normEps);
  const two = g.scalar(2);
  const scale = g.scalar(1 / Math.sqrt(hd));
  // x · (1 / sqrt(mean(x²) + eps)) · w over the last axis: the pattern ORT fuses to SimplifiedLayerNormalization
  const rmsNorm = (x: string, w: string) => {
    const ms = g.op('ReduceMean', [g.op('Pow', [x, two])], [ais('axes', [-1]), ai('keepdims', 1)]);
    return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, eps])])]), w]);
  };
  const linear = (x: string, name: string) => {
    const y = g.op('MatMul', [x, `${name}.weight`]);
    return shapeOf.has(`${name}.bias`) ? g.op('Add', [y, `${name}.bias`]) : y;
  };
  // rotate_half RoPE on [B, T, heads, hd]: x ⊙ cos + concat(x₂, x₁) ⊙ sinSigned
  const rope = (x: string) => {
    const [x1, x2] = g.opN('Split', [x], 2, [ai('axis', -1)]);
    const partner = g.op('Concat', [x2, x1], [ai('axis', -1)]);
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [partner, sin])]);
  };

  let x = g.op('Gather', [EMBED_NAME, ids], [ai('axis', 0)]); // [B, T, dim]
  for (let l = 0; l < nLayers; l++) {
    const p = layerPrefix(l);
    const h = rmsNorm(x, `${p}.input_layernorm.weight`); // [B, T, dim]
    // queries grouped by the kv head they share (HF repeat_kv: head h uses kv head floor(h / group))
    const q = g.op('Mul', [rope(g.op('Reshape', [linear(h, `${p}.self_attn.q_proj`), g.ints([0, 0, nh, hd])])), scale]); // [B, T, nh, hd]
    const qg = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [q, g.ints([0, 0, nkv, group, hd])])], [ais('perm', [0, 2, 3, 1, 4])]), g.ints([0, 0, -1, hd])]); // [B, nkv, group·T, hd]
    const k = rope(g.op('Reshape', [linear(h, `${p}.self_attn.k_proj`), g.ints([0, 0, nkv, hd])])); // [B, T, nkv, hd]
    let kt = g.op('Transpose', [k], [ais('perm', [0, 2, 3, 1])]); // [B, nkv, hd, T]
    let v = g.op('Transpose', [g.op('Reshape', [linear(h, `${p}.self_attn.v_proj`), g.ints([0, 0, nkv, hd])])], [ais('perm', [0, 2, 1, 3])]); // [B, nkv, T, hd]
    if (prefix) [kt, v] = prefix(l, kt, v); // [B, nkv, hd, P + T], [B, nkv, P + T, hd]
    const scores = g.op('Reshape', [g.op('MatMul', [qg, kt]), g.ints([0, nh, -1, 0])]); // [B, nh, T, T]
    const probs = g.op('Reshape', [g.op('Softmax', [g.op('Add', [scores, bias])], [ai('axis', -1)]), g.ints([0, nkv, -1, 0])]); // [B, nkv, group·T, T]
    const o = g.op('Reshape', [g.op('MatMul', [probs, v]), g.ints([0, 0, group, -1, hd])]); // [B, nkv, group, T, hd]
    let att = g.op('Reshape', [g.op('Transpose', [o], [ais('perm', [0, 3, 1, 2, 4])]), g.ints([0, 0, nh * hd])]); // [B, T, nh·hd]
    if (l === nLayers - 1) {
      // after the last attention only the selected rows matter: [n, dim] from here on
      x = g.op('Gather', [g.op('Reshape', [x, g.ints([-1, dim])]), select], [ai('axis', 0)]);
      att = g.op('Gather', [g.op('Reshape', [att, g.ints([-1, nh * hd])]), select], [ai('axis', 0)]);
    }
    x = g.op('Add', [x, linear(att, `${p}.self_attn.o_proj`)]);
    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const gate = linear(h2, `${p}.mlp.gate_proj`);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(h2, `${p}.mlp.up_proj`)]); // silu(gate) · up
    x = g.op('Add', [x, linear(act, `${p}.mlp.down_proj`)]);
  }
  const xn = rmsNorm(x, FINAL_NORM_NAME); // [n, dim]
  // the tied classifier reads the embedding [V, dim] transposed (Gemm transB: no copy)
  const logits = config.tiedEmbeddings
    ? g.op('Gemm', [xn, EMBED_NAME], [ai('transB', 1)])
    : g.op('MatMul', [xn, LM_HEAD_NAME]); // [n, V]
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
