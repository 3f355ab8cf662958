// What a distributed run keeps in Redis, and the one connection each process talks through. Only
// scalars travel: per step, each evaluation's loss (a decimal string that round-trips the float64)
// and a claim saying which worker computes it; plus, once per run, its spec (config and trajectory
// header). Keys (prefix zotune:run:<id>:):
//   spec                  JSON RunSpec, written once by the coordinator
//   loss:<step>           hash  evaluation index → loss ("0.6931…", "NaN")
//   claim:<step>:<k>      string worker name, with a lease (PX); renewed while the worker computes
//   workers / refusals    hash  worker name → step it joined at / why it refused the run
//   done                  "1" once every step is done
// and the channel zotune:run:<id>:losses, "<step>:<k>" published with every new loss.
import { Redis } from 'ioredis';
import { z } from 'zod';
import { sha256Hex } from '@zotune/io';
import { redisOptions } from '@zotune/sweep';
import type { TrajectoryHeader } from '@zotune/artifacts';

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
  /** evaluations per step (the most workers that can share a step) */
  evaluations: z.number().int().min(1),
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

/** Thrown where a claimed evaluation's lease ran out with no loss: its worker is gone. */
export class OrphanError extends Error {
  constructor(readonly step: number, readonly k: number) {
    super(`step ${step}: evaluation ${k} was claimed by a worker that stopped renewing it`);
  }
}

/** A loss as stored: the shortest decimal that reads back as the same float64 (NaN and ±Infinity by name). */
export const lossText = (v: number): string => String(v);
export const lossOf = (s: string): number => Number(s);

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
  private readonly wakers = new Set<() => void>();

  constructor(url: string, readonly runId: string) {
    const { options } = redisOptions(url);
    this.cmd = new Redis(url, { ...options, maxRetriesPerRequest: 3 });
    this.cmd.on('error', () => undefined); // failures surface as rejected commands
    this.prefix = `zotune:run:${runId}:`;
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

  /** Every loss of a step known so far, by evaluation index. */
  async losses(step: number): Promise<Map<number, number>> {
    const flat = (await this.call('HGETALL', this.key('loss', step))) as string[];
    const m = new Map<number, number>();
    for (let i = 0; i < flat.length; i += 2) m.set(Number(flat[i]), lossOf(flat[i + 1]));
    return m;
  }

  /** Store a loss once (a recomputation by another worker is the same bits and is dropped) and wake the waiters. */
  async putLoss(step: number, k: number, v: number): Promise<void> {
    await this.call('HSETNX', this.key('loss', step), k, lossText(v));
    await this.call('PUBLISH', this.key('losses'), `${step}:${k}`);
  }

  /** Claim evaluation k of a step for `name`, leased for leaseMs; false when someone holds it. */
  async claim(step: number, k: number, name: string, leaseMs: number): Promise<boolean> {
    return (await this.call('SET', this.key('claim', step, k), name, 'PX', leaseMs, 'NX')) === 'OK';
  }

  async renew(step: number, k: number, leaseMs: number): Promise<void> {
    await this.call('PEXPIRE', this.key('claim', step, k), leaseMs);
  }

  private async subscribe(): Promise<void> {
    if (this.sub) return;
    this.sub = this.cmd.duplicate();
    this.sub.on('error', () => undefined);
    this.sub.on('message', () => {
      for (const w of [...this.wakers]) w();
    });
    await this.sub.subscribe(this.key('losses'));
  }

  /**
   * The loss of evaluation k of a step, once someone stores it. `orphans`: reject with OrphanError
   * when nobody holds its claim and no loss came (a worker checks this; the coordinator only waits).
   * Polls every pollMs as well as waking on the channel; `onWait` is told every 30 s of waiting.
   */
  async waitLoss(step: number, k: number, o: { orphans: boolean; pollMs: number; onWait?: (seconds: number) => void }): Promise<number> {
    await this.subscribe();
    const t0 = performance.now();
    let told = 0;
    for (;;) {
      let wake!: () => void;
      const woken = new Promise<void>((r) => (wake = r));
      this.wakers.add(wake);
      try {
        const v = (await this.call('HGET', this.key('loss', step), k)) as string | null;
        if (v !== null) return lossOf(v);
        if (o.orphans && (await this.call('EXISTS', this.key('claim', step, k))) === 0) {
          // the claim lapsed: a loss stored just before it did counts
          const again = (await this.call('HGET', this.key('loss', step), k)) as string | null;
          if (again !== null) return lossOf(again);
          throw new OrphanError(step, k);
        }
        const waited = (performance.now() - t0) / 1000;
        if (o.onWait && waited >= 30 * (told + 1)) o.onWait(30 * ++told);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, o.pollMs)))]);
        clearTimeout(timer);
      } finally {
        this.wakers.delete(wake);
      }
    }
  }

  async close(): Promise<void> {
    await this.sub?.quit().catch(() => undefined);
    await this.cmd.quit().catch(() => undefined);
  }
}
