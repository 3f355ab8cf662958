// --task T: a built-in name (any case, punctuation ignored: SST-2, sst2), a task config file, or the
// name of a shipped task config (story-cloze).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_TASKS, taskKey } from './builtins';
import { loadTaskConfig } from './config';
import { taskFromSpec } from './spec-task';
import type { Task } from './types';

/** This package's directory: src/resolve.ts and the bundle dist/index.js both sit one below it. */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the shipped task configs live, resolved from this package, never from a guessed repository
 * root (installed, that would be node_modules/): inside the package when installed from its tarball
 * (tools/prepack.mjs copies configs/tasks into it), else the workspace's configs/tasks two levels up
 * (libs/tasks, or an app's bundle that inlines this code).
 */
export const TASK_CONFIG_DIR = ((): string => {
  const packed = join(PACKAGE_DIR, 'configs', 'tasks');
  const workspace = join(PACKAGE_DIR, '..', '..');
  if (!existsSync(packed) && existsSync(join(workspace, 'nx.json'))) return join(workspace, 'configs', 'tasks');
  return packed;
})();

/** The names of the shipped task configs (story-cloze, story-name, …), sorted. */
export function shippedTaskNames(): string[] {
  if (!existsSync(TASK_CONFIG_DIR)) return [];
  return readdirSync(TASK_CONFIG_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function builtinTaskNames(): string[] {
  return Object.values(BUILTIN_TASKS).map((s) => s.config.name);
}

export function resolveTask(nameOrPath: string): Task {
  const arg = nameOrPath.trim();
  if (arg.endsWith('.json') || arg.includes('/') || arg.includes('\\')) return taskFromSpec({ config: loadTaskConfig(resolve(arg)) });
  const builtin = BUILTIN_TASKS[taskKey(arg)];
  if (builtin) return taskFromSpec(builtin);
  const shipped = join(TASK_CONFIG_DIR, `${arg}.json`);
  if (/^[A-Za-z0-9._-]+$/.test(arg) && existsSync(shipped)) return taskFromSpec({ config: loadTaskConfig(shipped) });
  throw new Error(
    `unknown task "${arg}"; expected a built-in (${builtinTaskNames().join(', ')}), a shipped config (${shippedTaskNames().join(', ')}), or a path to a task .json`,
  );
}
