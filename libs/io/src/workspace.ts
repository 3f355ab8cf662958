// Telling the zotune repository apart from an installed package, for defaults that point at files the
// repository holds (the data directory beside it, configs/tasks, the policy store).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * True when `dir` is the root of the zotune repository: its package.json is the workspace's (named
 * "zotune"). Code inside the repository (a lib's src/ or dist/, an app's bundle) finds it two levels up
 * from its package; an installed package finds node_modules/ there, which has no package.json.
 */
export function isZotuneWorkspace(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'zotune';
  } catch {
    return false;
  }
}
