// What a command needs before it starts: the pinned files it reads, present and intact in the data
// directory, else fetched by the same code as `zotune data pull` (sha256-pinned, resumable, atomic).
import { isAbsolute } from 'node:path';
import { RemedyError } from '@zotune/io';
import { inspectPinned } from './check';
import { defaultRoot, describeDataDir, locateDataDir, pullTargetDir, type DataDirSource } from './dir';
import { MANIFEST, type PinnedFile } from './manifest';
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
  /** one line per event: which directory, what is fetched */
  log?: (line: string) => void;
}

export interface EnsureResult {
  dataDir: string;
  source: DataDirSource;
  /** the pull that fetched what was missing, or null when everything was there */
  pulled: PullResult | null;
}

/**
 * Make the pinned files of `needs` available: if the located data directory has them all (size and
 * sha256 checked), use it; else pull them into $ZOTUNE_DATA or ./data. A failure is one line naming
 * the URL or file and the `--from DIR` alternative.
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
  // the shared directory beside the clone is read-only: a fetch goes to ./data, which then wins
  const target = pullTargetDir(env, root);
  const paths = (target === located.dir ? missing : pins).map((p) => p.path);
  const bytes = pins.filter((p) => paths.includes(p.path)).reduce((s, p) => s + p.size, 0);
  log(`data: ${describeDataDir(located)} lacks ${missing.map((p) => p.path).join(', ')}; fetching ${paths.length} pinned file${paths.length > 1 ? 's' : ''} (${(bytes / 1048576).toFixed(1)} MiB) into ${target}`);
  let pulled: PullResult;
  try {
    pulled = await pullData({ dataDir: target, only: paths, baseUrl: opts.baseUrl, onProgress: opts.onProgress });
  } catch (e) {
    if (!(e instanceof DataPullError)) throw e;
    throw new RemedyError(
      `${e.message}; or import the files from a local mirror: pullData({ dataDir, from: DIR, only: ${JSON.stringify(paths)} })`,
      `${e.message}; or import the files from a local mirror: zotune data pull --from DIR --only ${paths.join(',')}`,
    );
  }
  return { dataDir: target, source: env.ZOTUNE_DATA?.trim() ? 'ZOTUNE_DATA' : './data', pulled };
}

/**
 * The pinned files of `needs` that are missing (or damaged) in the located data directory and have no
 * public origin: only a mirror (`zotune data pull --from DIR`) can provide them, so ensureData would fail.
 */
export async function unfetchable(needs: DataNeeds, opts: Pick<EnsureOptions, 'env' | 'root'> = {}): Promise<string[]> {
  const located = locateDataDir(opts.env ?? process.env, opts.root ?? defaultRoot());
  const out: string[] = [];
  for (const pin of neededPins(needs)) if (pin.origin === null && (await inspectPinned(located.dir, pin)).status !== 'ok') out.push(pin.path);
  return out;
}
