import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RemedyError } from '@zotune/io';
import { afterAll, describe, expect, it } from 'vitest';
import { INTERRUPTED_EXIT_CODE, UserError, WASM_ABORT, cliText, interruptedError, oneLine, usageError } from './cli';

describe('oneLine', () => {
  it("says what tfjs-wasm's bare abort means and what to do (Emscripten's message names neither)", () => {
    const e = new Error('Aborted(). Build with -sASSERTIONS for more info.');
    expect(oneLine(e)).toBe(WASM_ABORT);
    expect(WASM_ABORT).toMatch(/out of memory .*4 GiB.*--batch.*--engine ort/);
    // only a message that starts with it: a file named Aborted(…) in an error stays as it is
    expect(oneLine(new Error('x.gguf: not Aborted() at all'))).toBe('x.gguf: not Aborted() at all');
  });

  it("prints an error's command-line wording when it has one, else its first line", () => {
    expect(oneLine(new RemedyError('x: missing; call pullData()', 'x: missing; run `zotune data pull`'))).toBe('x: missing; run `zotune data pull`');
    expect(oneLine(new Error('\nfirst\nsecond'))).toBe('first');
    expect(oneLine('plain')).toBe('plain');
  });

  it('cliText: the whole message as the command line says it', () => {
    expect(cliText(new RemedyError('a; call pullData()', 'a; run `zotune data pull`'))).toBe('a; run `zotune data pull`');
    expect(cliText(new Error('plain'))).toBe('plain');
  });

  it('keeps the command-line wording through usageError', () => {
    expect(() => usageError(new RemedyError('api wording', 'cli wording'))).toThrow(new UserError('cli wording', 2));
  });
});

describe('usageError', () => {
  it('turns a rejected flag check into a one-line UserError with exit code 2, and passes a UserError through', async () => {
    const failed = Promise.reject(new Error('--engine: unknown engine "gpu"\n  at parseEngine'));
    const err = await failed.catch(usageError).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ message: '--engine: unknown engine "gpu"', exitCode: 2 });
    const own = new UserError('--lr: expected a number', 2);
    await expect(Promise.reject(own).catch(usageError)).rejects.toBe(own);
  });
});

describe('Ctrl-C: interruptOnSigint and interruptedError', () => {
  // a child whose run never reaches a safe point on its own (it only waits), so that the test decides
  // when each SIGINT arrives; it says when it is ready and when its signal aborted
  const work = mkdtempSync(join(tmpdir(), 'zotune-sigint-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); // a failed test's child
    rmSync(work, { recursive: true, force: true });
  });
  const script = join(work, 'run.mts');
  writeFileSync(
    script,
    `import { interruptOnSigint } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'cli.ts')).href)};\n` +
      `const i = interruptOnSigint('demo');\n` +
      `i.signal.addEventListener('abort', () => process.stdout.write('aborted\\n'));\n` +
      `if (process.argv[2] === 'release') i.release();\n` +
      `setInterval(() => {}, 1000);\n` +
      `process.stdout.write('ready\\n');\n`,
  );
  function run(mode: string) {
    const child = spawn(process.execPath, ['--import', 'tsx', script, mode], { cwd: resolve(import.meta.dirname, '../../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    // resolves once the child has printed the line (already, or on a later chunk)
    const said = (what: string) => new Promise<void>((ok) => (stdout.includes(`${what}\n`) ? ok() : child.stdout.on('data', () => stdout.includes(`${what}\n`) && ok())));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
    return { child, said, exited, stderr: () => stderr };
  }

  it('the first SIGINT aborts the signal and the process runs on; the second exits at once with 130', async () => {
    const r = run('hold');
    await r.said('ready');
    r.child.kill('SIGINT');
    await r.said('aborted');
    await new Promise((ok) => setTimeout(ok, 100));
    expect(r.child.exitCode).toBeNull(); // still running: the run stops at its own safe point
    r.child.kill('SIGINT');
    expect(await r.exited).toEqual({ code: 130, signal: null });
    expect(r.stderr().trim().split('\n')).toEqual(['demo: interrupted: stopping after the step under way (Ctrl-C again to exit now)', 'demo: interrupted twice: exiting now']);
  }, 30_000);

  it('after release(), SIGINT is Node\'s default again (the process dies of it)', async () => {
    const r = run('release');
    await r.said('ready');
    r.child.kill('SIGINT');
    expect(await r.exited).toEqual({ code: null, signal: 'SIGINT' });
    expect(r.stderr()).toBe('');
  }, 30_000);

  it('the last line: the step and the command that resumes the directory (quoted when it has spaces), exit code 130', () => {
    const e = interruptedError('finetune', 3, 16, '/runs/a');
    expect(e).toBeInstanceOf(UserError);
    expect(e.exitCode).toBe(INTERRUPTED_EXIT_CODE);
    expect(INTERRUPTED_EXIT_CODE).toBe(130);
    expect(e.message).toBe('finetune: interrupted after step 3 of 16; resume with: zotune finetune --resume /runs/a');
    expect(interruptedError('meta-train', 2, 24, '/my runs/b').message).toBe('meta-train: interrupted after step 2 of 24; resume with: zotune meta-train --resume "/my runs/b"');
    expect(interruptedError('finetune', 0, 16, undefined).message).toBe('finetune: interrupted before the run directory was made; nothing to resume');
  });
});
