// What a LoRA policy does at the start of a run: each adapter block's σ·nf (what the estimator perturbs with)
// at the adapter's initial weights (A ~ N(0, 1/(3·in)), B = 0: libs/peft) and the initial feature state
// (L± = 0, σ = 1), then after T steps at a constant loss L, feeding each step's σ·nf back as the feature the
// policy reads (B still 0: the allocation before the adapter has moved). Usage:
//   node --conditions=@zotune/source --import tsx scripts/policy-sigma.ts POLICY.zpol [--loss 0.69] [--steps 20] [--json]
// (docs/results/smollm2-evidence.md, the meta-training section.)
import { readPolicyArtifactFile } from '@zotune/artifacts';
import type { Model } from '@zotune/models';
import { INITIAL_FEATURE_STATE, nextFeatureState, normFactor, policyFeatures, policyFromArtifact, sizeFactors } from '@zotune/policy';

const args = process.argv.slice(2);
const json = args.includes('--json');
const rest = args.filter((a) => a !== '--json');
const file = rest.shift();
const opt = (name: string, fallback: number) => {
  const i = rest.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(rest[i + 1]);
  if (!Number.isFinite(v) || v < 0) fail(`--${name}: expected a non-negative number, got ${rest[i + 1]}`);
  return v;
};
function fail(line: string): never {
  process.stderr.write(`policy-sigma: ${line}\n`);
  process.exit(2);
}
if (!file) fail('usage: policy-sigma.ts POLICY.zpol [--loss L] [--steps T] [--json]');
const loss = opt('loss', 0.69);
const steps = opt('steps', 20);

let artifact;
try {
  artifact = readPolicyArtifactFile(file);
} catch (e) {
  fail(`${file}: ${(e as Error).message.split('\n')[0]}`);
}
const blocks = artifact.fingerprint.blocks.map((b, index) => ({ ...b, index, size: b.shape.reduce((a, n) => a * n, 1) }));
const lora = (name: string) => /\.lora_([AB])\.weight$/.exec(name)?.[1];
const bad = blocks.find((b) => !lora(b.name));
if (bad) fail(`${file}: block ${bad.name} is not a LoRA adapter block; this reads LoRA policies only (meta-train --peft lora)`);
const net = policyFromArtifact(artifact, { blocks: blocks as unknown as Model['blocks'] }, artifact.fingerprint);
// the adapter's initial statistics: A [in, r] ~ N(0, 1/(3·in)); B = 0
const stats = blocks.map((b) => (lora(b.name) === 'A' ? { mean: 0, variance: 1 / (3 * b.shape[0]) } : { mean: 0, variance: 0 }));
const f = sizeFactors(blocks);

const evaluate = (state: typeof INITIAL_FEATURE_STATE) => {
  const sigma = net.sigma(policyFeatures(stats, state));
  const nf = normFactor(sigma, f);
  return { sigma, effective: Array.from(sigma, (s) => s * nf) };
};
const first = evaluate(INITIAL_FEATURE_STATE);
let state = nextFeatureState(loss, loss, first.effective);
let last = first;
for (let t = 1; t < steps; t++) {
  last = evaluate(state);
  state = nextFeatureState(loss, loss, last.effective);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const of = (eff: number[], kind: string) => eff.filter((_, j) => lora(blocks[j].name) === kind);
const summary = (e: ReturnType<typeof evaluate>) => ({
  meanSigma: mean(Array.from(e.sigma)),
  minEffSigma: Math.min(...e.effective),
  maxEffSigma: Math.max(...e.effective),
  meanEffA: mean(of(e.effective, 'A')),
  meanEffB: mean(of(e.effective, 'B')),
});
// per layer and module: layers.N.self_attn.{q,v}_proj.lora_{A,B}
const table = (eff: number[]) => {
  const rows = new Map<number, Record<string, number>>();
  blocks.forEach((b, j) => {
    const m = /layers\.(\d+)\..*\.(q_proj|v_proj|k_proj|o_proj|gate_proj|up_proj|down_proj)\.lora_([AB])/.exec(b.name);
    if (!m) return;
    const row = rows.get(Number(m[1])) ?? {};
    row[`${m[2].replace('_proj', '')}.${m[3]}`] = eff[j];
    rows.set(Number(m[1]), row);
  });
  return [...rows.entries()].sort((a, b) => a[0] - b[0]);
};
const result = { policy: file, loss, steps, first: summary(first), after: summary(last), perLayerFirst: table(first.effective), perLayerAfter: table(last.effective) };
if (json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const fmt = (x: number) => x.toPrecision(3);
  for (const [when, s] of [['step 1', result.first], [`step ${steps} (L± = ${loss})`, result.after]] as const)
    console.log(`${when}: σ·nf ${fmt(s.minEffSigma)} … ${fmt(s.maxEffSigma)}; mean over A blocks ${fmt(s.meanEffA)}, over B blocks ${fmt(s.meanEffB)}; mean raw σ ${fmt(s.meanSigma)}`);
  const cols = Object.keys(result.perLayerAfter[0]?.[1] ?? {}).sort();
  console.log(`\n| layer | ${cols.map((c) => `${c} (step 1 → ${steps})`).join(' | ')} |`);
  console.log(`|---:|${cols.map(() => '---|').join('')}`);
  result.perLayerFirst.forEach(([layer, row], i) => {
    const after = result.perLayerAfter[i][1];
    console.log(`| ${layer} | ${cols.map((c) => `${fmt(row[c])} → ${fmt(after[c])}`).join(' | ')} |`);
  });
}
