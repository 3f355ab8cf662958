// The forward of the LayerNorm families (OPT, GPT-2) as an ONNX graph, walking the same Arch
// (libs/models families/arch.ts) as the tfjs forward (families/forward.ts), in the same order of
// operations. LLaMA and Qwen2 use graph.ts's buildLlamaGraph. Weights are graph inputs named by their
// blocks (matrices [in, out]), as there.
//
// Other inputs, computed in JS per batch: ids [B, T] int32, pos [B, T] int32 (row of the learned
// position table: position + the family's offset), bias [B, 1, T, T] (0 or MASKED; [B, 1, T, P + T] with
// P prefix-tuning positions, whose keys and values are inputs too: prefixInputs), select [n] int32,
// targets [n, 1] int32 (logprobs only). Outputs: logits [n, V] or logprobs [n, 1].
import type { Arch, LlamaConfig, Param } from '@zotune/models';
import { af, ai, ais, FLOAT, GraphBuilder, INT32, prefixAttention, type GraphOutput } from './graph';

/** The serialized ONNX model of a learned-position, LayerNorm family (OPT, GPT-2). */
export function buildArchGraph(arch: Arch, config: LlamaConfig, output: GraphOutput, prefixTokens = 0): Uint8Array {
  if (arch.positions !== 'learned' || arch.norm !== 'layer') throw new Error(`buildArchGraph: family ${arch.family} is built by buildLlamaGraph`);
  const g = new GraphBuilder();
  const { dim, nHeads: nh, vocabSize: V } = config;
  const hd = dim / nh;
  const shapeOf = new Map<string, number[]>();
  for (const s of arch.tensors) shapeOf.set(s.name, s.transpose ? [s.hfShape[1], s.hfShape[0]] : s.hfShape);
  for (const s of arch.tensors) g.input(s.name, FLOAT, shapeOf.get(s.name)!);
  const ids = g.input('ids', INT32, ['B', 'T']);
  const pos = g.input('pos', INT32, ['B', 'T']);
  const bias = g.input('bias', FLOAT, ['B', 1, 'T', prefixTokens > 0 ? 'S' : 'T']);
  const prefix = prefixTokens > 0 ? prefixAttention(g, ids, arch.layers.length, nh, hd, prefixTokens) : undefined;
  const select = g.input('select', INT32, ['n']);
  const targets = output === 'logprobs' ? g.input('targets', INT32, ['n', 1]) : '';

  const scale = g.scalar(1 / Math.sqrt(hd));
  // LayerNorm with bias over the last axis (opset 17 has the op; ORT runs it as one kernel)
  const norm = (x: string, p: Param) => g.op('LayerNormalization', [x, p.w, p.b!], [ai('axis', -1), af('epsilon', config.normEps)]);
  const linear = (x: string, p: Param) => {
    const y = g.op('MatMul', [x, p.w]);
    return p.b ? g.op('Add', [y, p.b]) : y;
  };
  const heads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, nh, hd])])], [ais('perm', [0, 2, 1, 3])]); // [B, nh, T, hd]

  let x = g.op('Add', [g.op('Gather', [arch.embed, ids], [ai('axis', 0)]), g.op('Gather', [arch.posEmbed!, pos], [ai('axis', 0)])]); // [B, T, dim]
  arch.layers.forEach((layer, l) => {
    const h = arch.preNorm ? norm(x, layer.ln1) : x;
    let q: string, k: string, v: string;
    if (layer.qkv.length === 1) [q, k, v] = g.opN('Split', [linear(h, layer.qkv[0]), g.ints([dim, dim, dim])], 3, [ai('axis', -1)]); // fused q|k|v
    else [q, k, v] = layer.qkv.map((p) => linear(h, p));
    const qh = heads(g.op('Mul', [q, scale])); // [B, nh, T, hd]
    let kt = g.op('Transpose', [g.op('Reshape', [k, g.ints([0, 0, nh, hd])])], [ais('perm', [0, 2, 3, 1])]); // [B, nh, hd, T]
    let vh = heads(v); // [B, nh, T, hd]
    if (prefix) [kt, vh] = prefix(l, kt, vh); // [B, nh, hd, P + T], [B, nh, P + T, hd]
    const probs = g.op('Softmax', [g.op('Add', [g.op('MatMul', [qh, kt]), bias])], [ai('axis', -1)]); // [B, nh, T, P + T]
    let att = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [probs, vh])], [ais('perm', [0, 2, 1, 3])]), g.ints([0, 0, dim])]); // [B, T, dim]
    if (l === arch.layers.length - 1) {
      // after the last attention only the selected rows matter: [n, dim] from here on
      x = g.op('Gather', [g.op('Reshape', [x, g.ints([-1, dim])]), select], [ai('axis', 0)]);
      att = g.op('Gather', [g.op('Reshape', [att, g.ints([-1, dim])]), select], [ai('axis', 0)]);
    }
    x = g.op('Add', [x, linear(att, layer.o)]);
    if (!arch.preNorm) x = norm(x, layer.ln1);
    const up = linear(arch.preNorm ? norm(x, layer.ln2) : x, layer.up);
    let act: string;
    if (arch.act === 'relu') act = g.op('Relu', [up]);
    else {
      // gelu_new: 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))
      const cube = g.op('Mul', [g.op('Pow', [up, g.scalar(3)]), g.scalar(0.044715)]);
      const inner = g.op('Mul', [g.op('Add', [up, cube]), g.scalar(Math.sqrt(2 / Math.PI))]);
      act = g.op('Mul', [g.op('Mul', [up, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.scalar(1)])]);
    }
    x = g.op('Add', [x, linear(act, layer.down)]);
    if (!arch.preNorm) x = norm(x, layer.ln2);
  });
  const xn = arch.finalNorm ? norm(x, arch.finalNorm) : x; // [n, dim]
  const logits = arch.head ? g.op('MatMul', [xn, arch.head]) : g.op('Gemm', [xn, arch.embed], [ai('transB', 1)]); // [n, V]
  if (output === 'logits') g.output(logits, 'logits', FLOAT, ['n', V]);
  else g.output(g.op('GatherElements', [g.op('LogSoftmax', [logits], [ai('axis', -1)]), targets], [ai('axis', 1)]), 'logprobs', FLOAT, ['n', 1]);
  return g.encode();
}
