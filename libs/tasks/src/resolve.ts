// --task T: a built-in name (any case, punctuation ignored: SST-2, sst2), a task config file, or the
// name of a shipped task config (story-cloze).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKSPACE_ROOT } from '@zotune/data';
import { BUILTIN_TASKS, taskKey } from './builtins';
import { loadTaskConfig } from './config';
import { taskFromSpec } from './spec-task';
import type { Task } from './types';

/** This package's directory: src/resolve.ts and the bundle dist/index.js both sit one below it. */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the shipped task configs live, resolved from this package, never from a guessed repository
 * root (installed, that would be node_modules/): in the workspace (@zotune/data WORKSPACE_ROOT: these
 * sources, or an app's bundle that inlines them), its configs/tasks; installed from the tarball, the
 * copy inside the package (tools/prepack.mjs puts it there).
 */
export const TASK_CONFIG_DIR = WORKSPACE_ROOT !== null ? join(WORKSPACE_ROOT, 'configs', 'tasks') : join(PACKAGE_DIR, 'configs', 'tasks');

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
