// A user's TypeScript program against the packed @zotune packages: the run as a library, typed. The
// SST-2 fine-tune of stories260K on the tfjs engine (the JavaScript consumer, run.mjs, takes the
// default, ONNX Runtime), stopped by an AbortSignal from its progress events after step 2 and resumed
// to step 4; its best checkpoint evaluated on the test split and on dev; its run directory read back.
// tests/consumer-types.test.ts typechecks it under NodeNext, Node16 and Bundler without skipLibCheck;
// tests/packages.test.ts compiles it (NodeNext) in a project outside the repository and runs it.
//   node run.js DATA_DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate, finetune, FinetuneAbortError, resumeFinetune, type EvalReport, type FinetuneEvent, type FinetuneInput, type FinetuneSummary } from '@zotune/finetune';
import { loadRun, type LoadedRun } from '@zotune/report';

const [dataDir] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: node run.js DATA_DIR');
process.env.ZOTUNE_DATA = dataDir;

const config: FinetuneInput = { task: 'sst2', steps: 4, evalEvery: 2, evalN: 32, testN: 48, engine: 'tfjs', backend: 'wasm' };
const stop = new AbortController();
const seen: Pick<FinetuneEvent, 'event' | 'step' | 'steps'>[] = [];
const onProgress = (e: FinetuneEvent): void => {
  seen.push({ event: e.event, step: e.step, steps: e.steps });
  if (e.event === 'step' && e.step === 2) stop.abort();
};
let abortedAt: number | null = null;
try {
  await finetune(config, { dir: 'runs/ts', signal: stop.signal, onProgress });
} catch (e) {
  if (!(e instanceof FinetuneAbortError)) throw e;
  abortedAt = e.step;
}
const summary: FinetuneSummary = await resumeFinetune('runs/ts', { onProgress });

const test: EvalReport = await evaluate({ run: 'runs/ts', n: 48 });
const dev: EvalReport = await evaluate({ run: 'runs/ts', split: 'dev', n: 32 });
const run: LoadedRun = loadRun('runs/ts');
const onDisk = JSON.parse(readFileSync(join(summary.runDir, 'summary.json'), 'utf8')) as FinetuneSummary;

process.stdout.write(
  JSON.stringify({
    abortedAt,
    resumedAt: summary.resumedAt,
    engine: summary.engine.name,
    backend: summary.backend,
    testAcc: summary.testAcc,
    bestDevAcc: summary.bestDevAcc,
    evaluated: { test: test.accuracy, dev: dev.accuracy, n: test.n },
    seen,
    metrics: run.metrics.map((m) => ({ event: m.event, step: m.step })),
    onDisk: { steps: onDisk.steps, testAcc: onDisk.testAcc, resumedAt: onDisk.resumedAt },
  }) + '\n',
);
