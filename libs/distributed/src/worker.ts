// The worker's side: a "join run <id>" job taken by `zotune worker`. The worker opens a replica of the
// run on its own base weights, checks that its trajectory header (model fingerprint, estimator, task,
// engine, PEFT setting) equals the coordinator's, then walks the steps from step 0. At each
// evaluation point it either finds the loss already stored (a late joiner replays the run this way:
// moves only, no forward pass), or claims the evaluation and computes it, or leaves it to the worker
// that holds the claim (DeferredLoss: the walk goes on). A claim whose lease lapses with no loss is an
// orphan: the worker that notices reopens its replica and walks again to that point, where it claims
// the evaluation itself (its weights there must be the walk's, and the restore of a move is not exact).
import { hostname } from 'node:os';
import { parseRunConfig, openReplica, type ObjectivePartial, type Replica, type StepShards } from '@zotune/finetune';
import { cliText } from '@zotune/report';
import { DeferredLoss, type StepLossValue } from '@zotune/zo';
import { OrphanError, replicaJobSchema, RunLink, unitName, type Unit } from './link';

export interface ReplicaJobOptions {
  url: string;
  /** this worker's name (host:pid) */
  name?: string;
  log?: (line: string) => void;
  /** how often a waiting worker looks at Redis besides the channel's wake-ups (default 1000 ms) */
  pollMs?: number;
}

export interface ReplicaJobResult {
  runId: string;
  worker: string;
  /** steps this worker walked (a rewound walk counts again) */
  steps: number;
  /** forward passes it computed */
  forwardPasses: number;
  /** request bytes it sent to Redis (RESP), all steps */
  sentBytes: number;
  /** walks restarted after an orphaned evaluation */
  rewinds: number;
  /** seconds inside forward passes, and in the whole job */
  forwardSeconds: number;
  seconds: number;
}

/** Thrown when the worker must not take part; the reason is also in Redis for the coordinator's log. */
export class RefusedError extends Error {}

/** Runs this process has refused, with the reason: a retried job is refused again without reopening the model. */
const refusedRuns = new Map<string, string>();

/** Canonical JSON of a header without createdAt (the run's birth, not its content). */
function headerContent(h: Record<string, unknown>): Record<string, unknown> {
  const { createdAt: _, ...rest } = h;
  return JSON.parse(JSON.stringify(rest));
}

/** The first field where two headers differ, as a reason a person can act on. */
export function headerProblem(mine: Record<string, unknown>, theirs: Record<string, unknown>): string | undefined {
  const a = headerContent(mine);
  const b = headerContent(theirs);
  const model = (h: Record<string, unknown>) => (h.model ?? {}) as { digest?: string };
  if (model(a).digest !== model(b).digest)
    return `its base model's weights are sha256 ${String(model(a).digest).slice(0, 12)}…, the run's are ${String(model(b).digest).slice(0, 12)}… (another model file under the same name?)`;
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `its trajectory header's ${k} is ${JSON.stringify(a[k])}, the run's is ${JSON.stringify(b[k])}`;
  return undefined;
}

/** Take part in run data.runId until every step is done. */
export async function runReplicaJob(data: unknown, o: ReplicaJobOptions): Promise<ReplicaJobResult> {
  const t0 = performance.now();
  const job = replicaJobSchema.safeParse(data);
  if (!job.success) throw new RefusedError(`replica job: ${job.error.issues[0]?.path.join('.') || 'data'}: ${job.error.issues[0]?.message}`);
  const name = o.name ?? `${hostname()}:${process.pid}`;
  const log = o.log ?? (() => {});
  const pollMs = o.pollMs ?? 1000;
  const link = new RunLink(o.url, job.data.runId);
  const result: ReplicaJobResult = { runId: link.runId, worker: name, steps: 0, forwardPasses: 0, sentBytes: 0, rewinds: 0, forwardSeconds: 0, seconds: 0 };
  let replica: Replica | undefined;
  const refuse = async (reason: string): Promise<never> => {
    refusedRuns.set(link.runId, reason);
    await link.call('HSET', link.key('refusals'), name, reason).catch(() => undefined);
    throw new RefusedError(`run ${link.runId}: refused: ${reason}`);
  };
  try {
    const before = refusedRuns.get(link.runId);
    if (before !== undefined) {
      // leave the job to another worker for a while before failing this attempt
      await new Promise((r) => setTimeout(r, 5000));
      throw new RefusedError(`run ${link.runId}: refused: ${before}`);
    }
    const spec = await link.spec();
    if (!spec) return await refuse('no spec in Redis (the run is over, or the coordinator has not started it)');
    if ((await link.call('GET', link.key('done'))) === '1') return result; // a leftover join job
    let config;
    try {
      config = parseRunConfig(spec.config, `run ${link.runId} config`);
    } catch (e) {
      return await refuse(cliText(e));
    }
    const engine = spec.header.engine === 'tfjs' ? 'tfjs' : 'ort';
    const open = async () => {
      try {
        return await openReplica(config, engine);
      } catch (e) {
        return await refuse(cliText(e));
      }
    };
    replica = await open();
    const problem = headerProblem(replica.header as unknown as Record<string, unknown>, spec.header);
    if (problem) return await refuse(problem);
    const leaseMs = spec.leaseMs;
    /** A unit at the current evaluation point: stored, claimed and computed here, or left to its claimer. */
    const unit = async (s: number, u: Unit, known: Map<string, ObjectivePartial>, shards: StepShards): Promise<{ pending: Promise<ObjectivePartial> } | ObjectivePartial> => {
      const stored = known.get(unitName(u));
      if (stored) return stored;
      if (!(await link.claim(s, u, name, leaseMs))) {
        const pending = link.waitPartial(s, u, { orphans: true, pollMs });
        pending.catch(() => undefined); // awaited with the step's other units; not an unhandled rejection before then
        return { pending };
      }
      const renew = setInterval(() => void link.renew(s, u, leaseMs).catch(() => undefined), Math.max(50, leaseMs / 3));
      try {
        const f0 = performance.now();
        const p = await shards.local(u.j);
        result.forwardSeconds += (performance.now() - f0) / 1000;
        result.forwardPasses++;
        await link.putPartial(s, u, p);
        return p;
      } finally {
        clearInterval(renew);
      }
    };
    /** Step s's lossValue on this worker: its shards' partials from here and elsewhere; deferred while one is out. */
    const evaluations = (s: number, known: Map<string, ObjectivePartial>, shards: StepShards): StepLossValue => {
      let k = 0;
      return async () => {
        const i = k++;
        // { pending }: a partial out with another worker (wrapped: an async function would wait for it)
        const got: ({ pending: Promise<ObjectivePartial> } | ObjectivePartial)[] = [];
        for (let j = 0; j < shards.count; j++) got.push(await unit(s, { k: i, j }, known, shards));
        if (got.every((g) => !('pending' in g))) return shards.combine(got as ObjectivePartial[]);
        return new DeferredLoss(Promise.all(got.map((g) => ('pending' in g ? g.pending : g))).then((ps) => shards.combine(ps)));
      };
    };
    const steps = config.steps;
    let s = 0;
    let joined = false;
    while (s < steps) {
      // until it has joined, the worker replays stored partials; after, the claims tell it what is taken
      const known = joined ? new Map<string, ObjectivePartial>() : await link.partials(s);
      if (!joined && known.size < spec.evaluations * spec.shards) {
        // the first step this worker has to compute something for: it joins here
        joined = true;
        await link.call('HSET', link.key('workers'), name, String(s));
        log(`worker ${name}: run ${link.runId}: joined at step ${s}${s > 0 ? ` (steps 0–${s - 1} replayed from the stored losses, no forward pass)` : ''}`);
      }
      try {
        await replica.step(s, (shards) => evaluations(s, known, shards));
        s++;
        result.steps++;
      } catch (e) {
        if (!(e instanceof OrphanError)) throw e;
        // the walk is past the orphan's point: start again from the base weights
        log(`worker ${name}: run ${link.runId}: ${e.message}; replaying to it to compute it here`);
        result.rewinds++;
        await replica.dispose();
        replica = undefined;
        replica = await open();
        s = 0;
        joined = false;
      }
    }
    // every step's losses are stored: the training part of the run is over (the coordinator may still be evaluating)
    if (s === steps) await link.call('SET', link.key('done'), '1');
    log(`worker ${name}: run ${link.runId}: done (${result.forwardPasses} forward passes)`);
    return result;
  } finally {
    await replica?.dispose();
    result.sentBytes = link.sentBytes;
    result.seconds = (performance.now() - t0) / 1000;
    // what this job did, for `zotune bench distributed` (a leftover job that did nothing is not counted)
    if (result.steps > 0) await link.call('HSET', link.key('stats'), name, JSON.stringify(result)).catch(() => undefined);
    await link.close();
  }
}
