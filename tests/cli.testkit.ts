// The real `zotune` bin as a child process, for the end-to-end tests: start it (its stdout and stderr
// collected), await it, and read its one-line JSON output.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openTrajectory } from '@zotune/artifacts';
import { REPO_ROOT } from '@zotune/data';
import { expect } from 'vitest';

export const BIN = join(REPO_ROOT, 'apps/cli/bin/zotune.js');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The bin run in `cwd` with ZOTUNE_DATA = `data` (and the wasm backend unless the environment says otherwise); `extra` adds to its environment. */
export function cli(cwd: string, data: string) {
  const start = (args: string[], extra: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<Result> } => {
    const env = { ...process.env, ZOTUNE_DATA: data, ZOTUNE_BACKEND: process.env.ZOTUNE_BACKEND ?? 'wasm', ...extra };
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<Result>((ok) => child.on('close', (code, signal) => ok({ code, signal, stdout, stderr })));
    return { child, done };
  };
  /** Start a run and send it `signal` once its trajectory holds `records` records (or it ended first); its result. */
  const signalAfter = async (args: string[], traj: string, records: number, signal: NodeJS.Signals): Promise<Result> => {
    const victim = start(args);
    let recorded = 0;
    while (recorded < records) {
      await new Promise((ok) => setTimeout(ok, 20));
      if (victim.child.exitCode !== null) break;
      try {
        if (existsSync(traj)) recorded = openTrajectory(traj).records.length;
      } catch {
        // the header is being written; poll again
      }
    }
    victim.child.kill(signal);
    return victim.done;
  };
  /** Start a run and kill -9 it once its trajectory holds `records` records (or it ended first). */
  const killAfter = async (args: string[], traj: string, records: number): Promise<void> => {
    expect((await signalAfter(args, traj, records, 'SIGKILL')).signal).toBe('SIGKILL');
  };
  return { start, signalAfter, killAfter, zotune: (...args: string[]) => start(args).done };
}

/** The command's single stdout line as JSON (it must have exited 0). */
export function json(r: Result): Record<string, any> {
  expect(r.code, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]);
}

/** The JSON object on the command's last stdout line (it must have exited 0): `sweep --json` prints progress lines before it. */
export function lastJson(r: Result): Record<string, any> {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}
