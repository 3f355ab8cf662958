import { resolveModel, packBatch } from '@zotune/models';
import { forwardEngine, openModel } from '@zotune/engine';
import { initBackend } from '@zotune/tensor';
const backend = await initBackend('wasm', { quiet: true });
const engine = await forwardEngine({ engine: 'ort', threads: 2 }, backend);
const r = resolveModel('smollm2-135m', process.env.ZOTUNE_DATA!);
const model = await openModel(r.checkpoint, engine, { handOver: true });
const mk = (B: number, P: number) => packBatch(Array.from({ length: B }, (_, b) => Array.from({ length: P }, (_, t) => 100 + ((b * 31 + t * 7) % 1000))), Array.from({ length: B }, () => [[5], [6]]));
for (const [B, P] of [[1, 4], [1, 4], [2, 8], [4, 8], [16, 8], [64, 8], [1, 4], [8, 16], [1, 4]]) {
  const b = mk(B, P);
  const c0 = process.cpuUsage(); const t0 = performance.now();
  await model.scoreCandidates(b);
  const c = process.cpuUsage(c0);
  console.log(B, 'x', b.length, 'slots', B * b.length, 'ms', (performance.now() - t0).toFixed(0), 'cpu', ((c.user + c.system) / 1000).toFixed(0));
}
await model.dispose();
