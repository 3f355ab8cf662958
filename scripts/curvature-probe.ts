// How reproducible is the curvature feature κ (the `curvature` feature set's sixth input)? Probes the
// pretrained model several times: the same batch with other probe seeds (the directions' noise), and
// other tasks (a different batch). Prints, per pair, Pearson and Spearman correlation of κ over the
// blocks and how many blocks sit at the floor. Usage (tfjs engine; ~190 forward passes a probe):
//   node --conditions=@zotune/source --import tsx scripts/curvature-probe.ts [--model M] [--tasks a,b] [--seeds 0,1] [--probes P] [--json]
// (docs/results/meta-training.md, curvature-aware features.)
import { resolveDataDir } from '@zotune/data';
import { lossAt } from '@zotune/meta';
import { createTfjsModel, resolveModel } from '@zotune/models';
import { DEFAULT_CURVATURE_PROBE, probeCurvature } from '@zotune/policy';
import { Collator, objectiveFor, resolveTask } from '@zotune/tasks';
import { initBackend } from '@zotune/tensor';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
};
const modelName = arg('--model', 'stories260K');
const tasks = arg('--tasks', 'story-name,story-order').split(',');
const seeds = arg('--seeds', '0,1').split(',').map(Number);
const probes = Number(arg('--probes', String(DEFAULT_CURVATURE_PROBE.probes)));
if (!(Number.isInteger(probes) && probes >= 1) || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
  process.stderr.write('curvature-probe: --probes must be an integer >= 1 and --seeds non-negative integers\n');
  process.exit(2);
}

const rank = (v: number[]) => {
  const r = new Array<number>(v.length);
  v.map((_, i) => i).sort((p, q) => v[p] - v[q]).forEach((i, j) => (r[i] = j));
  return r;
};
const pearson = (a: number[], b: number[]) => {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
};

try {
  await initBackend('wasm', { quiet: true });
  const dataDir = resolveDataDir();
  const resolved = resolveModel(modelName, dataDir);
  const model = createTfjsModel(resolved.checkpoint);
  const probe = { ...DEFAULT_CURVATURE_PROBE, probes };
  const kappas: { label: string; kappa: number[]; raw: number[]; floored: number }[] = [];
  for (const t of tasks) {
    const task = resolveTask(t);
    const train = task.splits(dataDir, 0).train;
    const collator = new Collator(task, resolved.tokenizer, resolved.checkpoint.config.maxSeqLen);
    const batch = collator.batch(train.slice(0, probe.examples), { goldOnly: task.kind === 'generation-lm' });
    for (const seed of seeds) {
      const m = await probeCurvature(model.blocks, () => lossAt(model, objectiveFor(task.kind), batch), { ...probe, seed });
      const min = Math.min(...m.kappa);
      kappas.push({ label: `${task.name} seed ${seed}`, kappa: m.kappa, raw: m.raw, floored: m.kappa.filter((k) => k === min).length });
    }
  }
  const rows = [];
  for (let i = 0; i < kappas.length; i++)
    for (let j = i + 1; j < kappas.length; j++)
      rows.push({ a: kappas[i].label, b: kappas[j].label, pearson: pearson(kappas[i].kappa, kappas[j].kappa), spearman: pearson(rank(kappas[i].kappa), rank(kappas[j].kappa)) });
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ model: modelName, probe, probes: kappas, pairs: rows }) + '\n');
  else {
    for (const k of kappas) process.stdout.write(`${k.label}: κ ${Math.min(...k.kappa).toFixed(2)} … ${Math.max(...k.kappa).toFixed(2)}, ${k.floored} of ${k.kappa.length} blocks at the floor\n`);
    for (const r of rows) process.stdout.write(`${r.a} vs ${r.b}: Pearson ${r.pearson.toFixed(2)}, Spearman ${r.spearman.toFixed(2)}\n`);
  }
  model.dispose();
} catch (e) {
  process.stderr.write(`curvature-probe: ${(e as Error).message}\n`);
  process.exit(1);
}
