// @zotune/distributed: one fine-tuning run across machines, where only seeds and losses travel.
// The coordinator (`zotune finetune … --queue URL`: coordinatorLosses as the run's StepLosses) runs
// the ordinary loop with each training loss deferred; workers (`zotune worker --queue URL`, which
// hands "replica" jobs to runReplicaJob) hold bit-identical copies of the weights, claim a step's
// evaluations one by one, store each loss in Redis and apply every update themselves
// (docs/distributed.md: the message flow, what is in Redis, what happens on each failure).
export { coordinatorLosses, DEFAULT_LEASE_SECONDS, type CoordinatorOptions } from './coordinator';
export { headerProblem, RefusedError, runReplicaJob, type ReplicaJobOptions, type ReplicaJobResult } from './worker';
export { benchDistributed, type BenchDistributedOptions, type BenchDistributedResult, type DistributedRunFigures } from './bench';
export { OrphanError, PROTOCOL_VERSION, REPLICA_JOB, respBytes, runIdOf, RunLink, type RunSpec } from './link';
// the same check as sweeps': unreachable or a wrong password is one line naming the URL (password hidden)
export { checkRedis } from '@zotune/sweep';
