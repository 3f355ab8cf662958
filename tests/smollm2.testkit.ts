// Where the SmolLM2-135M GGUF is for the tests: ZOTUNE_SMOLLM2_GGUF, else the data directory's
// models/smollm2-135m/ (`zotune data pull --only smollm2-135m`). CI pulls it before the tests, so there
// a missing file fails the tests that need it instead of skipping them.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDataDir } from '@zotune/data';

export const SMOLLM2_FILE = 'SmolLM2-135M-Instruct.Q4_1.gguf';

/** The GGUF to test, or undefined when neither the variable nor the data directory has it. */
export function findSmollm2(): string | undefined {
  const env = process.env.ZOTUNE_SMOLLM2_GGUF?.trim();
  if (env) return env;
  const inData = join(resolveDataDir(), 'models/smollm2-135m', SMOLLM2_FILE);
  return existsSync(inData) ? inData : undefined;
}

/** Skip (report skipped) when the model is absent, except on CI, where the test then fails in beforeAll. */
export function skipWithoutSmollm2(): boolean {
  return findSmollm2() === undefined && process.env.CI !== 'true';
}

/** The GGUF's path, or a one-line error saying how to provide it. */
export function requireSmollm2(): string {
  const f = findSmollm2();
  if (f === undefined) throw new Error(`${SMOLLM2_FILE} not found: set ZOTUNE_SMOLLM2_GGUF or run \`zotune data pull --only smollm2-135m\``);
  return f;
}
