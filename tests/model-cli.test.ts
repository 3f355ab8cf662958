// `zotune model info|generate|nll` and `zotune bench forward` end to end through the bin, on the real
// stories260K model: the reference NLL, the greedy golden text, and one-line errors on bad input.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const DATA = process.env.ZOTUNE_DATA ?? resolve(ROOT, '../shared/data');
const env = { ...process.env, ZOTUNE_DATA: DATA, ZOTUNE_BACKEND: process.env.ZOTUNE_BACKEND ?? 'wasm' };
const ref = JSON.parse(readFileSync(join(DATA, 'models/stories260K/reference.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'zotune-model-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function zotune(...args: string[]) {
  const r = spawnSync(process.execPath, [resolve(ROOT, 'apps/cli/bin/zotune.js'), ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(r: ReturnType<typeof zotune>) {
  expect(r.code, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]);
}

describe('zotune model', () => {
  test('info --json: family, parameters, blocks, backend, config and the block list', () => {
    const out = json(zotune('model', 'info', 'stories260K', '--json'));
    expect(out).toMatchObject({ family: 'llama', parameters: 260032, blocks: 47, backend: 'wasm', format: 'llama2c-legacy' });
    expect(out.config).toMatchObject({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, tiedEmbeddings: true });
    expect(out.blockList).toHaveLength(47);
    expect(out.blockList[0]).toEqual({ name: 'model.embed_tokens.weight', shape: [512, 64], kind: 'embedding', size: 32768 });
    expect(out.blockList[2]).toMatchObject({ name: 'model.layers.0.self_attn.k_proj.weight', shape: [64, 32], kind: 'matrix' });
  });

  test('generate --max-tokens 64 --json: the reference greedy ids and text', () => {
    const out = json(zotune('model', 'generate', 'stories260K', '--max-tokens', '64', '--json'));
    expect(out.ids).toEqual(ref.greedy_from_bos_64_ids);
    expect(out.text).toBe(ref.greedy_from_bos_64_decoded);
  });

  test('generate with --prompt and --temperature is seeded: same seed, same text', () => {
    const args = ['model', 'generate', 'stories260K', '--prompt', 'Once upon a time', '--max-tokens', '16', '--temperature', '0.8', '--seed', '3', '--json'];
    const a = json(zotune(...args));
    const b = json(zotune(...args));
    expect(a.ids).toEqual(b.ids);
    expect(a.ids.length).toBeGreaterThan(0);
    expect(a.promptIds[0]).toBe(1);
    expect(a.fullText.startsWith('Once upon a time')).toBe(true);
  });

  test('nll --text-file --max-tokens 200 --json: 1.26509 nats over the reference ids', () => {
    const file = join(tmp, 'nll.txt');
    writeFileSync(file, ref.nll_text);
    const out = json(zotune('model', 'nll', 'stories260K', '--text-file', file, '--max-tokens', '200', '--json'));
    expect(out.ids).toEqual(ref.nll_token_ids);
    expect(out.tokens).toBe(ref.nll_token_ids.length);
    expect(Math.abs(out.nll - 1.26509)).toBeLessThan(1e-3);
  });

  test.each(['ort', 'tfjs'])('nll --engine %s reproduces reference.json and says which engine ran', (engine) => {
    const file = join(tmp, 'nll.txt');
    writeFileSync(file, ref.nll_text);
    const r = zotune('model', 'nll', 'stories260K', '--text-file', file, '--max-tokens', '200', '--engine', engine, '--threads', '2', '--json');
    const out = json(r);
    expect(Math.abs(out.nll - ref.nll_mean_nats)).toBeLessThan(1e-5);
    expect(out.engine.name).toBe(engine);
    expect(r.stderr).toContain(`zotune: engine ${engine} (requested`);
    // the proof that ONNX Runtime really ran in CI: the binding loaded and a session was created
    // (the model opens its scored-rows session at creation; a whole-sequence NLL needs the all-rows one too)
    if (engine === 'ort') {
      expect(out.engine).toMatchObject({ threads: 2, ortVersion: '1.30.0' });
      expect(out.engine.sessions).toBeGreaterThanOrEqual(1);
    }
  });

  test('ZOTUNE_ENGINE and --engine: unknown names are one-line errors', () => {
    const bad = zotune('model', 'info', 'stories260K', '--engine', 'gpu');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^zotune: --engine: unknown engine "gpu"; expected one of auto, ort, tfjs$/m);
    const threads = zotune('model', 'info', 'stories260K', '--threads', '0');
    expect(threads.code).toBe(2);
    expect(threads.stderr).toMatch(/^zotune: --threads: expected an integer >= 1, got "0"$/m);
  });

  test('bad input: one line naming the problem and a non-zero exit', () => {
    const missing = zotune('model', 'nll', 'stories260K', '--text-file', join(tmp, 'absent.txt'), '--json');
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^zotune: --text-file: .*absent\.txt: no such file$/m);
    const unknown = zotune('model', 'info', 'no-such-model', '--json');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/^zotune: model "no-such-model": not a file or directory/m);
    const backend = zotune('model', 'info', 'stories260K', '--backend', 'gpu');
    expect(backend.code).toBe(2);
    expect(backend.stderr).toMatch(/^zotune: --backend: unknown backend "gpu"/m);
    const tokens = zotune('model', 'generate', 'stories260K', '--max-tokens', 'many');
    expect(tokens.code).toBe(2);
    expect(tokens.stderr).toMatch(/^zotune: --max-tokens: expected an integer, got "many"$/m);
  });
});

describe('zotune bench forward', () => {
  test.each(['tfjs', 'ort'])('--model stories260K --engine %s --json --out: timings, GFLOP/s and the matMul peak, also written to the file', (engine) => {
    const file = join(tmp, `bench-${engine}.json`);
    const out = json(zotune('bench', 'forward', '--model', 'stories260K', '--batch', '4', '--seq', '32', '--repeat', '2', '--engine', engine, '--out', file, '--json'));
    expect(out).toMatchObject({ model: 'stories260K', weights: 'checkpoint', batch: 4, seq: 32, tokens: 128, backend: 'wasm', fusedKernels: engine === 'tfjs', engine: { name: engine } });
    expect(out.forward.msPerForward).toBeGreaterThan(0);
    expect(out.forward.tokensPerSecond).toBeGreaterThan(0);
    expect(out.forward.ratioToPeak).toBeGreaterThan(0);
    expect(out.scoring.targets).toBe(16);
    expect(out.matmulPeak.gflopPerSecond).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(out);
  });
});
