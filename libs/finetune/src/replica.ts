// A replica of a ZO run: the run's model, task and estimator opened from its config, without a run
// directory, stepping through the same code as the run (zoStepper) with the losses it is given. A
// distributed run's workers are replicas: each holds a bit-identical copy of the weights, computes
// some of a step's forward passes and takes the others' losses as scalars.
import { modelDigest, type Model } from '@zotune/models';
import { chooseEngine, isGpuBackend, parseThreads } from '@zotune/engine';
import type { TrajectoryHeader } from '@zotune/artifacts';
import { UserError } from '@zotune/report';
import { initBackend } from '@zotune/tensor';
import { createEstimator, type StepLossValue, type StepRecord } from '@zotune/zo';
import { BatchSchedule } from './batches';
import { estimatorConfig, type FinetuneConfig } from './config';
import { resolvePolicy } from './policy';
import { buildModel, loadInputs } from './setup';
import { policyContext, runHeader, zoStepper, type StepShards } from './trainer';
import { openAdapter } from './weights';

export interface Replica {
  /** this replica's trajectory header of the run (createdAt aside, it must equal the coordinator's) */
  readonly header: TrajectoryHeader;
  /** step s (steps must come in order from 0), update included; `lossValue` from this replica's forward passes on the step's shards */
  step(s: number, lossValue: (shards: StepShards) => StepLossValue): Promise<StepRecord>;
  dispose(): Promise<void>;
}

/**
 * Open a replica of the ZO run `config` on its base weights, on engine `engine` with config.threads
 * ORT threads (a fixed count: the losses must not depend on the machine). Refuses what a replica
 * cannot reproduce (adam, oracle and curvature policies) in one line.
 */
export async function openReplica(config: FinetuneConfig, engineName: 'ort' | 'tfjs', log: (line: string) => void = () => {}): Promise<Replica> {
  if (config.estimator === 'adam') throw new UserError('replica: an adam run has no ZO steps to share', 2);
  if (config.policy.startsWith('oracle-')) throw new UserError(`replica: --policy ${config.policy} measures gradients; it cannot be distributed`, 2);
  if (config.threads === undefined) throw new UserError('--threads: a distributed run needs a fixed number of ORT threads per evaluation (e.g. --threads 1), so that every process computes the same bits', 2);
  const estCfg = estimatorConfig(config);
  const inputs = loadInputs(config);
  const backend = await initBackend(config.backend);
  const threads = parseThreads(config.threads, 'threads');
  const engine = await chooseEngine(engineName, 'forward', { threads, gpu: isGpuBackend(backend) });
  const base = await buildModel(inputs, engine);
  let model: Model = base;
  try {
    const adapter = config.peft && openAdapter(base, config.peft);
    model = adapter ? adapter.model : base;
    const trainable = adapter ? adapter.blocks : base.blocks;
    let digest: string | undefined;
    const baseDigest = () => (digest ??= modelDigest(base));
    const policy = await resolvePolicy(config.policy, { ...policyContext(config, inputs, base, trainable, baseDigest), expectDigest: config.policyDigest });
    if (policy.curvature) throw new UserError(`replica: --policy ${config.policy} measures curvature at the start of the run; it cannot be distributed`, 2);
    log(policy.note);
    const header = await runHeader({ config, inputs, engine, model, trainable, adapter, baseDigest }, estCfg);
    const est = createEstimator(estCfg, { threads, trajectoryVersion: header.version });
    const step = zoStepper(est, model, trainable, inputs, config, policy.scale);
    const schedule = new BatchSchedule(inputs.train, config.batch, config.seed);
    let next = 0;
    return {
      header,
      async step(s, lossValue) {
        if (s !== next) throw new Error(`replica: step ${s} asked for, the replica is at step ${next}`);
        const r = await step(s, schedule.batch(s), lossValue);
        next = s + 1;
        return r;
      },
      async dispose() {
        est.dispose();
        await model.dispose();
      },
    };
  } catch (e) {
    await model.dispose();
    throw e;
  }
}
