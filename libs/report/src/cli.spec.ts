import { RemedyError } from '@zotune/io';
import { describe, expect, it } from 'vitest';
import { UserError, WASM_ABORT, cliText, oneLine, usageError } from './cli';

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
