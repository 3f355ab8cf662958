// The fused forward kernels (llama-kernels.as) as tfjs kernels of the wasm backend. The module is
// instantiated on tfjs's own WebAssembly.Memory, so the kernels read and write tensors in place.
// Forward only: the model uses them when the backend is wasm and no gradient tape records; under
// tf.grad it uses the differentiable tfjs ops, which compute the same function.
import * as tf from '@tensorflow/tfjs-core';
import { LLAMA_KERNELS_WASM_BASE64 } from './llama-kernels.generated';

export const RMSNORM = 'ZotuneRmsNorm';
export const SWIGLU = 'ZotuneSwiGlu';
export const ATTENTION = 'ZotuneLlamaAttention';
export const GATHER_ROWS = 'ZotuneGatherRows';
export const TRANSPOSE_2D = 'ZotuneTranspose2D';
export const ATTENTION_GRAD = 'ZotuneLlamaAttentionGrad';

interface KernelExports {
  gatherRows(table: number, ids: number, out: number, n: number, dim: number): void;
  transpose2d(x: number, out: number, rows: number, cols: number): void;
  rmsnorm(x: number, w: number, out: number, rows: number, dim: number, eps: number): void;
  swiglu(gu: number, out: number, rows: number, hidden: number): void;
  attentionScratch(T: number, hd: number): number;
  attention(
    qkv: number, pos: number, seg: number, cosT: number, sinT: number, out: number, scratch: number,
    B: number, T: number, nh: number, nkv: number, hd: number, scale: number, need: number,
  ): void;
  attentionBackwardScratch(T: number, hd: number): number;
  attentionBackward(
    qkv: number, pos: number, seg: number, cosT: number, sinT: number, dout: number, dqkv: number, scratch: number,
    B: number, T: number, nh: number, nkv: number, hd: number, scale: number, need: number,
  ): void;
}

/** The parts of tfjs's BackendWasm the kernels use. */
interface WasmBackend {
  wasm: { asm?: { memory?: unknown }; _malloc(bytes: number): number; _free(ptr: number): void };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

let kernels: KernelExports | undefined;
let boundTo: unknown;
let failure: string | undefined;

/** True when the module has a data section (id 11): instantiating it would overwrite tfjs's heap. */
function hasDataSection(bytes: Uint8Array): boolean {
  let p = 8;
  const leb = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return v;
    }
  };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    if (id === 11) return true;
    p += size;
  }
  return false;
}

function backendOf(): WasmBackend | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  return tf.backend() as unknown as WasmBackend;
}

/** Instantiate the kernels on the current wasm backend's memory; false (with a reason) when impossible. */
function ensure(): KernelExports | undefined {
  const be = backendOf();
  if (!be) return undefined;
  const memory = be.wasm.asm?.memory;
  if (kernels && boundTo === memory) return kernels;
  if (failure) return undefined;
  const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    if (!wa || !memory) throw new Error('tfjs wasm memory not reachable');
    const bytes = Uint8Array.from(atob(LLAMA_KERNELS_WASM_BASE64), (ch) => ch.charCodeAt(0));
    if (!wa.validate(bytes)) throw new Error('WebAssembly SIMD not supported');
    if (hasDataSection(bytes)) throw new Error('kernel module has a data section');
    const instance = new wa.Instance(new wa.Module(bytes), { env: { memory } });
    kernels = instance.exports as KernelExports;
    boundTo = memory;
    return kernels;
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
    return undefined;
  }
}

/** Whether the fused kernels can run now (wasm backend active and the module loaded). */
export function wasmKernelsAvailable(): boolean {
  return ensure() !== undefined;
}

/** Why the kernels are unavailable on the wasm backend, if they are. */
export function wasmKernelsFailure(): string | undefined {
  return failure;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function offset(be: WasmBackend, t: tf.TensorInfo): number {
  const d = be.dataIdMap.get(t.dataId);
  if (!d) throw new Error('wasm kernel: input tensor has no data on the wasm backend');
  return d.memoryOffset >>> 0;
}

function rmsNormKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const { x, w } = inputs as { x: tf.TensorInfo; w: tf.TensorInfo };
  const [rows, dim] = x.shape;
  const out = be.makeOutput(x.shape, 'float32');
  ensure()!.rmsnorm(offset(be, x), offset(be, w), offset(be, out), rows, dim, (attrs as { eps: number }).eps);
  return out;
}

function gatherRowsKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const { table, ids } = inputs as { table: tf.TensorInfo; ids: tf.TensorInfo };
  const n = ids.shape[0];
  const dim = table.shape[1];
  const out = be.makeOutput([n, dim], 'float32');
  ensure()!.gatherRows(offset(be, table), offset(be, ids), offset(be, out), n, dim);
  return out;
}

function transposeKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const { x } = inputs as { x: tf.TensorInfo };
  const [rows, cols] = x.shape;
  const out = be.makeOutput([cols, rows], 'float32');
  ensure()!.transpose2d(offset(be, x), offset(be, out), rows, cols);
  return out;
}

function swigluKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const { gu } = inputs as { gu: tf.TensorInfo };
  const [rows, twice] = gu.shape;
  const out = be.makeOutput([rows, twice / 2], 'float32');
  ensure()!.swiglu(offset(be, gu), offset(be, out), rows, twice / 2);
  return out;
}

export interface AttentionAttrs {
  batch: number;
  length: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  scale: number;
}

function attentionKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const k = ensure()!;
  const { qkv, positions, segments, cos, sin, need } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as unknown as AttentionAttrs;
  const out = be.makeOutput([a.batch * a.length, a.nHeads * a.headDim], 'float32');
  const scratch = be.wasm._malloc(k.attentionScratch(a.length, a.headDim)) >>> 0;
  try {
    k.attention(
      offset(be, qkv), offset(be, positions), offset(be, segments), offset(be, cos), offset(be, sin), offset(be, out), scratch,
      a.batch, a.length, a.nHeads, a.nKvHeads, a.headDim, a.scale, need ? offset(be, need) : 0,
    );
  } finally {
    be.wasm._free(scratch);
  }
  return out;
}

function attentionGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WasmBackend;
  const k = ensure()!;
  const { qkv, positions, segments, cos, sin, dy, need } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as unknown as AttentionAttrs;
  const out = be.makeOutput(qkv.shape, 'float32');
  const scratch = be.wasm._malloc(k.attentionBackwardScratch(a.length, a.headDim)) >>> 0;
  try {
    k.attentionBackward(
      offset(be, qkv), offset(be, positions), offset(be, segments), offset(be, cos), offset(be, sin), offset(be, dy), offset(be, out), scratch,
      a.batch, a.length, a.nHeads, a.nKvHeads, a.headDim, a.scale, need ? offset(be, need) : 0,
    );
  } finally {
    be.wasm._free(scratch);
  }
  return out;
}

/** Register the kernels for the wasm backend (idempotent). They run only when wasmKernelsAvailable(). */
export function registerWasmKernels(): void {
  const reg = (kernelName: string, kernelFunc: (a: KernelArgs) => tf.TensorInfo) => {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  };
  reg(GATHER_ROWS, gatherRowsKernel);
  reg(TRANSPOSE_2D, transposeKernel);
  reg(RMSNORM, rmsNormKernel);
  reg(SWIGLU, swigluKernel);
  reg(ATTENTION, attentionKernel);
  reg(ATTENTION_GRAD, attentionGradKernel);
}

/** Rows of table [V, dim] at ids [n] (int32, each in [0, V)) → [n, dim]. */
export function gatherRowsFused(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  return tf.engine().runKernel(GATHER_ROWS, { table, ids }) as tf.Tensor2D;
}

/**
 * xᵀ of a 2-D float32 tensor: the tiled kernel on wasm (tfjs's Transpose there is ~10x slower), else
 * tf.transpose. No gradient: use it for constants, cached weights and inside gradient functions.
 */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  if (x.dtype === 'float32' && wasmKernelsAvailable()) return tf.engine().runKernel(TRANSPOSE_2D, { x }) as tf.Tensor2D;
  return tf.transpose(x);
}

/** x [N, dim] RMS-normalised and scaled by w [dim]. */
export function rmsNormFused(x: tf.Tensor2D, w: tf.Tensor, eps: number): tf.Tensor2D {
  return tf.engine().runKernel(RMSNORM, { x, w }, { eps }) as tf.Tensor2D;
}

/** gu [N, 2·hidden] (gate | up) → silu(gate) · up [N, hidden]. */
export function swigluFused(gu: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(SWIGLU, { gu }) as tf.Tensor2D;
}

/**
 * qkv [N, (nh + 2·nkv)·hd] before RoPE → attention output [N, nh·hd]. With `need` [N] int32, only the
 * query rows where it is non-zero are computed (the others are zeros): the last layer needs few.
 */
export function attentionFused(
  qkv: tf.Tensor2D,
  positions: tf.Tensor1D,
  segments: tf.Tensor1D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  attrs: AttentionAttrs,
  need?: tf.Tensor1D,
): tf.Tensor2D {
  const inputs: tf.NamedTensorMap = { qkv, positions, segments, cos, sin };
  if (need) inputs.need = need;
  return tf.engine().runKernel(ATTENTION, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

/**
 * attentionFused with a gradient (for tf.grad / variableGrads): the backward kernel recomputes the
 * probabilities and returns ∂qkv; positions, segments and the tables are constants.
 */
export function attentionFusedWithGrad(
  qkv: tf.Tensor2D,
  positions: tf.Tensor1D,
  segments: tf.Tensor1D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  attrs: AttentionAttrs,
  need?: tf.Tensor1D,
): tf.Tensor2D {
  const f = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    // saved tensors outlive the caller's tidy until the backward pass; cos and sin belong to the model
    save(need ? [x, positions, segments, need] : [x, positions, segments]);
    return {
      value: attentionFused(x as tf.Tensor2D, positions, segments, cos, sin, attrs, need),
      gradFunc: (dy: tf.Tensor, [q, p, s, n]: tf.Tensor[]) => {
        const inputs: tf.NamedTensorMap = { qkv: q, positions: p, segments: s, cos, sin, dy };
        if (n) inputs.need = n;
        return tf.engine().runKernel(ATTENTION_GRAD, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(qkv) as tf.Tensor2D;
}

// registered on import: the functions above must work wherever this module is used
registerWasmKernels();
