// Where zotune finds models and datasets: ZOTUNE_DATA, else ./data in the project (gitignored), else
// ../shared/data beside the clone (the layout CI uses), else data-bundled/ in the repository (the few
// pinned files the demo needs, committed so a fresh clone runs it offline). A pull writes into
// ZOTUNE_DATA or ./data.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RemedyError, isZotuneWorkspace } from '@zotune/io';

/** The repository root (this file is libs/data/src/dir.ts, or bundled into <project>/dist/*.js: same depth); installed as a package, node_modules/: defaults use defaultRoot(). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * REPO_ROOT when this code runs inside the zotune workspace (its sources, or a bundle of an app in it);
 * null when installed as a package, where REPO_ROOT is node_modules/ (or above it).
 */
export const WORKSPACE_ROOT: string | null = isZotuneWorkspace(REPO_ROOT) ? REPO_ROOT : null;

/**
 * The root that relative defaults (./data, ../shared/data, .cache) hang from: the workspace, else the
 * current directory, the project of the program that installed the package (never node_modules/).
 */
export function defaultRoot(): string {
  return WORKSPACE_ROOT ?? process.cwd();
}

/** The folder of the repository that holds the demo's pinned files, laid out like a data directory. */
export const BUNDLED_DIR_NAME = 'data-bundled';

/** <root>/data-bundled: the demo's model and corpus, committed (see data-bundled/README.md). */
export function bundledDataDir(root = defaultRoot()): string {
  return join(root, BUNDLED_DIR_NAME);
}

/** Which rule chose the data directory; 'none' means nothing was found and ./data is where a pull goes. */
export type DataDirSource = 'ZOTUNE_DATA' | './data' | '../shared/data' | 'data-bundled' | 'none';

export interface LocatedDataDir {
  dir: string;
  source: DataDirSource;
}

/** The data directory and the rule that chose it: $ZOTUNE_DATA, <root>/data, <root>/../shared/data, <root>/data-bundled, else <root>/data. */
export function locateDataDir(env: NodeJS.ProcessEnv = process.env, root = defaultRoot()): LocatedDataDir {
  const fromEnv = env.ZOTUNE_DATA?.trim();
  if (fromEnv) return { dir: resolve(fromEnv), source: 'ZOTUNE_DATA' };
  const local = join(root, 'data');
  if (existsSync(local)) return { dir: local, source: './data' };
  const beside = resolve(root, '..', 'shared', 'data');
  if (existsSync(beside)) return { dir: beside, source: '../shared/data' };
  const bundled = bundledDataDir(root);
  if (existsSync(bundled)) return { dir: bundled, source: 'data-bundled' };
  return { dir: local, source: 'none' };
}

/** The data directory (see locateDataDir). */
export function resolveDataDir(env: NodeJS.ProcessEnv = process.env, root = defaultRoot()): string {
  return locateDataDir(env, root).dir;
}

/** Where a pull writes: $ZOTUNE_DATA if set, else <root>/data (never the shared directory beside the clone). */
export function pullTargetDir(env: NodeJS.ProcessEnv = process.env, root = defaultRoot()): string {
  const fromEnv = env.ZOTUNE_DATA?.trim();
  return fromEnv ? resolve(fromEnv) : join(root, 'data');
}

/** "ZOTUNE_DATA (/x)", "./data (/repo/data)", for messages saying which data directory is used. */
export function describeDataDir(l: LocatedDataDir): string {
  const rule =
    l.source === '../shared/data' ? '../shared/data beside the clone' : l.source === 'data-bundled' ? "the repository's data-bundled/, the demo's files only" : l.source === 'none' ? 'none found' : l.source;
  return `${l.dir} (${rule})`;
}

/**
 * A file inside the data directory, or a one-line error saying how to get it.
 * `rel` is relative to the data dir, e.g. models/stories260K/stories260K.bin.
 */
export function dataFile(rel: string, dataDir = resolveDataDir()): string {
  const p = join(dataDir, rel);
  if (!existsSync(p))
    throw new RemedyError(
      `${p}: not found; fetch it with ensureData() or pullData() from @zotune/data (pullData({ from }) copies from a local mirror), or pass a data directory that has ${rel}`,
      `${p}: not found; run \`zotune data pull\` (or \`zotune data pull --from DIR\` from a local mirror), or set ZOTUNE_DATA to a directory that has ${rel}`,
    );
  return p;
}
