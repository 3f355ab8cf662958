// The commands on every model family, end to end through the bin, on the golden fixture directories
// (tests/fixtures/families): model info|nll|generate and eval agree across engines, a short ZO
// finetune killed with SIGKILL resumes to the uninterrupted run's weights, replay rebuilds them,
// the run's weights exported as a Hugging Face directory load back, and bad configs are one line.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openTrajectory } from '@zotune/artifacts';
import { REPO_ROOT } from '@zotune/data';
import { readHfDir, readSafetensors } from '@zotune/models';
import { afterAll, describe, expect, test } from 'vitest';
import { cli, json } from './cli.testkit';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const FIXTURES = join(REPO_ROOT, 'tests/fixtures/families');
const work = mkdtempSync(join(tmpdir(), 'zotune-families-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { killAfter, zotune } = cli(work, DATA);

const text = join(work, 'text.txt');
writeFileSync(text, 'Once upon a time, there was a little girl named Lily. The cat sat on the mat.');

describe.each(['llama', 'qwen2', 'opt', 'gpt2'])('family %s', (family) => {
  const dir = join(FIXTURES, family);

  test('model info, nll, generate and eval: both engines agree', async () => {
    const info = json(await zotune('model', 'info', dir, '--json'));
    expect(info).toMatchObject({ family, format: 'hf-safetensors' });
    const [nllT, nllO, genT, genO, evT, evO] = (
      await Promise.all([
        zotune('model', 'nll', dir, '--text-file', text, '--json', '--engine', 'tfjs'),
        zotune('model', 'nll', dir, '--text-file', text, '--json', '--engine', 'ort'),
        zotune('model', 'generate', dir, '--prompt', 'Once upon', '--max-tokens', '8', '--json', '--engine', 'tfjs'),
        zotune('model', 'generate', dir, '--prompt', 'Once upon', '--max-tokens', '8', '--json', '--engine', 'ort'),
        zotune('eval', '--model', dir, '--task', 'sst2', '--n', '16', '--json', '--engine', 'tfjs'),
        zotune('eval', '--model', dir, '--task', 'sst2', '--n', '16', '--json', '--engine', 'ort'),
      ])
    ).map(json);
    expect(nllT.ids).toEqual(nllO.ids);
    expect(Math.abs(nllT.nll - nllO.nll)).toBeLessThan(1e-5);
    expect(nllT.nll).toBeGreaterThan(0);
    expect(genT.ids).toEqual(genO.ids);
    expect(genT.ids.length).toBeGreaterThan(0);
    expect(evT.confusion).toEqual(evO.confusion);
  });

  test('finetune: kill -9 and --resume match the uninterrupted run; replay == saved weights; the export loads back', async () => {
    const args = (out: string) => ['finetune', '--model', dir, '--task', 'sst2', '--estimator', 'mezo', '--steps', '40', '--eval-every', '20', '--seed', '3', '--save-final', '--eval-n', '8', '--test-n', '8', '--policy', 'none', '--threads', '1', '--out', out, '--json'];
    const a = join(work, `${family}-whole`);
    const b = join(work, `${family}-killed`);
    const whole = zotune(...args(a));
    const traj = join(b, 'trajectory');
    await killAfter(args(b), traj, 5);
    const atKill = openTrajectory(traj).records.length;
    expect(atKill).toBeLessThan(40);
    const resumed = await zotune('finetune', '--resume', b, '--json');
    const [sa, sb] = [json(await whole), json(resumed)];
    expect(sa.model).toBe(family);
    expect(sb.resumedAt).toBe(atKill);
    for (const f of ['final.safetensors', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expect(sb.finalTrainLoss).toBe(sa.finalTrainLoss);

    // the trajectory alone rebuilds the final weights, byte for byte
    const replayed = join(work, `${family}-replay.safetensors`);
    expect(json(await zotune('replay', a, '--out', replayed, '--json'))).toMatchObject({ steps: 40, model: family });
    expect(readFileSync(replayed).equals(readFileSync(join(a, 'final.safetensors')))).toBe(true);

    // the run's weights as a Hugging Face directory: the loader reads them back unchanged
    const exported = join(work, `${family}-export`);
    mkdirSync(exported);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(exported, f));
    copyFileSync(join(a, 'final.safetensors'), join(exported, 'model.safetensors'));
    const back = readHfDir(exported);
    const saved = readSafetensors(join(a, 'final.safetensors')).tensors;
    expect([...back.tensors.keys()].sort()).toEqual([...saved.keys()].sort());
    for (const [n, t] of back.tensors) expect(Buffer.from(t.data.buffer).equals(Buffer.from(saved.get(n)!.data.buffer)), n).toBe(true);
    expect(json(await zotune('model', 'info', exported, '--json'))).toMatchObject({ family });
  }, 120_000);
});

describe('bad family configs', () => {
  test('one line on stderr naming the field, a non-zero exit', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['qwen2', { use_sliding_window: true }, /config\.json: field "use_sliding_window" is true \(sliding-window attention is not supported; expected false\)$/],
      ['opt', { word_embed_proj_dim: 16 }, /config\.json: field "word_embed_proj_dim" is 16 \(project_in\/project_out are not supported; expected hidden_size 32\)$/],
      ['opt', { activation_function: 'gelu' }, /config\.json: field "activation_function" is "gelu" \(not supported; expected "relu"\)$/],
      ['gpt2', { n_head: 5 }, /config\.json: dim 32 is not a multiple of n_heads 5$/],
      ['gpt2', { model_type: 'mistral' }, /config\.json: model_type "mistral" is not supported/],
    ];
    const results = await Promise.all(
      cases.map(([family, patch], i) => {
        const bad = join(work, `bad-${i}`);
        mkdirSync(bad);
        for (const f of ['model.safetensors', 'tokenizer.json']) copyFileSync(join(FIXTURES, family, f), join(bad, f));
        const cfg = JSON.parse(readFileSync(join(FIXTURES, family, 'config.json'), 'utf8'));
        writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...cfg, ...patch }));
        return zotune('model', 'info', bad);
      }),
    );
    results.forEach((r, i) => {
      expect(r.code, cases[i][2].source).not.toBe(0);
      // the backend and engine notes come first; the error is the one other line
      const lines = r.stderr.trim().split('\n').filter((l) => !/^zotune: (backend|engine) /.test(l));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^zotune: /);
      expect(lines[0]).toMatch(cases[i][2]);
    });
  });
});
