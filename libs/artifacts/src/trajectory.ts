// The trajectory file of a ZO run: the append-only list of StepRecords that is enough to resume the
// run and to replay its fine-tuned weights from the base weights (a fine-tuned model in kilobytes).
//
// Layout: a sequence of frames, each [u32 LE payload length][u32 LE crc32(payload)][msgpack payload].
// Frame 0 is the header (magic, format version, run info); every later frame is one StepRecord.
// Appends write one whole frame with one write call, so a kill -9 can only tear the last frame:
// openTrajectory detects it (short frame, checksum mismatch or zero fill at the end of the file) and
// reports it; resumeTrajectory truncates it away. A bad frame followed by more data is corruption,
// never silently dropped.
import { crc32 } from '@zotune/io';
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic } from '@zotune/io';
import { isPlainObject, packValue, unpackValue } from './codec';

export const TRAJECTORY_MAGIC = 'zotune-trajectory';
/**
 * Version 2 added the header's `engine`; version 1 files (no engine: tfjs) are still read. Version 3
 * has the layout of version 2 and a new arithmetic: a step's last restore and its update are one pass
 * over the weights (θ ← keep·θ_last + σ·Σ(−keep·a_i − η·u_i)·z_i from the last evaluation point
 * θ_last = θ + σ·Σ a_i·z_i; docs/algorithms.md, determinism contract), so its weights differ from
 * version 2's by float32 round-off. Version 4 has version 3's layout and arithmetic and another noise
 * stream: z is drawn from stream 2 of @zotune/tensor (four-dimensional Box–Muller, four samples per
 * counter; versions 1–3: stream 1), so its directions, and weights, are other ones. Replay and resume
 * run each file with the arithmetic and stream of its version.
 */
export const TRAJECTORY_VERSION = 4;
export const TRAJECTORY_VERSIONS_READ: readonly number[] = [1, 2, 3, 4];
/** Bytes before each frame's payload: length and checksum. */
export const FRAME_PREFIX_BYTES = 8;
/** No record comes near this; a larger length field means the prefix itself is damaged. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Any JS number, NaN and ±Infinity included: a diverged run still records what it measured. */
const anyNumber = z.custom<number>((v) => typeof v === 'number', { message: 'expected a number' });
const seed = z.number().int().min(0).max(0xffffffff);

export const trajectoryCandidateSchema = z.object({
  /** noise seed of this candidate direction z(seed, ·) */
  seed,
  /** one-sided loss L(θ + ε·σ·z(seed)) when evaluated on its own (guided, greedy, elite); null for mezo queries */
  loss: anyNumber.nullable(),
});

export const trajectoryProbeSchema = z.object({
  /** v = Σ_i weights[i]·z(candidates[i].seed): the direction's coefficients, aligned with candidates */
  weights: z.array(z.number()),
  /** L(θ + ε·σ·v) */
  lossPlus: anyNumber,
  /** L(θ − ε·σ·v) */
  lossMinus: anyNumber,
  /** g = (L⁺ − L⁻) / (2ε), the projected gradient along v */
  projectedGrad: anyNumber,
});

export const stepRecordSchema = z.object({
  /** step index, 0 for the first step; records of a trajectory are consecutive */
  step: z.number().int().min(0),
  /** step seed (deriveSeed(runSeed, step)); candidate seeds derive from it */
  seed,
  /** estimator that produced the record (mezo, guided, greedy, elite) */
  estimator: z.string().min(1),
  /** perturbation scale ε */
  eps: z.number().positive(),
  /** effective per-block scale σ_j (policy σ times nf) used for every perturbation and the update; null = ones */
  sigma: z.array(z.number()).nullable(),
  /** candidate seeds of the step with their one-sided losses, in evaluation order */
  candidates: z.array(trajectoryCandidateSchema),
  /** two-point evaluations, in order (mezo: one per query; the others: one) */
  probes: z.array(trajectoryProbeSchema).min(1),
  /** mean L⁺ over probes (the policy's feature for the next step) */
  lossPlus: anyNumber,
  /** mean L⁻ over probes */
  lossMinus: anyNumber,
  /** mean projected gradient over probes */
  projectedGrad: anyNumber,
  /** forward passes spent by the step */
  forwardPasses: z.number().int().min(0),
});
export type StepRecord = z.infer<typeof stepRecordSchema>;
export type TrajectoryCandidate = z.infer<typeof trajectoryCandidateSchema>;
export type TrajectoryProbe = z.infer<typeof trajectoryProbeSchema>;

export const trajectoryBlockSchema = z.object({
  /** Hugging Face block name */
  name: z.string(),
  /** block shape as stored */
  shape: z.array(z.number().int().min(0)),
  /** embedding | matrix | norm | bias (weight decay depends on it) */
  kind: z.enum(['embedding', 'position', 'matrix', 'norm', 'bias']),
});

export const trajectoryHeaderSchema = z.object({
  /** always 'zotune-trajectory' */
  magic: z.literal(TRAJECTORY_MAGIC),
  /** file format version; readers refuse versions they do not know (1–2: restore then update; 3: fused; 4: fused, noise stream 2) */
  version: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(TRAJECTORY_VERSION)]),
  /** ISO time the run started */
  createdAt: z.string(),
  /** run seed: step s uses deriveSeed(runSeed, s) */
  runSeed: seed,
  /** the base model the records apply to */
  model: z.object({
    /** model family, e.g. llama */
    family: z.string(),
    /** sha256 (hex) of the base weights: replay refuses other weights */
    digest: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits'),
    /** trainable blocks in model order (the noise block index is the position) */
    blocks: z.array(trajectoryBlockSchema).min(1),
  }),
  /** estimator configuration (validated by @zotune/zo's estimatorConfigSchema) */
  estimator: z.looseObject({ name: z.string() }),
  /** free-form run information (task, batch size, data seed, …) */
  run: z.record(z.string(), z.unknown()).optional(),
  /** the forward engine that computed the recorded losses (version 2; absent in version 1: tfjs) */
  engine: z.enum(['tfjs', 'ort']).optional(),
});
export type TrajectoryHeader = z.infer<typeof trajectoryHeaderSchema>;

/** CRC-32 of the frame payloads (re-exported: trajectory tools use it). */
export { crc32 };

/** One frame: length, checksum, payload. */
export function encodeFrame(value: unknown): Uint8Array {
  const payload = packValue(value);
  const out = new Uint8Array(FRAME_PREFIX_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(payload), true);
  out.set(payload, FRAME_PREFIX_BYTES);
  return out;
}

function zodLine(err: z.ZodError): string {
  const i = err.issues[0];
  return `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`;
}

/** Validate a header object, refusing a foreign magic or an unknown version by name. */
export function parseTrajectoryHeader(value: unknown, source = 'trajectory'): TrajectoryHeader {
  if (!isPlainObject(value) || value.magic !== TRAJECTORY_MAGIC)
    throw new Error(`${source}: not a zotune trajectory (magic ${JSON.stringify(isPlainObject(value) ? value.magic : value)}, expected "${TRAJECTORY_MAGIC}")`);
  if (!TRAJECTORY_VERSIONS_READ.includes(value.version as number))
    throw new Error(`${source}: trajectory format version ${JSON.stringify(value.version)} is not supported (this zotune reads versions ${TRAJECTORY_VERSIONS_READ.slice(0, -1).join(', ')} and ${TRAJECTORY_VERSIONS_READ.at(-1)})`);
  const r = trajectoryHeaderSchema.safeParse(value);
  if (!r.success) throw new Error(`${source}: bad trajectory header: ${zodLine(r.error)}`);
  return r.data;
}

/** Validate one step record. */
export function parseStepRecord(value: unknown, source = 'step record'): StepRecord {
  const r = stepRecordSchema.safeParse(value);
  if (!r.success) throw new Error(`${source}: bad step record: ${zodLine(r.error)}`);
  return r.data;
}

export interface TrajectoryContents {
  header: TrajectoryHeader;
  /** complete records, steps 0..n-1 */
  records: StepRecord[];
  /** bytes up to the end of the last complete record */
  validBytes: number;
  /** bytes of a torn last frame after validBytes (0 when the file ended cleanly) */
  tornBytes: number;
}

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Classify the frame at `at`: intact, torn (the damage reaches the end of the file), or bad. */
function frameAt(bytes: Uint8Array, view: DataView, at: number): 'ok' | 'torn' | 'bad' {
  if (at + FRAME_PREFIX_BYTES > bytes.length) return 'torn';
  const len = view.getUint32(at, true);
  if (len === 0 || len > MAX_FRAME_BYTES) return allZero(bytes, at) ? 'torn' : 'bad';
  const end = at + FRAME_PREFIX_BYTES + len;
  if (end > bytes.length) return 'torn';
  if (view.getUint32(at + 4, true) === crc32(bytes.subarray(at + FRAME_PREFIX_BYTES, end))) return 'ok';
  return allZero(bytes, end) ? 'torn' : 'bad';
}

/**
 * Read a trajectory: the header, every complete record, and how many bytes are valid. A torn last
 * frame is reported in tornBytes and left on disk (resumeTrajectory removes it).
 */
export function openTrajectory(path: string): TrajectoryContents {
  if (!existsSync(path)) throw new Error(`${path}: no such trajectory file`);
  const bytes = new Uint8Array(readFileSync(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: TrajectoryHeader | undefined;
  const records: StepRecord[] = [];
  let at = 0;
  while (at < bytes.length) {
    const what = header ? `record ${records.length} at byte ${at}` : 'header';
    const kind = frameAt(bytes, view, at);
    if (kind !== 'ok') {
      // A kill during an append leaves the first bytes of the last frame, or (power loss) a last
      // frame whose data did not reach the disk, or zero fill; anything followed by data is damage.
      if (header && kind === 'torn') return { header, records, validBytes: at, tornBytes: bytes.length - at };
      throw new Error(`${path}: ${what} is corrupted (${kind === 'torn' ? 'truncated' : 'checksum or length mismatch'})${header ? ' and more data follows it' : ''}`);
    }
    const end = at + FRAME_PREFIX_BYTES + view.getUint32(at, true);
    const value = unpackValue(bytes.subarray(at + FRAME_PREFIX_BYTES, end), `${path} (${what})`, 'a msgpack value');
    if (!header) {
      header = parseTrajectoryHeader(value, path);
    } else {
      const rec = parseStepRecord(value, `${path} (${what})`);
      if (rec.step !== records.length)
        throw new Error(`${path}: ${what} has step ${rec.step}, expected ${records.length} (records must be consecutive from 0)`);
      records.push(rec);
    }
    at = end;
  }
  if (!header) throw new Error(`${path}: empty file, expected a zotune trajectory`);
  return { header, records, validBytes: at, tornBytes: 0 };
}

/**
 * Start a trajectory: write the header frame atomically. Refuses to replace an existing file unless
 * `overwrite` (a resumed run appends instead).
 */
export function createTrajectory(path: string, header: TrajectoryHeader, opts: { overwrite?: boolean } = {}): void {
  const h = parseTrajectoryHeader(header, path);
  if (!opts.overwrite && existsSync(path)) throw new Error(`${path}: trajectory already exists (resume it, or pass overwrite)`);
  writeFileAtomic(path, encodeFrame(h));
}

/** Append one record as one frame with one write call; fsync makes it durable before returning. */
export function appendRecord(path: string, record: StepRecord, opts: { fsync?: boolean } = {}): void {
  const frame = encodeFrame(parseStepRecord(record, `${path}: record for step ${record.step}`));
  const fd = openSync(path, 'a');
  try {
    let off = 0;
    while (off < frame.length) off += writeSync(fd, frame, off, frame.length - off);
    if (opts.fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Open a trajectory to continue a run: read it and cut a torn last frame off the file, so that the
 * next appendRecord continues after the last complete record.
 */
export function resumeTrajectory(path: string): TrajectoryContents {
  const t = openTrajectory(path);
  if (t.tornBytes > 0) {
    const fd = openSync(path, 'r+');
    try {
      if (fstatSync(fd).size !== t.validBytes + t.tornBytes) throw new Error(`${path}: the file changed while resuming`);
      ftruncateSync(fd, t.validBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  return t;
}
