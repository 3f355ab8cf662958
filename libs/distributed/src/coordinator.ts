// The coordinator's side: `zotune finetune … --queue URL` runs the ordinary fine-tune loop (run
// directory, trajectory, dev evaluations) with every training loss deferred to the workers. It
// publishes the run's spec, enqueues one "join" job per evaluation of a step (the most workers a step
// can use), and runs each step's code as the losses come in without moving its copy of the weights
// (remote: the records only); the run replays them onto that copy where it reads the weights (dev
// evaluations, saved weight files), so its records and files are a local run's.
import { Queue } from 'bullmq';
import type { TrajectoryHeader } from '@zotune/artifacts';
import type { FinetuneConfig, StepLosses, StepShards } from '@zotune/finetune';
import { UserError } from '@zotune/report';
import { connect, DEFAULT_QUEUE_NAME, redactUrl } from '@zotune/sweep';
import { DeferredLoss, forwardPassesPerStep, parseEstimatorConfig, type StepLossValue } from '@zotune/zo';
import { PROTOCOL_VERSION, REPLICA_JOB, RunLink, runIdOf, runSpecSchema, type RunSpec } from './link';

export interface CoordinatorOptions {
  /** redis:// or rediss:// URL (password in it) */
  url: string;
  queueName?: string;
  /** a claimed evaluation not renewed for this long goes to another worker (default 30 s) */
  leaseSeconds?: number;
  /** how often the coordinator looks at Redis besides the channel's wake-ups (default 1000 ms) */
  pollMs?: number;
}

export const DEFAULT_LEASE_SECONDS = 30;

/** The StepLosses of a distributed run's coordinator (FinetuneOptions.losses). */
export function coordinatorLosses(o: CoordinatorOptions): StepLosses & { readonly runId: string | undefined } {
  let link: RunLink | undefined;
  let queue: Queue | undefined;
  let connection: ReturnType<typeof connect> | undefined;
  let watch: NodeJS.Timeout | undefined;
  let report: (() => Promise<void>) | undefined;
  let log: (line: string) => void = () => {};
  const pollMs = o.pollMs ?? 1000;
  const jobIds: string[] = [];
  return {
    // every training loss is a worker's: the coordinator's weights move only where the run reads them
    remote: true,
    get runId() {
      return link?.runId;
    },
    async open(run: { config: FinetuneConfig; header: TrajectoryHeader; dir: string; log: (line: string) => void }) {
      log = run.log;
      if (run.config.threads === undefined)
        throw new UserError('--threads: a distributed run needs a fixed number of ORT threads per evaluation (e.g. --threads 1), so that every process computes the same bits (a local run of the same config uses it too)', 2);
      const runId = runIdOf(run.config, run.header);
      link = new RunLink(o.url, runId);
      const evaluations = forwardPassesPerStep(parseEstimatorConfig(run.header.estimator));
      const shards = run.config.shards ?? 1;
      const spec: RunSpec = runSpecSchema.parse({
        protocol: PROTOCOL_VERSION, runId, config: run.config as unknown as Record<string, unknown>, header: run.header as unknown as Record<string, unknown>,
        leaseMs: Math.round((o.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000), evaluations, shards,
      });
      const units = evaluations * shards;
      // a resumed coordinator finds its run's spec (and the losses workers stored meanwhile)
      const had = await link.spec();
      if (had && JSON.stringify(had) !== JSON.stringify(spec)) throw new UserError(`--queue ${redactUrl(o.url)}: run ${runId} is already there with another spec (lease or config differ); resume it with the same options`, 2);
      if (!had) await link.call('SET', link.key('spec'), JSON.stringify(spec));
      connection = connect(o.url);
      queue = new Queue(o.queueName ?? DEFAULT_QUEUE_NAME, { connection });
      for (let i = 0; i < units; i++) {
        const jobId = `${runId}-${i}`;
        jobIds.push(jobId);
        // a refusing worker fails its attempt; the job waits 1 s and another worker may take it
        await queue.add(REPLICA_JOB, { version: PROTOCOL_VERSION, runId }, { jobId, attempts: 1_000_000, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: true });
      }
      log(`distributed: run ${runId} on ${redactUrl(o.url)} queue ${o.queueName ?? DEFAULT_QUEUE_NAME}: ${units} join jobs for \`zotune worker --queue …\` (each step's ${evaluations} evaluations${shards > 1 ? ` × ${shards} shards` : ''} are shared by the workers that join)`);
      // joins and refusals, as the workers report them
      const seen = new Set<string>();
      report = async () => {
        for (const [what, field] of [['refusals', 'refused'], ['workers', 'joined']] as const) {
          const flat = ((await link!.call('HGETALL', link!.key(what)).catch(() => [])) as string[]) ?? [];
          for (let i = 0; i < flat.length; i += 2) {
            const line = `distributed: worker ${flat[i]} ${field}${field === 'joined' ? ' at step ' : ': '}${flat[i + 1]}`;
            if (!seen.has(line)) {
              seen.add(line);
              log(line);
            }
          }
        }
      };
      watch = setInterval(() => void report?.(), 500);
    },
    lossValue(step: number, shards: StepShards): StepLossValue {
      let k = 0;
      const l = link!;
      return () => {
        const i = k++;
        const wait = (j: number) =>
          l.waitPartial(step, { k: i, j }, { orphans: false, pollMs, onWait: (s) => log(`distributed: step ${step}: evaluation ${i} shard ${j} still out after ${s} s (no worker has stored it; start \`zotune worker --queue …\`)`) });
        return new DeferredLoss(Promise.all(Array.from({ length: shards.count }, (_, j) => wait(j))).then((ps) => shards.combine(ps)));
      };
    },
    async close(finished: boolean) {
      if (watch) clearInterval(watch);
      // the joins and refusals since the last look (a short run can end within one interval)
      await report?.().catch(() => undefined);
      if (link && finished) await link.call('SET', link.key('done'), '1');
      // the join jobs nobody took are not needed any more (a resumed coordinator adds them again)
      if (queue) for (const id of jobIds) await (await queue.getJob(id))?.remove().catch(() => undefined);
      await queue?.close();
      await connection?.quit().catch(() => undefined);
      await link?.close();
    },
  };
}
