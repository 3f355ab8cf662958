// Resuming a ZO run: the trajectory's complete records, checked against config.json, replayed onto
// the base weights by the live update's own code (bit-identical weights). Kept apart from the
// fine-tune loop (trainer.ts) so that a unit test can resume at every cut point of a run and compare
// with the uninterrupted one, and so that mutation testing can reach it (docs/mutation.md).
import { resumeTrajectory, TRAJECTORY_VERSION, type TrajectoryHeader } from '@zotune/artifacts';
import type { Block } from '@zotune/models';
import type { AdapterApplied, PeftConfig } from '@zotune/peft';
import { UserError } from '@zotune/report';
import { replay, trajectoryArithmetic, type StepRecord } from '@zotune/zo';

/**
 * A resumed PEFT run's trajectory must be of the same setting (adapter init seed included) over the
 * same base weights: the header's digest covers only the adapters' initial values.
 */
export function checkPeftHeader(run: Record<string, unknown> | undefined, peft: PeftConfig | undefined, base: { name: string; digest: string | (() => string) }, file: string): void {
  const { baseDigest, ...recorded } = (run?.peft ?? {}) as Record<string, unknown>;
  const canon = (o: object) => JSON.stringify(o, Object.keys(o).sort());
  if (canon(recorded) !== canon(peft ?? {}))
    throw new UserError(`${file}: written for PEFT setting ${JSON.stringify(run?.peft ? recorded : 'none')}, config.json says ${JSON.stringify(peft ?? 'none')}`, 2);
  if (!peft) return;
  // the digest may be computed on demand (hashing 135M weights is not free): only a PEFT run asks
  const digest = typeof base.digest === 'function' ? base.digest() : base.digest;
  if (baseDigest !== digest) throw new UserError(`${file}: its adapters apply to base weights ${String(baseDigest).slice(0, 12)}…, ${base.name} is ${digest.slice(0, 12)}…`, 2);
}

/** What each way of meeting LoRA's adapters computes, as resume's note names it. */
const LORA_APPLIED: Record<AdapterApplied, string> = {
  merge: 'W0 + (alpha/r)·A·B merged into the weights (float64, rounded once)',
  engine: "LoRA's branch inside the ORT graph (float32)",
};

/**
 * How a LoRA run's losses met its adapters: the header's run.loraApplied (Adapter.applied) when it has
 * one; a trajectory without it was written when LoRA merged on every engine.
 */
export function recordedLoraApplied(run: Record<string, unknown> | undefined): AdapterApplied {
  return run?.loraApplied === 'engine' ? 'engine' : 'merge';
}

export interface ResumeInputs {
  /** config.json's figures the trajectory must agree with */
  config: { seed: number; estimator: string; steps: number; peft?: PeftConfig };
  /** the base checkpoint: its name and digest, or a function computing it (a PEFT run's adapters apply to it) */
  base: { name: string; digest: string | (() => string) };
  /** the engine of this session (a note when the trajectory's losses came from another) */
  engine: string;
  /** a LoRA run: how this session's adapter reaches the forward (a note when the trajectory's losses met it otherwise) */
  loraApplied?: AdapterApplied;
  /** threads that move blocks held in JS memory (replay's bits do not depend on it) */
  threads?: number;
  log: (line: string) => void;
  /** called with the checked header and the records before the replay starts (a curvature policy reads κ from it) */
  onHeader?: (header: TrajectoryHeader, records: readonly StepRecord[]) => void;
  /** called after each record is replayed (the run writes a missing best checkpoint as the replay passes it) */
  onStep?: (record: StepRecord) => void;
}

/**
 * Drop a torn last record, check the trajectory against the run's config, and replay every complete
 * record onto `trainable` (which must hold the base weights). Returns the records replayed: the
 * resumed run continues at step records.length, with records.at(-1) as the previous record.
 */
export async function replayForResume(trajPath: string, trainable: readonly Block[], r: ResumeInputs): Promise<{ header: TrajectoryHeader; records: StepRecord[] }> {
  const { config } = r;
  const t = resumeTrajectory(trajPath);
  if (t.header.runSeed !== config.seed) throw new UserError(`${trajPath}: written with seed ${t.header.runSeed}, config.json says ${config.seed}`);
  if (t.header.estimator.name !== config.estimator) throw new UserError(`${trajPath}: written by estimator ${t.header.estimator.name}, config.json says ${config.estimator}`);
  if (t.records.length > config.steps) throw new UserError(`${trajPath}: holds ${t.records.length} steps, the run has only ${config.steps}`);
  const records = t.records;
  if (t.tornBytes > 0) r.log(`resume: dropped a torn last record (${t.tornBytes} bytes)`);
  const recorded = t.header.engine ?? 'tfjs';
  if (recorded !== r.engine)
    r.log(`note: the trajectory's losses were computed on engine ${recorded}, this session runs ${r.engine}: the replayed weights are the same bits, the new steps' losses agree only to float tolerance`);
  // the same engine, but LoRA reached its forward another way (an ORT run started while LoRA still
  // merged): like another engine, the replay needs no forward, the new losses differ in their last bits
  else if (config.peft?.method === 'lora' && r.loraApplied && recordedLoraApplied(t.header.run) !== r.loraApplied)
    r.log(`note: the trajectory's losses were computed with ${LORA_APPLIED[recordedLoraApplied(t.header.run)]}, this session computes with ${LORA_APPLIED[r.loraApplied]}: the replayed weights are the same bits, the new steps' losses agree only to float tolerance`);
  if (t.header.version < TRAJECTORY_VERSION)
    r.log(`note: the trajectory is format version ${t.header.version}: the run continues with its arithmetic (${trajectoryArithmetic(t.header.version)}; new runs write version ${TRAJECTORY_VERSION}: ${trajectoryArithmetic(TRAJECTORY_VERSION)})`);
  // the same step()/update() code as the live run, with the recorded losses: bit-identical weights;
  // the caller continues with createEstimator(…, { trajectoryVersion: header.version })
  checkPeftHeader(t.header.run, config.peft, r.base, trajPath);
  r.onHeader?.(t.header, records);
  await replay(trainable, t.header, records, { threads: r.threads, onStep: r.onStep });
  r.log(`resume: replayed ${records.length} steps onto the base weights`);
  return { header: t.header, records };
}
