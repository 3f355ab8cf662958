// tsc as a consumer project runs it: the packages resolved through node_modules/@zotune/* to their
// built dist/ (no "@zotune/source" condition), strict, skipLibCheck off so our .d.ts files are checked.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@zotune/data';

const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

export type ModuleSetting = 'nodenext' | 'node16' | 'bundler';

/**
 * tsc on `files` with this module/moduleResolution (plus `extra` flags): --noEmit, or with `outDir` the
 * JavaScript to run (nothing when there are errors); its exit status and output.
 */
export function typecheck(files: string[], module: ModuleSetting, extra: string[] = [], outDir?: string): { status: number | null; out: string } {
  const emit = outDir === undefined ? ['--noEmit'] : ['--outDir', outDir, '--noEmitOnError'];
  const r = spawnSync(
    process.execPath,
    [TSC, ...emit, '--strict', '--target', 'es2022', '--module', module === 'bundler' ? 'esnext' : module, '--moduleResolution', module, '--skipLibCheck', 'false', ...extra, ...files],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}
