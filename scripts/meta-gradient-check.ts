// The forward-only (SPSA, ORT) meta-gradient against the exact one (tfjs backward) on stories260K, before
// it is trusted at 135M (issue 23). Each case is one planned meta step of the default meta-training run
// (`zotune meta-train --tasks sst2,copa`: its batch, noise seed, starting policy ω and initial feature
// state), evaluated on both engines at the same ω, batch and seeds; per K and space, the mean (and the
// worst case) of the cosine and sign agreement with the exact ∇_ω, and for the sigma space of dMeta/dσ.
// Writes the table (with this command) to --out-md. Usage:
//   node --conditions=@zotune/source --import tsx scripts/meta-gradient-check.ts [--model stories260K] [--tasks sst2,copa]
//     [--cases 8] [--directions 1,4,16,64] [--spaces sigma,omega] [--scale 0.05] [--meta-lr 1e-4,1e-3]
//     [--out-md docs/results/meta-gradient-check.md] [--json]
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '@zotune/io';
import { resolveDataDir } from '@zotune/data';
import { checkMetaGradient, loadMetaTask, parseMetaConfig, plannedCases, type MetaGradientCheckRow, type SpsaSpace } from '@zotune/meta';
import { createTfjsModel, resolveModel } from '@zotune/models';
import { loadOrt } from '@zotune/ort';
import { INITIAL_FEATURE_STATE } from '@zotune/policy';
import { initBackend } from '@zotune/tensor';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const fail = (msg: string): never => {
  process.stderr.write(`meta-gradient-check: ${msg}\n`);
  process.exit(2);
};
const list = (name: string, dflt: string) => arg(name, dflt).split(',').map((s) => s.trim()).filter(Boolean);
const nums = (name: string, dflt: string, ok: (n: number) => boolean, what: string) =>
  list(name, dflt).map((s) => (ok(Number(s)) ? Number(s) : fail(`${name}: expected ${what}, got "${s}"`)));

const modelName = arg('--model', 'stories260K');
const tasks = list('--tasks', 'sst2,copa');
const cases = nums('--cases', '8', (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1')[0];
const directions = nums('--directions', '1,4,16,64', (n) => Number.isInteger(n) && n >= 1, 'integers >= 1');
const spaces = list('--spaces', 'sigma,omega').map((s) => (s === 'sigma' || s === 'omega' ? (s as SpsaSpace) : fail(`--spaces: expected sigma or omega, got "${s}"`)));
const scale = nums('--scale', '0.05', (n) => n > 0, 'a number > 0')[0];
const metaLrs = nums('--meta-lr', '1e-4,1e-3', (n) => n > 0, 'numbers > 0');
const outMd = arg('--out-md', '');

await initBackend('wasm', { quiet: true });
const dataDir = resolveDataDir();
const resolved = resolveModel(modelName, dataDir);
const model = createTfjsModel(resolved.checkpoint);
const host = await (await loadOrt()).createOrtModel(resolved.checkpoint, { threads: 1 });
const config = parseMetaConfig({});
const metaTasks = tasks.map((t) => loadMetaTask(t, { dataDir, dataSeed: config.dataSeed, tokenizer: resolved.tokenizer, maxSeqLen: resolved.checkpoint.config.maxSeqLen }).task);
const setup = plannedCases(config, metaTasks, host.blocks.map((b) => b.name), cases);
const policy = setup.policy;
interface Agg { metaLr: number; space: SpsaSpace; directions: number; rows: MetaGradientCheckRow[] }
const aggs = new Map<string, Agg>();
const engines: { metaLr: number; step: number; task: string; metaLossExact: number; metaLossHost: number; projectedGradExact: number; projectedGradHost: number }[] = [];
const t0 = performance.now();
for (const metaLr of metaLrs) {
  for (const c of setup.cases) {
    for (const space of spaces) {
      const r = await checkMetaGradient({
        model, host, policy, objective: c.objective, batch: c.batch, features: INITIAL_FEATURE_STATE, seed: c.seed, eps: config.eps, metaLr, directions, scale, space,
      });
      if (space === spaces[0]) engines.push({ metaLr, step: c.step, task: c.task, metaLossExact: r.metaLossExact, metaLossHost: r.metaLossHost, projectedGradExact: r.projectedGradExact, projectedGradHost: r.projectedGradHost });
      for (const row of r.rows) {
        const key = `${metaLr}|${space}|${row.directions}`;
        const a = aggs.get(key) ?? { metaLr, space, directions: row.directions, rows: [] };
        a.rows.push(row);
        aggs.set(key, a);
      }
    }
  }
}
const seconds = (performance.now() - t0) / 1000;
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const table = [...aggs.values()].map((a) => ({
  metaLr: a.metaLr, space: a.space, directions: a.directions,
  cosineMean: mean(a.rows.map((r) => r.cosine)), cosineMin: Math.min(...a.rows.map((r) => r.cosine)),
  signMean: mean(a.rows.map((r) => r.signAgreement)),
  ...(a.space === 'sigma' ? { cosineSigmaMean: mean(a.rows.map((r) => r.cosineSigma!)), signSigmaMean: mean(a.rows.map((r) => r.signAgreementSigma!)) } : {}),
  forwardPasses: a.rows[0].forwardPasses,
}));
const command = `node --conditions=@zotune/source --import tsx scripts/meta-gradient-check.ts ${argv.filter((a) => a !== '--json').join(' ')}`.trim();
const result = { model: modelName, tasks, cases, scale, seconds: Math.round(seconds * 10) / 10, command, table, engines };
if (argv.includes('--json')) process.stdout.write(JSON.stringify(result) + '\n');
const f = (x: number) => x.toFixed(3);
const md = [
  `| look-ahead η | space | K | forward passes | cosine ∇_ω: mean (worst of ${cases}) | sign agreement ∇_ω | cosine dMeta/dσ | sign agreement dMeta/dσ |`,
  '|---:|---|---:|---:|---:|---:|---:|---:|',
  ...table.map((r) =>
    `| ${r.metaLr} | ${r.space} | ${r.directions} | ${r.forwardPasses} | ${f(r.cosineMean)} (${f(r.cosineMin)}) | ${f(r.signMean)} | ${r.cosineSigmaMean !== undefined ? f(r.cosineSigmaMean) : '–'} | ${r.signSigmaMean !== undefined ? f(r.signSigmaMean) : '–'} |`),
].join('\n');
process.stderr.write(`${md}\n(${cases} cases, ${seconds.toFixed(1)} s)\n`);
// the table goes between the file's markers (the prose around it is kept), or makes a new file
if (outMd) {
  const START = '<!-- meta-gradient-check:start -->';
  const END = '<!-- meta-gradient-check:end -->';
  const block = `${START}\n\`\`\`sh\n${command}   # ${cases} cases, ${result.seconds} s\n\`\`\`\n\n${md}\n${END}`;
  const old = existsSync(outMd) ? readFileSync(outMd, 'utf8') : '';
  const i = old.indexOf(START);
  const j = old.indexOf(END);
  writeFileAtomic(outMd, i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + END.length) : `${old}${old ? '\n' : ''}${block}\n`);
}
await host.dispose();
model.dispose();
