import { describe, expect, it } from 'vitest';
import { UserError, usageError } from './cli';

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
