// `zotune data check`: which pinned files are present and intact. A size check comes first (cheap),
// then the sha256 of every file whose size matches.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hashFile } from './install';
import { selectPins, type PinnedFile } from './manifest';

/** The state of one pinned file on disk. */
export type FileState =
  | { status: 'ok' }
  | { status: 'missing' }
  | { status: 'corrupt'; reason: string; actualSize: number; actualSha256?: string };

/** Compare the file at `pin.path` under `dataDir` with its pin. */
export async function inspectPinned(dataDir: string, pin: Pick<PinnedFile, 'path' | 'sha256' | 'size'>): Promise<FileState> {
  const file = join(dataDir, pin.path);
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    throw e;
  }
  if (!st.isFile()) return { status: 'corrupt', reason: 'not a regular file', actualSize: 0 };
  if (st.size !== pin.size) return { status: 'corrupt', reason: `size ${st.size}, expected ${pin.size}`, actualSize: st.size };
  const { sha256 } = await hashFile(file);
  if (sha256 !== pin.sha256) return { status: 'corrupt', reason: `sha256 ${sha256}, expected ${pin.sha256}`, actualSize: st.size, actualSha256: sha256 };
  return { status: 'ok' };
}

export interface CheckFileResult {
  path: string;
  group: string;
  status: 'ok' | 'missing' | 'corrupt';
  expectedSha256: string;
  /** for a corrupt file: what is wrong */
  reason?: string;
  /** true when `zotune data pull` can fetch it without a mirror */
  public: boolean;
}

export interface CheckResult {
  dataDir: string;
  files: CheckFileResult[];
  counts: { ok: number; missing: number; corrupt: number };
  /** 1 when any pinned file that is present is corrupt, else 0 */
  exitCode: 0 | 1;
}

/** Verify every pinned file, those pulled on request included (or those selected by `only`, as for pull) under `dataDir`. */
export async function checkData(dataDir: string, opts: { only?: readonly string[] } = {}): Promise<CheckResult> {
  const files: CheckFileResult[] = [];
  const counts = { ok: 0, missing: 0, corrupt: 0 };
  for (const pin of selectPins(opts.only, true)) {
    const state = await inspectPinned(dataDir, pin);
    counts[state.status]++;
    files.push({
      path: pin.path,
      group: pin.group,
      status: state.status,
      expectedSha256: pin.sha256,
      ...(state.status === 'corrupt' ? { reason: state.reason } : {}),
      public: pin.origin !== null,
    });
  }
  return { dataDir, files, counts, exitCode: counts.corrupt > 0 ? 1 : 0 };
}
