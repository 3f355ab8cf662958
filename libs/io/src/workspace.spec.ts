import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isZotuneWorkspace } from './workspace';

const tmp = mkdtempSync(join(tmpdir(), 'zotune-workspace-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('isZotuneWorkspace', () => {
  it('is the repository root and nothing else: not node_modules/, not another project, not a broken package.json', () => {
    expect(isZotuneWorkspace(resolve(import.meta.dirname, '../../..'))).toBe(true);
    expect(isZotuneWorkspace(resolve(import.meta.dirname, '../../../node_modules'))).toBe(false);
    const other = join(tmp, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'package.json'), JSON.stringify({ name: 'my-app' }));
    expect(isZotuneWorkspace(other)).toBe(false);
    const broken = join(tmp, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'package.json'), '{');
    expect(isZotuneWorkspace(broken)).toBe(false);
  });
});
