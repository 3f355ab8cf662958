// Issue 23's remaining stages, one after another, by their fixed rules (docs/results/smollm2-evidence.md, the
// second and third amendments): stage 3's sweep, its rule, stage 4, the shipping rule, the lr scan. Nothing in between is chosen by hand, so
// the comparison stays blind until it has run; every step resumes, so the same command continues it in a
// later session.
// usage: node scripts/smollm2/pipeline.mjs --out DIR      (run from the checkout whose zotune runs the sweeps)
//   DIR/smollm2-stage3, DIR/smollm2-stage4, DIR/smollm2-scan: the sweeps' directories; DIR/stage3-tuned.json:
//   stage 3's rule (stage3.mjs --json); DIR/ship.json: the shipping rule (ship.mjs --json); stage 4's and the
//   scan's specs are written to configs/sweeps/.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** the protocol's settings, as fixed by stages 0L-2 and the meta-training run */
const PROTOCOL = {
  task: 'sst2', // stage 3's task: the held-out task with the fewest tokens
  tasks: 'sst2,mr', // stage 4's held-out tasks, SST-2 first
  lr: '1e-3', // lrᴸ (stage 0L)
  budget: '2000', // F (stage 2)
  policy: 'smollm2-135m/default', // the meta-trained policy
  control: 'docs/results/smollm2/policy-init/policy.zpol', // the untrained control (--lr-mlp 0)
  threads: '1', // two runs at once
};

const fail = (line) => {
  console.error(`pipeline: ${line}`);
  process.exit(1);
};
const args = process.argv.slice(2);
if (args[0] !== '--out' || args[1] === undefined || args.length !== 2) fail('usage: node scripts/smollm2/pipeline.mjs --out DIR');
const out = args[1];
const here = import.meta.dirname;

/** a step of the pipeline: its output goes to ours; a non-zero exit stops the pipeline with one line */
const step = (what, cmd, cmdArgs) => {
  console.log(`pipeline: ${what}: ${[cmd, ...cmdArgs].join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit' });
  if (r.status !== 0) fail(`${what} exited with ${r.status ?? r.signal}; fix it and rerun this command (it resumes)`);
};
const script = (name, scriptArgs) => step(name, process.execPath, [join(here, name), ...scriptArgs]);
const sweep = (name, spec) => step(`${name}'s sweep`, 'npx', ['zotune', 'sweep', spec, '--out', join(out, name)]);
const runsOf = (name) => readdirSync(join(out, name, 'runs')).map((r) => join(out, name, 'runs', r));

// stage 3 and its rule
sweep('smollm2-stage3', 'configs/sweeps/smollm2-stage3.json');
const tunedFile = join(out, 'stage3-tuned.json');
rmSync(tunedFile, { force: true });
script('stage3.mjs', ['--json', tunedFile, ...runsOf('smollm2-stage3')]);
if (!existsSync(tunedFile)) fail(`stage 3's rule wrote no ${tunedFile}: some runs are unfinished`);
const { arms, scanArm } = JSON.parse(readFileSync(tunedFile, 'utf8'));
for (const arm of ['MeZO', 'MeZO + policy', 'guided', 'guided + policy']) if (!arms[arm]) fail(`stage 3 tuned no setting for ${arm}: every one of its runs diverged`);

const p = PROTOCOL;

// stage 4: the four arms at their tuned settings and the untrained control
const guided = (arm) => `${arms[arm].method.match(/guided([48])/)[1]}:${arms[arm].lr}`;
script('stage4.mjs', [
  '--spec', 'configs/sweeps/smollm2-stage4.json', '--tasks', p.tasks, '--budget', p.budget, '--policy', p.policy, '--control', p.control,
  '--mezo', String(arms.MeZO.lr), '--mezo-policy', String(arms['MeZO + policy'].lr), '--guided', guided('guided'), '--guided-policy', guided('guided + policy'), '--threads', p.threads,
]);
sweep('smollm2-stage4', 'configs/sweeps/smollm2-stage4.json');
// the shipping rule on stage 4's runs (DIR/ship.json)
script('ship.mjs', ['--tasks', p.tasks, '--json', join(out, 'ship.json'), ...runsOf('smollm2-stage4')]);

// the lr scan, after the decisive comparison (the third amendment): MeZO and the best arm at lrᴸ/10 and 10·lrᴸ
script('scan.mjs', ['--spec', 'configs/sweeps/smollm2-scan.json', '--task', p.task, '--lr', p.lr, '--budget', p.budget, '--arm', arms[scanArm].method, '--policy', p.policy, '--seeds', '0', '--threads', p.threads]);
sweep('smollm2-scan', 'configs/sweeps/smollm2-scan.json');
console.log(`pipeline: done; the comparison: npx zotune sweep report ${join(out, 'smollm2-stage4')} --markdown; the rule: ${join(out, 'ship.json')}`);
