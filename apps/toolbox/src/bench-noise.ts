// `zotune bench noise`: throughput of the counter-based Gaussian noise (ALGORITHMS.md §1) beside the
// scalar reference and tf.randomNormal, the per-element cost of applyNoise (the ZO hot path), and the
// perturb pass over the weights of a model shape (plain shared Float32Arrays, NoisePool) on 1 thread
// and on --threads threads, timed in alternation in the same run so that their ratio holds on a busy machine.
// Both noise streams (1: trajectory versions 1–3; 2: version 4) are timed in the same rounds, beside a
// keep-only pass (θ ← keep·θ, no noise): the memory traffic and hand-off a pass costs without the generator.
import * as tf from '@tensorflow/tfjs-core';
import { STORIES15M_CONFIG, STORIES260K_CONFIG, tensorSpecs } from '@zotune/models';
import { UserError, parseNumber } from '@zotune/report';
import { backendFlag, type BenchCommand } from './flags';
import {
  NoisePool, applyNoise, defaultThreads, initBackend, normalFill, normalFillRef, noiseImplementation, parseBackend, sharedFloat32Array,
  useNoiseImplementation, type ArrayNoiseUpdate, type NoiseStream,
} from '@zotune/tensor';

const SHAPES = { stories15M: STORIES15M_CONFIG, stories260K: STORIES260K_CONFIG };
type Shape = keyof typeof SHAPES;

export interface BenchNoiseFlags {
  n: string;
  repeat: string;
  threads?: string;
  shape: string;
  rounds: string;
  out?: string;
  backend?: string;
  json?: boolean;
}

export interface BenchNoiseResult {
  implementation: string;
  /** samples per timed call */
  n: number;
  repeat: number;
  /** best of `repeat` timed calls of normalFill (stream 1) */
  samplesPerSecond: number;
  nsPerSample: number;
  /** the same for noise stream 2 (trajectory format version 4), timed in alternation with stream 1 */
  stream2SamplesPerSecond: number;
  stream2NsPerSample: number;
  /** stream2SamplesPerSecond / samplesPerSecond */
  stream2Speedup: number;
  /** the scalar reference of stream 2 */
  stream2ReferenceJsSamplesPerSecond: number;
  /** the same for the scalar JavaScript fallback (noise-js) */
  jsFallbackSamplesPerSecond: number;
  /** the scalar specification, noise-ref.ts */
  referenceJsSamplesPerSecond: number;
  tfRandomNormalSamplesPerSecond: number;
  /** applyNoise(variable of n elements, one term), keep = 1 */
  applyNoiseNsPerElement: number;
  /** applyNoise with keep ≠ 1 (weight decay) and two terms */
  applyNoiseKeepTwoTermsNsPerElement: number;
  backend: string;
  timing: string;
  /** the perturb pass over a model shape's weights, 1 thread against `threads` */
  perturb: PerturbPassResult;
}

/** Where the weights live: SharedArrayBuffers (updated in place by the threads) or plain ArrayBuffers. */
type Home = 'shared' | 'plain';
type Sample = { wall: number; cpu: number };

/** One perturb pass kind timed at one thread count. */
export interface PassTiming {
  threads: number;
  home: Home;
  /** best wall time of one pass over every block (ms) */
  ms: number;
  passesPerSecond: number;
  /** noise samples generated per second (elements × terms / time) */
  samplesPerSecond: number;
  /** CPU time of the whole process (all threads) per pass, median (ms): the work, whatever the load */
  cpuMs: number;
  /** cpuMs / wall ms of the same passes: the cores the pass really got (≈ threads on a quiet machine) */
  coresUsed: number;
}

export interface PerturbPassResult {
  shape: Shape;
  blocks: number;
  parameters: number;
  /** a MeZO move θ ← θ + ε·z(seed): one term, keep 1 */
  move: PassTiming[];
  /** an update with weight decay: θ ← keep·θ + two terms (decay on every block) */
  update: PassTiming[];
  /** passes/s at `threads` (weights shared) over passes/s at 1 thread (issue 10's target: ≥ 1.8 at 2 threads) */
  moveSpeedup: number;
  updateSpeedup: number;
  /** the same with the weights on plain ArrayBuffers (engine ort's home) */
  moveSpeedupPlain: number;
  updateSpeedupPlain: number;
  /** the fields above are noise stream 1's; the same passes with stream 2, in the same rounds */
  stream2: { move: PassTiming[]; update: PassTiming[] };
  /** passes/s of stream 2 over stream 1, per runner (the order of move: 1 thread, then threads shared, plain) */
  stream2Speedup: { move: number[]; update: number[] };
  /** a keep-only pass (θ ← keep·θ, every block, no noise): what a pass costs besides generating z */
  memoryOnly: PassTiming[];
  /** share of a one-term move's wall time that generating z takes, 1 − memoryOnly ms / move ms, per runner */
  generatorShare: { stream1: number[]; stream2: number[] };
  timing: string;
}

/** Best wall time in seconds of `repeat` calls of fn, after one untimed warm-up call. */
function best(repeat: number, fn: () => void): number {
  fn();
  let t = Infinity;
  for (let r = 0; r < repeat; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t;
}

/** Wall and process CPU time (ms) of one call of fn. */
async function timeOnce(fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: Number(process.hrtime.bigint() - t0) / 1e6, cpu: (c.user + c.system) / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Perturb passes over the weights of `shape` (one Float32Array per block) on 1 thread and on `threads`,
 * with the weights on SharedArrayBuffers (updated in place by the threads) and on plain ArrayBuffers
 * (ONNX Runtime's home: sums from the threads, the update on the calling thread): `rounds` rounds, each
 * timing one pass of every kind on every runner in turn; the best wall time is kept.
 */
export async function benchPerturbPass(shape: Shape, threads: number, rounds: number): Promise<PerturbPassResult> {
  const specs = tensorSpecs(SHAPES[shape]);
  const weights = (home: Home) =>
    specs.map((t, i) => {
      const n = t.hfShape.reduce((a, b) => a * b, 1);
      const d = home === 'shared' ? sharedFloat32Array(n) : new Float32Array(n);
      normalFill(d, 12345, i);
      for (let k = 0; k < d.length; k++) d[k] *= 0.02;
      return d;
    });
  const homes: [number, Home][] = threads === 1 ? [[1, 'plain']] : [[1, 'plain'], [threads, 'shared'], [threads, 'plain']];
  // the two streams share a runner's pool and weights
  const runners = homes.map(([t, home]) => ({
    pool: NoisePool.create(t), home, data: weights(home),
    move: [] as Sample[], update: [] as Sample[], move2: [] as Sample[], update2: [] as Sample[], keepOnly: [] as Sample[],
  }));
  const parameters = runners[0].data.reduce((a, d) => a + d.length, 0);
  let seed = 1;
  const move = (data: Float32Array[], stream: NoiseStream): ArrayNoiseUpdate[] => data.map((d, i) => ({ data: d, block: i, terms: [{ seed, coef: 1e-3 }], stream }));
  const update = (data: Float32Array[], stream: NoiseStream): ArrayNoiseUpdate[] =>
    data.map((d, i) => ({ data: d, block: i, terms: [{ seed, coef: -1e-4 }, { seed: seed + 1, coef: 1e-4 }], keep: 0.99999, stream }));
  const keepOnly = (data: Float32Array[]): ArrayNoiseUpdate[] => data.map((d, i) => ({ data: d, block: i, terms: [], keep: 0.99999 }));
  try {
    for (let r = 0; r <= rounds; r++) {
      for (const run of runners) {
        seed += 2;
        run.move.push(await timeOnce(() => run.pool.apply(move(run.data, 1))));
        run.move2.push(await timeOnce(() => run.pool.apply(move(run.data, 2))));
        run.update.push(await timeOnce(() => run.pool.apply(update(run.data, 1))));
        run.update2.push(await timeOnce(() => run.pool.apply(update(run.data, 2))));
        run.keepOnly.push(await timeOnce(() => run.pool.apply(keepOnly(run.data))));
      }
    }
  } finally {
    await Promise.all(runners.map((r) => r.pool.close()));
  }
  const timing = (run: (typeof runners)[number], kind: 'move' | 'update' | 'move2' | 'update2' | 'keepOnly', terms: number): PassTiming => {
    const t = run[kind].slice(1); // round 0 warms up
    const ms = Math.min(...t.map((x) => x.wall));
    const cpuMs = median(t.map((x) => x.cpu));
    return {
      threads: run.pool.threads,
      home: run.home,
      ms,
      passesPerSecond: 1000 / ms,
      samplesPerSecond: Math.round((parameters * terms * 1000) / ms),
      cpuMs,
      coresUsed: cpuMs / median(t.map((x) => x.wall)),
    };
  };
  const mv = runners.map((r) => timing(r, 'move', 1));
  const up = runners.map((r) => timing(r, 'update', 2));
  const mv2 = runners.map((r) => timing(r, 'move2', 1));
  const up2 = runners.map((r) => timing(r, 'update2', 2));
  const memoryOnly = runners.map((r) => timing(r, 'keepOnly', 0));
  const ratio = (ts: PassTiming[], i: number) => ts[Math.min(i, ts.length - 1)].passesPerSecond / ts[0].passesPerSecond;
  const over = (a: PassTiming[], b: PassTiming[]) => a.map((t, i) => t.passesPerSecond / b[i].passesPerSecond);
  const share = (ts: PassTiming[]) => ts.map((t, i) => 1 - memoryOnly[i].ms / t.ms);
  return {
    shape,
    blocks: specs.length,
    parameters,
    move: mv,
    update: up,
    moveSpeedup: ratio(mv, 1),
    updateSpeedup: ratio(up, 1),
    moveSpeedupPlain: ratio(mv, 2),
    updateSpeedupPlain: ratio(up, 2),
    stream2: { move: mv2, update: up2 },
    stream2Speedup: { move: over(mv2, mv), update: over(up2, up) },
    memoryOnly,
    generatorShare: { stream1: share(mv), stream2: share(mv2) },
    timing: `best wall time of ${rounds} rounds after a warm-up round (cpu: median); each round times every pass kind and stream on every runner in turn`,
  };
}

export async function benchNoise(
  n: number,
  repeat: number,
  backendPref = parseBackend(process.env.ZOTUNE_BACKEND, 'ZOTUNE_BACKEND'),
  pass: { shape: Shape; threads: number; rounds: number } = { shape: 'stories15M', threads: defaultThreads(), rounds: 5 },
): Promise<BenchNoiseResult> {
  const backend = await initBackend(backendPref);
  const say = (s: string) => process.stderr.write(`zotune bench noise: ${s}\n`);
  const out = new Float32Array(n);

  // Warm up well: V8 compiles the wasm kernel with its baseline tier first, the optimising one later.
  for (let i = 0; i < 20; i++) normalFill(out.subarray(0, Math.min(n, 1 << 18)), i, 0);
  const implementation = noiseImplementation();
  let seed = 1;
  // the two streams in alternation, call by call: the best of each
  let fast = Infinity;
  let fast2 = Infinity;
  for (let r = 0; r < repeat; r++) {
    fast = Math.min(fast, best(1, () => normalFill(out, seed++, 3, 0, 1)));
    fast2 = Math.min(fast2, best(1, () => normalFill(out, seed++, 3, 0, 2)));
  }
  say(`${implementation}: ${(n / fast / 1e6).toFixed(1)} M samples/s (stream 1), ${(n / fast2 / 1e6).toFixed(1)} M samples/s (stream 2): ${(fast / fast2).toFixed(2)}x`);

  useNoiseImplementation('js');
  const small = Math.min(n, 1 << 20); // the scalar paths are slow: time at most 2^20 samples
  const js = best(Math.min(repeat, 3), () => normalFill(out.subarray(0, small), seed++, 3));
  useNoiseImplementation('auto');
  const ref = best(Math.min(repeat, 3), () => normalFillRef(out.subarray(0, small), seed++, 3));
  const ref2 = best(Math.min(repeat, 3), () => normalFillRef(out.subarray(0, small), seed++, 3, 0, 2));
  say(`js fallback: ${(small / js / 1e6).toFixed(1)} M/s; reference: ${(small / ref / 1e6).toFixed(1)} M/s`);

  const tfr = best(repeat, () => tf.randomNormal([n], 0, 1, 'float32', seed++).dispose());
  say(`tf.randomNormal: ${(n / tfr / 1e6).toFixed(1)} M/s`);

  const v = tf.variable(tf.zeros([n]), true, `bench-noise-${Date.now()}`);
  try {
    const apply1 = best(repeat, () => applyNoise(v, 0, [{ seed: seed++, coef: 1e-3 }]));
    const apply2 = best(repeat, () => applyNoise(v, 0, [{ seed: seed++, coef: 1e-3 }, { seed: seed++, coef: -1e-3 }], { keep: 0.9999 }));
    await v.data(); // wait for the backend before the variable goes
    say(`applyNoise: ${((apply1 / n) * 1e9).toFixed(2)} ns/element (one term), ${((apply2 / n) * 1e9).toFixed(2)} (two terms + keep)`);
    const perturb = await benchPerturbPass(pass.shape, pass.threads, pass.rounds);
    say(`perturb pass (${pass.shape}, ${perturb.parameters} parameters), 1 → ${pass.threads} threads: move ${perturb.moveSpeedup.toFixed(2)}x shared, ${perturb.moveSpeedupPlain.toFixed(2)}x plain; update ${perturb.updateSpeedup.toFixed(2)}x, ${perturb.updateSpeedupPlain.toFixed(2)}x`);
    return {
      implementation,
      n,
      repeat,
      samplesPerSecond: Math.round(n / fast),
      nsPerSample: (fast / n) * 1e9,
      stream2SamplesPerSecond: Math.round(n / fast2),
      stream2NsPerSample: (fast2 / n) * 1e9,
      stream2Speedup: fast / fast2,
      stream2ReferenceJsSamplesPerSecond: Math.round(small / ref2),
      jsFallbackSamplesPerSecond: Math.round(small / js),
      referenceJsSamplesPerSecond: Math.round(small / ref),
      tfRandomNormalSamplesPerSecond: Math.round(n / tfr),
      applyNoiseNsPerElement: (apply1 / n) * 1e9,
      applyNoiseKeepTwoTermsNsPerElement: (apply2 / n) * 1e9,
      backend: backend.name,
      timing: `best of ${repeat} after a warm-up, one thread; the scalar paths on ${small} samples`,
      perturb,
    };
  } finally {
    v.dispose();
  }
}

function text(r: BenchNoiseResult): string {
  const m = (x: number) => `${(x / 1e6).toFixed(1)} M samples/s`;
  return [
    `noise (${r.implementation}, n ${r.n}): ${m(r.samplesPerSecond)} (${r.nsPerSample.toFixed(2)} ns/sample); stream 2 ${m(r.stream2SamplesPerSecond)} (${r.stream2NsPerSample.toFixed(2)} ns/sample, ${r.stream2Speedup.toFixed(2)}x)`,
    `  js fallback ${m(r.jsFallbackSamplesPerSecond)}, reference ${m(r.referenceJsSamplesPerSecond)}, tf.randomNormal ${m(r.tfRandomNormalSamplesPerSecond)}`,
    `  applyNoise on ${r.backend}: ${r.applyNoiseNsPerElement.toFixed(2)} ns/element (one term), ${r.applyNoiseKeepTwoTermsNsPerElement.toFixed(2)} (two terms and keep)`,
    `perturb pass over ${r.perturb.shape} (${r.perturb.blocks} blocks, ${(r.perturb.parameters / 1e6).toFixed(2)}M parameters):`,
    ...(['move', 'update'] as const).map(
      (k) =>
        `  ${k}: ${r.perturb[k].map((t) => `${t.threads} thread${t.threads > 1 ? `s ${t.home}` : ''} ${t.ms.toFixed(1)} ms (${m(t.samplesPerSecond)}, cpu ${t.cpuMs.toFixed(0)} ms, ${t.coresUsed.toFixed(2)} cores)`).join(', ')}; ` +
        `${(k === 'move' ? r.perturb.moveSpeedup : r.perturb.updateSpeedup).toFixed(2)}x shared, ${(k === 'move' ? r.perturb.moveSpeedupPlain : r.perturb.updateSpeedupPlain).toFixed(2)}x plain`,
    ),
    ...(['move', 'update'] as const).map(
      (k) => `  ${k}, stream 2: ${r.perturb.stream2[k].map((t, i) => `${t.ms.toFixed(1)} ms (${r.perturb.stream2Speedup[k][i].toFixed(2)}x stream 1)`).join(', ')}`,
    ),
    `  keep-only pass (no noise): ${r.perturb.memoryOnly.map((t) => `${t.ms.toFixed(1)} ms`).join(', ')}; generator share of a move: stream 1 ${r.perturb.generatorShare.stream1.map((x) => x.toFixed(2)).join(', ')}, stream 2 ${r.perturb.generatorShare.stream2.map((x) => x.toFixed(2)).join(', ')}`,
  ].join('\n');
}

/** The run and text of `zotune bench noise` (declared in commands.ts). */
export const benchNoiseCommand: BenchCommand<BenchNoiseFlags, BenchNoiseResult> = {
  run: (flags) => {
    const n = parseNumber('--n', flags.n, { int: true, min: 1, max: 2 ** 28 });
    const repeat = parseNumber('--repeat', flags.repeat, { int: true, min: 1, max: 1000 });
    const threads = flags.threads === undefined ? defaultThreads() : parseNumber('--threads', flags.threads, { int: true, min: 1, max: 256 });
    const rounds = parseNumber('--rounds', flags.rounds, { int: true, min: 1, max: 1000 });
    if (!(flags.shape in SHAPES)) throw new UserError(`--shape must be one of ${Object.keys(SHAPES).join(', ')}, got ${flags.shape}`, 2);
    return benchNoise(n, repeat, backendFlag(flags.backend), { shape: flags.shape as Shape, threads, rounds });
  },
  text,
};
