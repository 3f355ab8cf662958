// The cases of the meta-gradient check (scripts/meta-gradient-check.ts and tests/meta-gradient-check.test.ts):
// the first planned meta steps of the default meta-training run on the given tasks — each step's batch,
// noise seed and objective — with the run's starting policy ω, and the model twice: on tfjs (the exact
// meta-gradient) and on ONNX Runtime (the forward-only one), from the same checkpoint.
import { resolveDataDir } from '@zotune/data';
import { MetaPlan, parseMetaConfig, type MetaConfig } from '@zotune/meta';
import { createLlama, resolveModel, type HostModel, type Model } from '@zotune/models';
import { loadOrt } from '@zotune/ort';
import { initPertNN, type PertNN } from '@zotune/policy';
import { Collator, objectiveFor, resolveTask, type Objective, type TaskBatch } from '@zotune/tasks';
import { initBackend } from '@zotune/tensor';

export interface GradientCheckCase {
  step: number;
  task: string;
  batch: TaskBatch;
  objective: Objective;
  seed: number;
}

export interface GradientCheckSetup {
  model: Model;
  host: HostModel;
  policy: PertNN;
  config: MetaConfig;
  cases: GradientCheckCase[];
  dispose(): Promise<void>;
}

export async function gradientCheckSetup(o: { model: string; tasks: readonly string[]; cases: number }): Promise<GradientCheckSetup> {
  await initBackend('wasm', { quiet: true });
  const dataDir = resolveDataDir();
  const resolved = resolveModel(o.model, dataDir);
  const model = createLlama(resolved.checkpoint);
  const host = await (await loadOrt()).createOrtLlama(resolved.checkpoint, { threads: 1 });
  const config = parseMetaConfig({});
  const defs = o.tasks.map((t) => {
    const task = resolveTask(t);
    return { task, train: task.splits(dataDir, config.dataSeed).train, collator: new Collator(task, resolved.tokenizer, resolved.checkpoint.config.maxSeqLen) };
  });
  const plan = new MetaPlan(config, defs.map((d) => d.train.length));
  const policy = initPertNN(host.blocks.map((b) => b.name), { seed: plan.policySeed, hidden: config.hidden });
  const cases = Array.from({ length: o.cases }, (_, step) => {
    const p = plan.at(step);
    const d = defs[p.task];
    const batch = d.collator.batch(p.examples.map((i) => d.train[i]), { goldOnly: d.task.kind === 'generation-lm' });
    return { step, task: d.task.name, batch, objective: objectiveFor(d.task.kind), seed: p.seed };
  });
  return {
    model, host, policy, config, cases,
    dispose: async () => {
      await host.dispose();
      model.dispose();
    },
  };
}
