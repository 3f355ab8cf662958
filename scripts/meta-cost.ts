// What one meta step costs, the measurements docs/results/meta-training-135m.md scales from: the exact
// meta step (tfjs backward: MetaTrainer's meta step + θ's SGD step) or the forward-only one
// (SpsaMetaTrainer on ONNX Runtime), on SST-2 batches of the default meta-training config:
//   stories260K   the real model;
//   stories15M    the stories15M shape with random weights (N(0, 0.02)), fed the same SST-2 batches through
//                 stories260K's tokenizer (its ids are valid in a 32,000-token vocabulary): the cost of a
//                 step does not depend on the weights' values;
//   smollm2-135m  the real model (its own tokenizer).
// One JSON line: parameters, tokens per batch, the median step (wall and CPU seconds, after one untimed
// step), a forward pass at θ timed in the same run (so step/forward is a ratio that survives a loaded
// machine), and the process's peak RSS. Usage:
//   node --conditions=@zotune/source --import tsx scripts/meta-cost.ts --model stories260K|stories15M|smollm2-135m
//     [--meta-grad exact|spsa] [--spsa-directions 16] [--steps 2] [--threads 2] [--backend wasm] [--forward-only]
// --forward-only times the forward pass alone (no step): the exact path at 135M, whose step cannot run.
import { loadavg } from 'node:os';
import { resolveDataDir } from '@zotune/data';
import { loadMetaTask, lossAt, MetaTrainer, parseMetaConfig, SpsaMetaTrainer, type MetaTraining } from '@zotune/meta';
import { createTfjsModel, randomCheckpoint, resolveModel, STORIES15M_CONFIG } from '@zotune/models';
import { loadOrt } from '@zotune/ort';
import { objectiveValue } from '@zotune/tasks';
import { initBackend, parseBackend } from '@zotune/tensor';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const shape = arg('--model', 'stories260K');
const metaGrad = arg('--meta-grad', 'exact');
const steps = Number(arg('--steps', '2'));
const directions = Number(arg('--spsa-directions', '16'));
const threads = Number(arg('--threads', '2'));
const fail = (msg: string): never => {
  process.stderr.write(`meta-cost: ${msg}\n`);
  process.exit(2);
};
if (!['stories260K', 'stories15M', 'smollm2-135m'].includes(shape)) fail(`--model: expected stories260K, stories15M or smollm2-135m, got "${shape}"`);
if (metaGrad !== 'exact' && metaGrad !== 'spsa') fail(`--meta-grad: expected exact or spsa, got "${metaGrad}"`);
for (const [flag, v] of [['--steps', steps], ['--spsa-directions', directions], ['--threads', threads]] as const)
  if (!(Number.isInteger(v) && v >= 1)) fail(`${flag}: expected an integer >= 1, got "${arg(flag, '')}"`);
const backend = await initBackend(parseBackend(arg('--backend', 'wasm')), { quiet: true });
const dataDir = resolveDataDir();
const resolved = resolveModel(shape === 'smollm2-135m' ? shape : 'stories260K', dataDir);
const ckpt = shape === 'stories15M' ? randomCheckpoint(STORIES15M_CONFIG, 1, { std: 0.02 }) : resolved.checkpoint;
// spsa: the ORT model (host); exact: the tfjs one (tensor)
const host = metaGrad === 'spsa' ? await (await loadOrt()).createOrtModel(ckpt, { threads, handOver: true }) : undefined;
const tensor = host ? undefined : createTfjsModel(ckpt);
const model = host ?? tensor!;
const parameters = model.blocks.reduce((n, b) => n + b.size, 0);
const config = parseMetaConfig({ trainExamples: 64, metaGrad, spsaDirections: directions });
const metaTask = loadMetaTask('sst2', { dataDir, dataSeed: config.dataSeed, tokenizer: resolved.tokenizer, maxSeqLen: resolved.checkpoint.config.maxSeqLen, trainExamples: 64 }).task;
const forwardOnly = argv.includes('--forward-only');
const trainer: MetaTraining | undefined = forwardOnly ? undefined : host ? new SpsaMetaTrainer({ model: host, tasks: [metaTask], config }) : new MetaTrainer({ model: tensor!, tasks: [metaTask], config });
const batch = metaTask.collator.batch(metaTask.train.slice(0, config.batch), { goldOnly: false });
let forwardPasses = 0;
const wall: number[] = [];
const cpu: number[] = [];
for (let i = 0; trainer && i <= steps; i++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  forwardPasses = (await trainer.runStep()).forwardPasses;
  const c = process.cpuUsage(c0);
  if (i > 0) {
    wall.push((performance.now() - t0) / 1000);
    cpu.push((c.user + c.system) / 1e6);
  }
}
// a forward pass at θ, median of 3, in the same process and load as the steps
const fw: number[] = [];
const fc: number[] = [];
for (let i = 0; i < 3; i++) {
  const f0 = performance.now();
  const c0 = process.cpuUsage();
  await (host ? objectiveValue(host, batch) : lossAt(tensor!, metaTask.objective, batch));
  const c = process.cpuUsage(c0);
  fw.push((performance.now() - f0) / 1000);
  fc.push((c.user + c.system) / 1e6);
}
const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
process.stdout.write(
  JSON.stringify({
    model: shape, parameters, metaGrad, ...(metaGrad === 'spsa' ? { directions, threads, engine: 'ort' } : { backend: backend.name }),
    batch: config.batch, tokens: batch.packed.batch * batch.packed.length, forwardPassesPerStep: forwardPasses,
    stepWallSeconds: median(wall), stepCpuSeconds: median(cpu), forwardWallSeconds: median(fw), forwardCpuSeconds: median(fc),
    stepInForwardsWall: median(wall) / median(fw), stepInForwardsCpu: median(cpu) / median(fc),
    peakRssMiB: process.resourceUsage().maxRSS / 1024, timedSteps: trainer ? steps : 0, loadAverage: loadavg()[0],
  }) + '\n',
);
trainer?.dispose();
await model.dispose();
