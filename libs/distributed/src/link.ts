// What a distributed run keeps in Redis, and the one connection each process talks through. Only
// scalars travel: per step, each unit's loss partial (a unit is evaluation k on shard j of the
// minibatch; its loss sum and term count as decimal strings that round-trip the float64) and a claim
// saying which worker computes it; plus, once per run, its spec (config and trajectory header).
// Keys (prefix zr:<id>:, short: every step's messages carry it):
//   spec                  JSON RunSpec, written once by the coordinator
//   l:<step>              hash  "<k>.<j>" → "<sum> <count>" ("-11.09… 16")
//   c:<step>:<k>.<j>      string worker name, with a lease (PX); renewed while the worker computes
//   workers / refusals    hash  worker name → step it joined at / why it refused the run
//   stats                 hash  worker job → its ReplicaJobResult (JSON), written when the job ends
//   done                  "1" once every step's partials are stored
// and the channel zr:<id>:p, "<step>:<k>.<j>" published with every new partial.
import { Redis } from 'ioredis';
import { z } from 'zod';
import { sha256Hex } from '@zotune/io';
import { redisOptions } from '@zotune/sweep';
import type { TrajectoryHeader } from '@zotune/artifacts';
import type { ObjectivePartial } from '@zotune/finetune';

export const PROTOCOL_VERSION = 1;
/** The BullMQ job name of "join run <id>" (taken by `zotune worker`, as sweep jobs are). */
export const REPLICA_JOB = 'replica';

export const runSpecSchema = z.strictObject({
  protocol: z.literal(PROTOCOL_VERSION),
  runId: z.string().regex(/^[0-9a-f]{16}$/),
  /** config.json of the run */
  config: z.record(z.string(), z.unknown()),
  /** the run's trajectory header (createdAt is the run's birth; the rest a worker recomputes and compares) */
  header: z.record(z.string(), z.unknown()),
  /** a claim not renewed for this long is an orphan: another worker computes it */
  leaseMs: z.number().int().min(100),
  /** evaluations per step (forward passes of the estimator) */
  evaluations: z.number().int().min(1),
  /** shards of each evaluation's minibatch (config.shards): evaluations × shards units per step, the most workers a step can use */
  shards: z.number().int().min(1),
});
export type RunSpec = z.infer<typeof runSpecSchema>;

export const replicaJobSchema = z.strictObject({ version: z.literal(PROTOCOL_VERSION), runId: z.string().regex(/^[0-9a-f]{16}$/) });

/** The run's id: fixed by its trajectory header (createdAt, base weights) and config, so a resumed coordinator finds its run again. */
export function runIdOf(config: unknown, header: TrajectoryHeader): string {
  return sha256Hex(JSON.stringify([header.createdAt, header.model.digest, config])).slice(0, 16);
}

/** Bytes of a command as RESP puts it on the wire (*n, then $len + bytes per argument). */
export function respBytes(args: readonly (string | number)[]): number {
  let n = `*${args.length}\r\n`.length;
  for (const a of args) {
    const len = Buffer.byteLength(String(a));
    n += `$${len}\r\n`.length + len + 2;
  }
  return n;
}

/** A unit of a step: evaluation k on shard j; its name in Redis is "k.j". */
export interface Unit {
  k: number;
  j: number;
}
export const unitName = (u: Unit): string => `${u.k}.${u.j}`;

/** Thrown where a claimed unit's lease ran out with no loss: its worker is gone. */
export class OrphanError extends Error {
  constructor(readonly step: number, readonly unit: Unit) {
    super(`step ${step}: evaluation ${unit.k} shard ${unit.j} was claimed by a worker that stopped renewing it`);
  }
}

/** A partial as stored: decimals that read back as the same float64 (String(x) is the shortest; NaN and ±Infinity by name). */
export const partialText = (p: ObjectivePartial): string => `${String(p.sum)} ${String(p.count)}`;
export function partialOf(s: string): ObjectivePartial {
  const [sum, count] = s.split(' ').map(Number);
  return { sum, count };
}

/**
 * One process's link to a run: a command connection whose request bytes it counts, and a subscriber
 * that wakes whoever waits for a loss.
 */
export class RunLink {
  readonly prefix: string;
  /** request bytes sent (RESP), for the bytes-per-step figure */
  sentBytes = 0;
  private readonly cmd: Redis;
  private sub: Redis | undefined;
  /** waiters by "<step>:<k>.<j>", woken by that unit's message */
  private readonly wakers = new Map<string, Set<() => void>>();

  constructor(url: string, readonly runId: string) {
    const { options } = redisOptions(url);
    this.cmd = new Redis(url, { ...options, maxRetriesPerRequest: 3 });
    this.cmd.on('error', () => undefined); // failures surface as rejected commands
    this.prefix = `zr:${runId}:`;
  }

  key(...parts: (string | number)[]): string {
    return this.prefix + parts.join(':');
  }

  /** A command, counted. */
  async call(...args: (string | number)[]): Promise<unknown> {
    this.sentBytes += respBytes(args);
    return this.cmd.call(String(args[0]), ...args.slice(1).map(String));
  }

  async spec(): Promise<RunSpec | undefined> {
    const s = (await this.call('GET', this.key('spec'))) as string | null;
    if (s === null) return undefined;
    const r = runSpecSchema.safeParse(JSON.parse(s));
    if (!r.success) throw new Error(`run ${this.runId}: its spec in Redis does not validate (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`);
    return r.data;
  }

  /** Every partial of a step known so far, by unit name ("k.j"). */
  async partials(step: number): Promise<Map<string, ObjectivePartial>> {
    const flat = (await this.call('HGETALL', this.key('l', step))) as string[];
    const m = new Map<string, ObjectivePartial>();
    for (let i = 0; i < flat.length; i += 2) m.set(flat[i], partialOf(flat[i + 1]));
    return m;
  }

  /** Store a partial once (a recomputation by another worker is the same bits and is dropped) and wake the waiters. */
  async putPartial(step: number, u: Unit, p: ObjectivePartial): Promise<void> {
    await this.call('HSETNX', this.key('l', step), unitName(u), partialText(p));
    await this.call('PUBLISH', this.key('p'), `${step}:${unitName(u)}`);
  }

  /** Claim a unit of a step for `name`, leased for leaseMs; false when someone holds it. */
  async claim(step: number, u: Unit, name: string, leaseMs: number): Promise<boolean> {
    return (await this.call('SET', this.key('c', step, unitName(u)), name, 'PX', leaseMs, 'NX')) === 'OK';
  }

  async renew(step: number, u: Unit, leaseMs: number): Promise<void> {
    await this.call('PEXPIRE', this.key('c', step, unitName(u)), leaseMs);
  }

  private async subscribe(): Promise<void> {
    if (this.sub) return;
    this.sub = this.cmd.duplicate();
    this.sub.on('error', () => undefined);
    this.sub.on('message', (_channel: string, unit: string) => {
      for (const w of [...(this.wakers.get(unit) ?? [])]) w();
    });
    await this.sub.subscribe(this.key('p'));
  }

  /**
   * The partial of a unit of a step, once someone stores it. `orphans`: reject with OrphanError when
   * nobody holds its claim and no partial came (a worker checks this; the coordinator only waits).
   * Polls every pollMs as well as waking on the channel; `onWait` is told every 30 s of waiting.
   */
  async waitPartial(step: number, u: Unit, o: { orphans: boolean; pollMs: number; onWait?: (seconds: number) => void }): Promise<ObjectivePartial> {
    const field = unitName(u);
    const name = `${step}:${field}`;
    await this.subscribe();
    const t0 = performance.now();
    let told = 0;
    let wakers = this.wakers.get(name);
    if (!wakers) this.wakers.set(name, (wakers = new Set()));
    try {
      for (let first = true; ; first = false) {
        // registered before the read, so a message between the two is not missed
        let wake!: () => void;
        const woken = new Promise<void>((r) => (wake = r));
        wakers.add(wake);
        try {
          const v = (await this.call('HGET', this.key('l', step), field)) as string | null;
          if (v !== null) return partialOf(v);
          // the first time the claim was just seen held (that is why the unit is deferred)
          if (o.orphans && !first && (await this.call('EXISTS', this.key('c', step, field))) === 0) {
            // the claim lapsed: a partial stored just before it did counts
            const again = (await this.call('HGET', this.key('l', step), field)) as string | null;
            if (again !== null) return partialOf(again);
            throw new OrphanError(step, u);
          }
          const waited = (performance.now() - t0) / 1000;
          if (o.onWait && waited >= 30 * (told + 1)) o.onWait(30 * ++told);
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, o.pollMs)))]);
          clearTimeout(timer);
        } finally {
          wakers.delete(wake);
        }
      }
    } finally {
      if (wakers.size === 0) this.wakers.delete(name);
    }
  }

  async close(): Promise<void> {
    await this.sub?.quit().catch(() => undefined);
    await this.cmd.quit().catch(() => undefined);
  }
}
