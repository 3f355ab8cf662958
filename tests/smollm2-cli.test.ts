// SmolLM2-135M through the bin: model info reads the GGUF, a MeZO finetune killed with SIGKILL
// resumes to the uninterrupted run's bits, replay rebuilds the weights and writes them back as a GGUF
// that loads, and a truncated or foreign GGUF is refused in one line without touching the file.
import { copyFileSync, mkdtempSync, openSync, readFileSync, closeSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openTrajectory } from '@zotune/artifacts';
import { REPO_ROOT } from '@zotune/data';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, json } from './cli.testkit';
import { requireSmollm2, skipWithoutSmollm2 } from './smollm2.testkit';

const DATA = process.env.ZOTUNE_DATA ? resolve(process.env.ZOTUNE_DATA) : resolve(REPO_ROOT, '../shared/data');
const work = mkdtempSync(join(tmpdir(), 'zotune-smollm2-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { killAfter, zotune } = cli(work, DATA);

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe.skipIf(skipWithoutSmollm2())('smollm2-135m through the bin', () => {
  let gguf: string;
  beforeAll(() => {
    gguf = requireSmollm2();
  });

  test('model info: a llama of 134.5M parameters in 272 blocks, read from the GGUF', async () => {
    const info = json(await zotune('model', 'info', gguf, '--json'));
    expect(info).toMatchObject({ family: 'llama', format: 'gguf' });
    expect(info.parameters).toBe(134_515_008);
    expect(info.blocks).toBe(272);
  }, 120_000);

  test('finetune: kill -9 and --resume match the uninterrupted run; replay == saved weights; --format gguf loads back', async () => {
    const steps = 3;
    const args = (out: string) => ['finetune', '--model', gguf, '--task', 'sst2', '--estimator', 'mezo', '--steps', String(steps), '--eval-every', String(steps), '--seed', '5', '--save-final', '--eval-n', '8', '--test-n', '8', '--batch', '4', '--policy', 'none', '--threads', '1', '--out', out, '--json'];
    const a = join(work, 'whole');
    const b = join(work, 'killed');
    const whole = zotune(...args(a));
    const traj = join(b, 'trajectory');
    await killAfter(args(b), traj, 1);
    const atKill = openTrajectory(traj).records.length;
    expect(atKill).toBeLessThan(steps);
    const [sa, sb] = [json(await whole), json(await zotune('finetune', '--resume', b, '--json'))];
    expect(sb.resumedAt).toBe(atKill);
    for (const f of ['final.safetensors', 'model.safetensors']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expect(sb.finalTrainLoss).toBe(sa.finalTrainLoss);

    // the trajectory alone rebuilds the final weights, byte for byte
    const replayed = join(work, 'replay.safetensors');
    expect(json(await zotune('replay', a, '--out', replayed, '--json'))).toMatchObject({ steps, format: 'safetensors' });
    expect(readFileSync(replayed).equals(readFileSync(join(a, 'final.safetensors')))).toBe(true);

    // and as a GGUF (F16): it loads as a model again, with the tokenizer of the base file
    const out = join(work, 'tuned.gguf');
    expect(json(await zotune('replay', a, '--out', out, '--format', 'gguf', '--gguf-type', 'f16', '--json'))).toMatchObject({ steps, format: 'gguf-f16', wrote: 'weights' });
    const back = json(await zotune('model', 'info', out, '--json'));
    expect(back).toMatchObject({ family: 'llama', format: 'gguf', parameters: 134_515_008 });
    const nll = json(await zotune('model', 'nll', out, '--text-file', join(REPO_ROOT, 'tests/fixtures/smollm2/README.md'), '--max-tokens', '64', '--json'));
    expect(nll.nll).toBeGreaterThan(0);
    expect(nll.nll).toBeLessThan(6);
  }, 900_000);

  test('the demo preset (configs/runs/smollm2-demo.json), shortened: mr, MeZO at lr 3e-5, zero-shot and fine-tuned test accuracy', async () => {
    const out = join(work, 'demo');
    const s = json(await zotune('finetune', '--config', 'smollm2-demo', '--model', gguf, '--steps', '2', '--eval-every', '2', '--eval-n', '8', '--test-n', '16', '--batch', '4', '--threads', '1', '--out', out, '--json'));
    expect(s).toMatchObject({ task: 'mr', estimator: 'mezo', policy: 'none', lr: 3e-5, eps: 1e-3, steps: 2, testN: 16, peft: 'full' });
    for (const acc of [s.zeroShotTestAcc, s.testAcc]) expect(acc * 16).toBeCloseTo(Math.round(acc * 16), 9); // a count of 16
    expect(Number.isFinite(s.finalTrainLoss)).toBe(true);
  }, 600_000);

  test("by name, with no --lr: the model's own lr for what is trained (MODEL_LR), and the run says so", async () => {
    const r = await zotune('finetune', '--model', 'smollm2-135m', '--task', 'sst2', '--peft', 'lora', '--steps', '1', '--eval-every', '1', '--eval-n', '4', '--test-n', '4', '--batch', '2', '--threads', '1', '--out', join(work, 'own-lr'), '--json');
    expect(json(r)).toMatchObject({ estimator: 'mezo', lr: 1e-3, peft: 'lora-r8-a16-q_proj,v_proj' });
    expect(r.stderr).toContain("finetune: lr 0.001, smollm2-135m's own for mezo with --peft lora (see --help for --lr; --lr sets another)");
    const given = await zotune('finetune', '--model', 'smollm2-135m', '--task', 'sst2', '--peft', 'lora', '--lr', '1e-4', '--steps', '1', '--eval-every', '1', '--eval-n', '4', '--test-n', '4', '--batch', '2', '--threads', '1', '--out', join(work, 'given-lr'), '--json');
    expect(json(given).lr).toBe(1e-4);
    expect(given.stderr).not.toContain("'s own for");
  }, 600_000);

  /** stderr without the backend and engine notes: the error is the one other line */
  const errorLines = (stderr: string) => stderr.trim().split('\n').filter((l) => !/^zotune: (backend|engine) /.test(l));

  test('a truncated GGUF and a file that is not one: one line, non-zero exit, the file unchanged', async () => {
    // the first 4 MiB: header and metadata whole, tensor data cut short
    const cut = join(work, 'cut.gguf');
    const buf = Buffer.alloc(4 << 20);
    const fd = openSync(gguf, 'r');
    readSync(fd, buf, 0, buf.length, 0);
    closeSync(fd);
    writeFileSync(cut, buf);
    const before = sha(cut);
    const r = await zotune('model', 'info', cut);
    expect(r.code).not.toBe(0);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^zotune: .*cut\.gguf: truncated GGUF file: tensor token_embd\.weight .* needs bytes \d+\.\.\d+, the file has 4194304$/)]);
    expect(sha(cut)).toBe(before);
    const notGguf = join(work, 'empty.gguf');
    copyFileSync(join(REPO_ROOT, 'tests/fixtures/smollm2/README.md'), notGguf);
    const e = await zotune('model', 'info', notGguf);
    expect(e.code).not.toBe(0);
    expect(errorLines(e.stderr)).toEqual([expect.stringMatching(/^zotune: .*empty\.gguf: /)]);
  }, 120_000);
});
