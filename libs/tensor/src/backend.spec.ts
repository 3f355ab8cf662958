import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKENDS, currentBackend, initBackend, parseBackend } from './backend';

describe('parseBackend', () => {
  it('accepts the four names, trims, and defaults to auto', () => {
    for (const b of BACKENDS) expect(parseBackend(b)).toBe(b);
    expect(parseBackend(' wasm ')).toBe('wasm');
    expect(parseBackend(undefined)).toBe('auto');
  });

  it('rejects anything else with one line naming the source, the value and the choices', () => {
    expect(() => parseBackend('webgpu')).toThrow('--backend: unknown backend "webgpu"; expected one of auto, tensorflow, wasm, cpu');
    expect(() => parseBackend('WASM', 'ZOTUNE_BACKEND')).toThrow(/^ZOTUNE_BACKEND: unknown backend "WASM"/);
  });
});

describe('initBackend', () => {
  it('keeps the backend the test setup chose', async () => {
    expect(currentBackend()?.name).toBe('wasm');
    expect((await initBackend('wasm', { quiet: true })).name).toBe('wasm');
  });

  it('refuses --backend tensorflow here, saying how to get it', async () => {
    await expect(initBackend('tensorflow', { quiet: true })).rejects.toThrow(/^--backend tensorflow: not available \(.*\); install @tensorflow\/tfjs-node or use --backend wasm$/);
    expect(currentBackend()?.name).toBe('wasm');
  });

  it('auto falls back to wasm in a fresh process and says why', () => {
    // A fresh process: this one already has a backend, and initBackend is idempotent.
    const dir = mkdtempSync(join(tmpdir(), 'zotune-backend-'));
    try {
      const script = join(dir, 'auto.mts'); // .mts: an ES module outside any package
      const backend = resolve(import.meta.dirname, 'backend.ts');
      writeFileSync(script, `import { initBackend } from ${JSON.stringify(backend)};\nconst c = await initBackend('auto');\nconsole.log(JSON.stringify(c));\n`);
      const r = spawnSync(process.execPath, ['--conditions=@zotune/source', '--import', 'tsx', script], { encoding: 'utf8', cwd: resolve(import.meta.dirname, '../../..'), env: { ...process.env, ZOTUNE_BACKEND: '' } });
      expect(r.status, r.stderr).toBe(0);
      const choice = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(choice.name).toBe('wasm');
      expect(choice.reason).toMatch(/^auto: native TensorFlow unavailable \(@tensorflow\/tfjs-node-gpu (not installed|failed: .+); @tensorflow\/tfjs-node (not installed|failed: .+)\); using WebAssembly$/);
      expect(r.stderr).toContain(`zotune: backend wasm (${choice.reason})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Runs `body` as an ES module in a fresh process with the sources (tsx); its status and output. */
  function fresh(body: string): { status: number | null; stdout: string; stderr: string } {
    const dir = mkdtempSync(join(tmpdir(), 'zotune-backend-'));
    try {
      const script = join(dir, 'fresh.mts');
      writeFileSync(script, `import { initBackend, requireBackend } from ${JSON.stringify(resolve(import.meta.dirname, 'backend.ts'))};\n${body}\n`);
      return spawnSync(process.execPath, ['--conditions=@zotune/source', '--import', 'tsx', script], { encoding: 'utf8', cwd: resolve(import.meta.dirname, '../../..') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("leaves no wasm process handlers behind: an uncaught error is reported where it was thrown, not as the backend's source", () => {
    const r = fresh(`await initBackend('wasm', { quiet: true });
// written, not console.log'd: under Nx (FORCE_COLOR) console.log colours numbers
process.stdout.write(process.listeners('uncaughtException').length + ' ' + process.listeners('unhandledRejection').length + '\\n');
throw new Error('boom from the program');`);
    expect(r.stdout.trim()).toBe('0 0');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Error: boom from the program');
    expect(r.stderr).not.toMatch(/tfjs-backend-wasm|throw ex/);
    expect(r.stderr.length).toBeLessThan(2000);
  });

  it('requireBackend says what to call before initBackend, and passes after', () => {
    const r = fresh(`try { requireBackend('createTfjsModel'); } catch (e) { console.log((e as Error).message); }
await initBackend('cpu', { quiet: true });
requireBackend('createTfjsModel');
console.log('ok');`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(["createTfjsModel: no tfjs backend is set up; call `await initBackend()` from @zotune/tensor first (or 'wasm', 'cpu', 'tensorflow')", 'ok']);
  });
});
