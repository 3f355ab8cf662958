// A user's program, in plain Node ESM, against the packed @zotune packages installed from their
// tarballs (tests/packages.test.ts runs it in a project outside the repository): the runs as a
// library. stories260K learns SST-2 with MeZO on the default engine (auto: ONNX Runtime) for four
// steps with progress events; the same run stopped by an AbortSignal after step 2 and resumed; the
// best checkpoint evaluated again; the run directory read back; three meta-training steps. One JSON
// line out (what the test compares: the resumed run's final weights against the uninterrupted run's,
// the re-evaluation against the run's own test accuracy, the files against what the calls returned).
//   node run.mjs DATA_DIR
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate, finetune, FinetuneAbortError, resumeFinetune } from '@zotune/finetune';
import { metaTrain } from '@zotune/meta';
import { loadRun } from '@zotune/report';

const [dataDir] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: node run.mjs DATA_DIR');
process.env.ZOTUNE_DATA = dataDir; // where finetune(), evaluate() and metaTrain() find the model and the task, as the CLI
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const config = { task: 'sst2', steps: 4, evalEvery: 2, evalN: 32, testN: 48, saveFinal: true };

// the whole run, every metrics line as it is written
const events = [];
const whole = await finetune(config, { dir: 'runs/whole', onProgress: (e) => events.push({ event: e.event, step: e.step, steps: e.steps }) });

// the same run, stopped after step 2, then resumed
const stop = new AbortController();
let aborted;
try {
  await finetune(config, { dir: 'runs/stopped', signal: stop.signal, onProgress: (e) => e.event === 'step' && e.step === 2 && stop.abort() });
} catch (e) {
  if (!(e instanceof FinetuneAbortError)) throw e;
  aborted = { name: e.name, step: e.step, steps: e.steps, message: e.message };
}
const resumed = await resumeFinetune('runs/stopped');

// the best checkpoint on the run's task, as `zotune eval --run` does
const evaluated = await evaluate({ run: whole.runDir, n: 48 });

// the run directory, read back
const run = loadRun(whole.runDir);
const summaryFile = JSON.parse(readFileSync(join(whole.runDir, 'summary.json'), 'utf8'));

// the policy's meta-training, three steps
const meta = await metaTrain({ model: 'stories260K', tasks: ['story-name'], meta: { epochs: 1, batch: 4, maxSteps: 3, trainExamples: 12 } }, { dir: 'runs/meta' });

process.stdout.write(
  JSON.stringify({
    whole: { steps: whole.steps, forwardPasses: whole.forwardPasses, testAcc: whole.testAcc, engine: whole.engine.name, runDir: whole.runDir },
    events,
    aborted,
    resumed: { resumedAt: resumed.resumedAt, steps: resumed.steps, testAcc: resumed.testAcc },
    finalWeights: { whole: sha256(join(whole.runDir, 'final.safetensors')), resumed: sha256(join(resumed.runDir, 'final.safetensors')) },
    evaluated: { accuracy: evaluated.accuracy, n: evaluated.n, task: evaluated.task },
    read: { metrics: run.metrics.map((m) => ({ event: m.event, step: m.step })), config: { task: run.config.task, steps: run.config.steps, engine: run.config.engine }, summarySame: JSON.stringify(summaryFile) === JSON.stringify(whole) },
    meta: { steps: meta.steps, digest: meta.digest, fileDigest: `sha256:${sha256(meta.artifact)}`, artifact: meta.artifact },
  }) + '\n',
);
