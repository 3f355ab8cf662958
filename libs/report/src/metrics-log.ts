// metrics.jsonl: one JSON object per line, appended as the run goes. A kill can tear the last line
// (a prefix without its newline); readers ignore it and reopening for append cuts it off, so the
// file never holds a corrupt line in the middle.
import { closeSync, existsSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { writeFileAtomic } from '@zotune/io';

/** What a line records: a training step, a dev evaluation, the final test, ... (open set). */
export type MetricEvent = 'step' | 'eval' | 'test' | (string & {});

/**
 * One line of metrics.jsonl. Non-finite numbers are stored as null (JSON has no NaN), so numeric
 * fields may read back as null.
 */
export interface MetricRecord {
  /** kind of record: 'step' (train loss), 'eval' (dev accuracy), 'test', ... */
  event: MetricEvent;
  /** optimizer steps completed when the record was written */
  step: number;
  /** forward passes spent so far (training, excluding evaluation) */
  forwardPasses: number;
  /** training loss of this step (event 'step') */
  loss?: number | null;
  /** dev accuracy in [0, 1] (event 'eval') */
  devAcc?: number | null;
  /** dev loss, the candidate cross-entropy in nats (event 'eval') */
  devLoss?: number | null;
  /** test accuracy in [0, 1] (event 'test') */
  testAcc?: number | null;
  /** seconds since the run started */
  seconds?: number;
  [key: string]: unknown;
}

/** Result of parsing the text of a metrics file. */
export interface ParsedMetrics {
  records: MetricRecord[];
  /** characters of complete lines (what to keep when the tail is torn) */
  validLength: number;
  /** characters of a torn trailing line that was ignored (0 when none) */
  tornLength: number;
  /** the last record is complete but lacks its newline (written by hand, not torn) */
  missingNewline: boolean;
}

function preview(line: string): string {
  return line.length > 40 ? JSON.stringify(line.slice(0, 40) + '…') : JSON.stringify(line);
}

function checkRecord(v: unknown, where: string): MetricRecord {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected a JSON object, got ${JSON.stringify(v)}`);
  const r = v as Record<string, unknown>;
  if (typeof r.event !== 'string' || r.event === '') throw new Error(`${where}: field "event" must be a non-empty string, got ${JSON.stringify(r.event)}`);
  for (const f of ['step', 'forwardPasses'] as const)
    if (typeof r[f] !== 'number' || !Number.isFinite(r[f]) || (r[f] as number) < 0)
      throw new Error(`${where}: field "${f}" must be a non-negative number, got ${JSON.stringify(r[f])}`);
  return r as MetricRecord;
}

/** Parse metrics.jsonl text; `file` names it in errors (`file:line: reason`). */
export function parseMetrics(text: string, file: string): ParsedMetrics {
  const records: MetricRecord[] = [];
  let pos = 0;
  let lineNo = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const complete = nl >= 0;
    const line = text.slice(pos, complete ? nl : text.length);
    lineNo++;
    if (line.trim() !== '') {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        // A record is a JSON object, and no proper prefix of an object parses: a line without its
        // newline that does not parse is a write cut short by a kill.
        if (!complete) return { records, validLength: pos, tornLength: text.length - pos, missingNewline: false };
        throw new Error(`${file}:${lineNo}: invalid JSON ${preview(line)} (${(e as Error).message.split('\n')[0]})`);
      }
      records.push(checkRecord(v, `${file}:${lineNo}`));
    }
    if (!complete) return { records, validLength: text.length, tornLength: 0, missingNewline: line.trim() !== '' };
    pos = nl + 1;
  }
  return { records, validLength: text.length, tornLength: 0, missingNewline: false };
}

/** Read metrics.jsonl, ignoring a torn last line; throws `file:line: reason` on a malformed line. */
export function readMetrics(file: string): MetricRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${file}: cannot read metrics (${code === 'ENOENT' ? 'no such file' : code ?? String(e)})`);
  }
  return parseMetrics(text, file).records;
}

/** JSON.stringify with non-finite numbers as null, on one line. */
function recordLine(record: MetricRecord): string {
  return JSON.stringify(record, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n';
}

/** An append-only metrics.jsonl: one record per line, each written with a single write. */
export class MetricsLog {
  private fd: number;

  private constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }

  /**
   * Open for append, creating the file. An existing file is checked line by line (a malformed line
   * throws), a torn last line is truncated away, and a complete last line without newline gets one.
   */
  static open(file: string): MetricsLog {
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      const parsed = parseMetrics(text, file);
      if (parsed.tornLength > 0) truncateSync(file, Buffer.byteLength(text.slice(0, parsed.validLength)));
      const log = new MetricsLog(file);
      if (parsed.missingNewline) log.write('\n');
      return log;
    }
    return new MetricsLog(file);
  }

  private write(text: string): void {
    if (this.fd < 0) throw new Error(`${this.file}: metrics log is closed`);
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
  }

  /** Append one record as one line. */
  append(record: MetricRecord): void {
    checkRecord(record, `${this.file}: append`);
    this.write(recordLine(record));
  }

  /** All complete records on disk. */
  records(): MetricRecord[] {
    return readMetrics(this.file);
  }

  /**
   * Keep only the records with step <= `step` (resume after a kill: the trajectory says which step
   * is the last complete one). Rewrites the file atomically; returns how many records were dropped.
   */
  truncateAfter(step: number): number {
    const all = this.records();
    const kept = all.filter((r) => r.step <= step);
    if (kept.length === all.length) return 0;
    closeSync(this.fd);
    this.fd = -1;
    writeFileAtomic(this.file, kept.map(recordLine).join(''));
    this.fd = openSync(this.file, 'a');
    return all.length - kept.length;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
