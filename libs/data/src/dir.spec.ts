import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { cliMessageOf } from '@zotune/io';
import { REPO_ROOT, WORKSPACE_ROOT, dataFile, defaultRoot, resolveDataDir } from './dir';

const tmp = mkdtempSync(join(tmpdir(), 'zotune-dir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('resolveDataDir', () => {
  test('REPO_ROOT is the repository root', () => {
    expect(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).name).toBe('zotune');
    expect(existsSync(join(REPO_ROOT, 'libs/data/src/dir.ts'))).toBe(true);
  });

  test('ZOTUNE_DATA wins, resolved to an absolute path', () => {
    expect(resolveDataDir({ ZOTUNE_DATA: '/srv/zotune-data' })).toBe('/srv/zotune-data');
    expect(resolveDataDir({ ZOTUNE_DATA: '  rel/data ' })).toBe(resolve('rel/data'));
  });

  test('unset or blank: <root>/data when nothing else is there (see ensure.spec.ts for the whole order)', () => {
    const root = join(tmp, 'clone', 'repo');
    mkdirSync(root, { recursive: true });
    expect(resolveDataDir({}, root)).toBe(join(root, 'data'));
    expect(resolveDataDir({ ZOTUNE_DATA: '   ' }, root)).toBe(join(root, 'data'));
  });

  test('reads process.env by default', () => {
    const saved = process.env.ZOTUNE_DATA;
    try {
      process.env.ZOTUNE_DATA = tmp;
      expect(resolveDataDir()).toBe(tmp);
    } finally {
      if (saved === undefined) delete process.env.ZOTUNE_DATA;
      else process.env.ZOTUNE_DATA = saved;
    }
  });
});

describe('dataFile', () => {
  test('returns the path of a present file', () => {
    mkdirSync(join(tmp, 'models/x'), { recursive: true });
    writeFileSync(join(tmp, 'models/x/a.bin'), 'x');
    expect(dataFile('models/x/a.bin', tmp)).toBe(join(tmp, 'models/x/a.bin'));
  });

  test('a missing file: one line naming it and saying how to get the data, the API to a library user and the command to the CLI', () => {
    let msg = '';
    let cli: string | undefined;
    try {
      dataFile('models/stories260K/stories260K.bin', tmp);
    } catch (e) {
      msg = (e as Error).message;
      cli = cliMessageOf(e);
    }
    expect(msg).toContain(join(tmp, 'models/stories260K/stories260K.bin'));
    expect(msg).toContain('ensureData() or pullData() from @zotune/data');
    expect(msg).not.toContain('zotune data');
    expect(msg).not.toContain('\n');
    expect(cli).toContain(join(tmp, 'models/stories260K/stories260K.bin'));
    expect(cli).toContain('zotune data pull');
    expect(cli).toContain('--from DIR');
    expect(cli).toContain('ZOTUNE_DATA');
    expect(cli).not.toContain('\n');
  });
});

describe('defaultRoot', () => {
  test('in the workspace, relative defaults hang from the repository (installed, from the current directory: tests/packages.test.ts)', () => {
    expect(WORKSPACE_ROOT).toBe(REPO_ROOT);
    expect(defaultRoot()).toBe(REPO_ROOT);
  });
});
