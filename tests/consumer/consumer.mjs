// A user's program, in plain Node ESM, against the packed @zotune packages installed from their
// tarballs (tests/packages.test.ts runs it in a project outside the repository). It loads stories260K,
// publishes the shipped policy into a fresh local registry and reads it back, runs three guided ZO
// steps with it, then one step of a custom estimator written against StepContext. One JSON line out.
//   node consumer.mjs DATA_DIR SHIPPED_REGISTRY_DIR NEW_REGISTRY_DIR
import { initBackend } from '@zotune/tensor';
import { checkpointDigest, createTfjsModel, resolveModel } from '@zotune/models';
import { Collator, objectiveFor, resolveTask } from '@zotune/tasks';
import { Perturber, StepContext, applyUpdate, candidateSeed, createEstimator, lossValueOf, stepSeed } from '@zotune/zo';
import { modelFingerprint, policyFromArtifact, policyScale } from '@zotune/policy';
import { loadPolicy, openRegistry, parseRef } from '@zotune/registry';

const [dataDir, shippedDir, registryDir] = process.argv.slice(2);
const backend = await initBackend('wasm', { quiet: true });

// the model and the task (SST-2), from the data directory
const { checkpoint, tokenizer } = resolveModel('stories260K', dataDir);
const model = createTfjsModel(checkpoint);
const task = resolveTask('sst2');
const { train } = task.splits(dataDir, 0);
const collator = new Collator(task, tokenizer, checkpoint.config.maxSeqLen);
const objective = objectiveFor(task.kind);

// the shipped policy, published into a new local registry with the registry client, and read back
const shipped = await loadPolicy('stories260K/default:latest', { registry: shippedDir });
const registry = openRegistry(registryDir);
const published = await registry.publish(parseRef('stories260K/mine:v1'), shipped.bytes);
const mine = await loadPolicy('stories260K/mine:v1', { registry });
const fingerprint = modelFingerprint(model, checkpointDigest(checkpoint), 'stories260K');
const scale = policyScale(policyFromArtifact(mine.artifact, model, fingerprint));

// three guided steps with the policy
const before = (await model.blocks[1].variable.data())[0];
const est = createEstimator({ name: 'guided', candidates: 4, eps: 1e-3, lr: 1e-4 });
const steps = [];
let prev;
for (let step = 0; step < 3; step++) {
  const batch = collator.batch(train.slice(step * 8, step * 8 + 8));
  const record = await est.step({ blocks: model.blocks, step, seed: stepSeed(0, step), lossValue: lossValueOf(() => objective(model, batch)), scale, prev, batch: batch.packed });
  await est.update(model.blocks, record);
  steps.push({ lossPlus: record.lossPlus, lossMinus: record.lossMinus, projectedGrad: record.projectedGrad, forwardPasses: record.forwardPasses, sigmaBlocks: record.sigma?.length ?? 0 });
  prev = record;
}
est.dispose();
const after = (await model.blocks[1].variable.data())[0];

// a custom estimator through StepContext: the better of two one-sided candidates, then a two-point probe along it
const batch = collator.batch(train.slice(24, 32));
const seed = stepSeed(0, 3);
const ctx = new StepContext(model.blocks, null, 1e-3, new Perturber(), lossValueOf(() => objective(model, batch)));
const l0 = await ctx.oneSided(candidateSeed(seed, 0));
const l1 = await ctx.oneSided(candidateSeed(seed, 1));
await ctx.probe(l0 <= l1 ? [1, 0] : [0, 1]);
await ctx.restore();
const custom = ctx.record(3, seed, 'better-of-two');
await applyUpdate(model.blocks, custom, { lr: 1e-4 });

process.stdout.write(
  JSON.stringify({
    backend,
    shippedDigest: shipped.digest,
    publishedDigest: published.digest,
    readBackDigest: mine.digest,
    refs: (await registry.list()).map((p) => p.ref),
    steps,
    weightMoved: after !== before,
    custom: { forwardPasses: custom.forwardPasses, candidates: custom.candidates.length, projectedGrad: custom.projectedGrad },
  }) + '\n',
);
