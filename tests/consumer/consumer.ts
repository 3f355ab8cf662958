// A user's TypeScript program against the packed @zotune packages, the flow the Library API promises:
// stories260K from the data directory, a few dev examples evaluated, a few MeZO steps, the shipped
// policy published into a new local registry and loaded back by reference. tests/consumer-types.test.ts
// typechecks it under NodeNext, Node16 and Bundler resolution without skipLibCheck; tests/packages.test.ts
// compiles it (NodeNext) in a project outside the repository and runs it. One JSON line out.
//   node consumer.js DATA_DIR SHIPPED_REGISTRY_DIR NEW_REGISTRY_DIR
import { initBackend, type BackendChoice } from '@zotune/tensor';
import { checkpointDigest, createTfjsModel, resolveModel } from '@zotune/models';
import { Collator, evaluate, objectiveFor, resolveTask, type EvalResult } from '@zotune/tasks';
import { createEstimator, lossValueOf, stepSeed, type StepRecord } from '@zotune/zo';
import { modelFingerprint, policyFromArtifact, policyScale } from '@zotune/policy';
import { loadPolicy, openRegistry, parseRef } from '@zotune/registry';

const [dataDir, shippedDir, registryDir] = process.argv.slice(2);
if (!dataDir || !shippedDir || !registryDir) throw new Error('usage: node consumer.js DATA_DIR SHIPPED_REGISTRY_DIR NEW_REGISTRY_DIR');
const backend: BackendChoice = await initBackend('wasm', { quiet: true });

const { checkpoint, tokenizer } = resolveModel('stories260K', dataDir);
const model = createTfjsModel(checkpoint);
const task = resolveTask('sst2');
const { train, dev } = task.splits(dataDir, 0);
const collator = new Collator(task, tokenizer, checkpoint.config.maxSeqLen);
const objective = objectiveFor(task.kind);
const zeroShot: EvalResult = await evaluate(model, collator, dev.slice(0, 16));

// the shipped policy, published into a new registry and loaded back by reference
const shipped = await loadPolicy('stories260K/default:latest', { registry: shippedDir });
const registry = openRegistry(registryDir);
await registry.publish(parseRef('stories260K/mine:v1'), shipped.bytes);
const { artifact, digest } = await loadPolicy('stories260K/mine:v1', { registry });
const scale = policyScale(policyFromArtifact(artifact, model, modelFingerprint(model, checkpointDigest(checkpoint), 'stories260K')));

const est = createEstimator({ name: 'mezo', eps: 1e-3, lr: 1e-4 });
const steps: { lossPlus: number; lossMinus: number; forwardPasses: number }[] = [];
let prev: StepRecord | undefined;
for (let step = 0; step < 3; step++) {
  const batch = collator.batch(train.slice(step * 8, step * 8 + 8));
  const record: StepRecord = await est.step({ blocks: model.blocks, step, seed: stepSeed(0, step), scale, prev, batch: batch.packed, lossValue: lossValueOf(() => objective(model, batch)) });
  await est.update(model.blocks, record);
  steps.push({ lossPlus: record.lossPlus, lossMinus: record.lossMinus, forwardPasses: record.forwardPasses });
  prev = record;
}
est.dispose();
model.dispose();

process.stdout.write(JSON.stringify({ backend: backend.name, accuracy: zeroShot.accuracy, evaluated: zeroShot.n, digest, shippedDigest: shipped.digest, steps }) + '\n');
