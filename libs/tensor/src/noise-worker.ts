// The code of a NoisePool thread (noise-pool.ts), as a string: the pool starts it with
// new Worker(source, { eval: true }), so no file has to be found next to the module. That works the same
// under plain Node, tsx, vitest and in a bundle (an esbuild build of the CLI has no worker file beside
// it). Plain CommonJS JavaScript that needs nothing but the compiled noise kernel (assembly/noise.ts),
// which the pool passes in workerData.
//
// It updates ranges of Float32Arrays in place with the arithmetic of NoiseWasm.sum + combine
// (noise-wasm.ts): per element, S = Σ_t f32(coef_t·z(k0_t, k1_t, first + index)) from +0 in order and
// data = f32(f32(keep·data) + S), or (sumOnly) writes S alone, for weights the pool updates on its own
// thread (plain ArrayBuffers). Message in: { id, items: [{ data, keys: [k0, k1, coef, ...], keep, first,
// sumOnly, stream }], ranges: [item, start, n, ...] }; out: { id } or { id, error } (one line).
import { STREAM_LAYOUT } from './noise-wasm';

export const NOISE_WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');

const CHUNK = 1 << 16; // elements per kernel call, as in noise-wasm.ts
const LAYOUT = ${JSON.stringify(STREAM_LAYOUT)}; // per stream: samples per counter, per kernel group, kernel function
const ex = new WebAssembly.Instance(workerData.module, {}).exports;
const base = (ex.heapBase() + 15) & ~15; // byte offset of the sum buffer
// kernel groups that cover [start, start + n) from start's counter
const groupsOf = (l, start, n) => Math.ceil(((start % l.per) + n) / l.group);
const sumBytes = Math.max(...Object.values(LAYOUT).map((l) => groupsOf(l, l.per - 1, CHUNK) * l.group * 4));
const stage = base + sumBytes; // byte offset where the weights are staged
const need = stage + CHUNK * 4;
if (need > ex.memory.buffer.byteLength) ex.memory.grow(Math.ceil((need - ex.memory.buffer.byteLength) / 65536));
const heap = new Float32Array(ex.memory.buffer);

/**
 * Elements [start, start + n) of an item: z index first + i for element i. In place:
 * data ← f32(f32(keep·data) + S); sumOnly: data ← S (the caller applies it).
 */
function updateRange({ data, keys, keep, first: z0, sumOnly, stream }, start, n) {
  const mode = (keep !== 1 ? 1 : 0) | (keys.length > 0 ? 2 : 0); // the kernel's combine modes
  if (mode === 0 && !sumOnly) return;
  const l = LAYOUT[stream];
  if (!l) throw new Error('noise stream ' + stream + ' is unknown');
  const run = ex[l.fn];
  const first = base / 4;
  for (let i = start; i < start + n; ) {
    const k = z0 + i;
    const off = k % l.per; // sample k lands at float first + off
    const c = Math.min(start + n - i, CHUNK - off);
    const groups = groupsOf(l, k, c);
    heap.fill(0, first, first + groups * l.group);
    for (let t = 0; t < keys.length; t += 3) run(keys[t], keys[t + 1], Math.floor(k / l.per) >>> 0, groups, base, keys[t + 2], 1);
    if (!sumOnly) {
      heap.set(data.subarray(i, i + c), stage / 4);
      ex.combine(stage, base + 4 * off, c, keep, mode);
    }
    data.set(heap.subarray(first + off, first + off + c), i);
    i += c;
  }
}

parentPort.on('message', ({ id, items, ranges }) => {
  try {
    for (let r = 0; r < ranges.length; r += 3) {
      updateRange(items[ranges[r]], ranges[r + 1], ranges[r + 2]);
    }
    parentPort.postMessage({ id });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e instanceof Error ? e.message : e).split(String.fromCharCode(10))[0] });
  }
});
`;
