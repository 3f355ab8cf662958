// One run = one `zotune finetune --config FILE` child process of the bin, FILE the run's fine-tune
// config (finetuneInput), in its own run directory: a crash or a kill takes down only that run, and a
// killed run resumes (`finetune --resume`) from its trajectory.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '@zotune/io';
import { finetuneInput, type Run } from './spec';

/** The fields of a finetune summary that depend on the machine and the moment, not on the run. */
export const VOLATILE_SUMMARY_FIELDS = ['secondsPerStep', 'peakRssMiB', 'runDir', 'resumedAt', 'backend'] as const;

export interface LaunchOptions {
  /** the zotune bin (apps/cli/bin/zotune.js) */
  bin: string;
  /** the run directory (created by finetune) */
  dir: string;
  /** where finetune's stderr goes (the run's config goes beside it, <log minus .log>.config.json) */
  log: string;
  /** `--policy` argument replacing the run's policy (a worker's local copy of a shipped policy file) */
  policyArg?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LaunchResult {
  summary: Record<string, unknown>;
  /** wall seconds of the finetune child process */
  childSeconds: number;
  resumed: boolean;
}

let setpriv: boolean | undefined;
/**
 * `setpriv --pdeathsig SIGKILL` (util-linux) makes the kernel kill the child when its parent dies,
 * so a SIGKILLed worker or sweep leaves no orphan fine-tune writing to its run directory.
 */
function hasSetpriv(): boolean {
  if (setpriv === undefined) setpriv = process.platform === 'linux' && ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));
  return setpriv;
}

/** The last non-empty line of a process's stderr: finetune's one-line reason. */
export function lastLine(text: string): string {
  return text.trim().split('\n').filter((l) => l.trim()).at(-1)?.trim() ?? '';
}

/** Run (or resume, or just collect) one fine-tune. Rejects with a one-line reason. */
export function launchRun(run: Run, o: LaunchOptions): Promise<LaunchResult> {
  const summaryFile = join(o.dir, 'summary.json');
  const readSummary = () => JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>;
  // finished but not yet recorded (the sweep died between the two): nothing to run
  if (existsSync(summaryFile)) return Promise.resolve({ summary: readSummary(), childSeconds: 0, resumed: true });
  const resumed = existsSync(join(o.dir, 'config.json'));
  // a directory without config.json is a start that died before writing anything useful
  if (!resumed && existsSync(o.dir)) rmSync(o.dir, { recursive: true, force: true });
  mkdirSync(dirname(o.dir), { recursive: true });
  let args = ['finetune', '--resume', o.dir, '--json'];
  if (!resumed) {
    // the run's config as a preset file: finetune validates it with its own schema, the fields are its own
    const configFile = `${o.log.replace(/\.log$/, '')}.config.json`;
    writeJsonAtomic(configFile, finetuneInput(run, o.policyArg));
    args = ['finetune', '--config', configFile, '--out', o.dir, '--json'];
  }
  const [cmd, argv] = hasSetpriv()
    ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', process.execPath, o.bin, ...args]]
    : [process.execPath, [o.bin, ...args]];
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const child = spawn(cmd, argv, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', (e) => fail(new Error(`cannot start finetune: ${e.message}`)));
    child.on('close', (code, signal) => {
      writeFileAtomic(o.log, `$ zotune ${args.join(' ')}\n${stderr}`);
      const childSeconds = (performance.now() - t0) / 1000;
      if (code === 0 && existsSync(summaryFile)) {
        try {
          return ok({ summary: readSummary(), childSeconds, resumed });
        } catch (e) {
          return fail(new Error(`${summaryFile}: ${(e as Error).message}`));
        }
      }
      fail(new Error(`finetune ${signal ? `killed by ${signal}` : `exited with ${code}`}: ${lastLine(stderr) || 'no message'}`));
    });
  });
}
