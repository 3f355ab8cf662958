// SmolLM2-135M-Instruct's tokenizer, built by tokenizerFromGguf from the GGUF's metadata alone, against
// Hugging Face transformers loading the same file (tests/fixtures/smollm2/tokenizer-ref.json.gz, written
// by scripts/fixtures/make-smollm2-tokenizer-ref.py): identical ids on a varied text set and on the
// first 2,000 lines of both corpora, the same decoded text, and decode(encode(text)) === text.
// The GGUF is $ZOTUNE_SMOLLM2_GGUF, else $ZOTUNE_DATA/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf;
// without it the tests report skipped.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@zotune/data';
import { ggufValues, readGguf } from '@zotune/gguf';
import { tokenizerFromGguf, type Tokenizer } from '@zotune/tokenizers';

interface Reference {
  model: string;
  sha256: string;
  transformers: string;
  texts: { text: string; ids: number[]; decoded: string }[];
  /** corpus file name → ids of each of its first lines */
  corpora: Record<string, number[][]>;
}

const GGUF =
  process.env.ZOTUNE_SMOLLM2_GGUF || join(process.env.ZOTUNE_DATA ?? join(REPO_ROOT, 'data'), 'models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf');
const present = existsSync(GGUF);
const ref = JSON.parse(gunzipSync(readFileSync(join(REPO_ROOT, 'tests/fixtures/smollm2/tokenizer-ref.json.gz'))).toString('utf8')) as Reference;

describe.skipIf(!present)(`SmolLM2 tokenizer from ${GGUF} against transformers ${ref.transformers}`, () => {
  let tok: Tokenizer;
  /** the control tokens' text (token_type 3: ids 0..16 here), which decode drops */
  let control: string[];
  beforeAll(() => {
    const sha = createHash('sha256').update(readFileSync(GGUF)).digest('hex');
    if (sha !== ref.sha256) throw new Error(`${GGUF}: sha256 ${sha} is not the reference's model (${ref.model}, ${ref.sha256})`);
    const meta = ggufValues(readGguf(GGUF));
    tok = tokenizerFromGguf(meta, GGUF);
    const tokens = meta.get('tokenizer.ggml.tokens') as string[];
    control = Array.from(meta.get('tokenizer.ggml.token_type') as ArrayLike<number>).flatMap((type, id) => (type === 3 ? [tokens[id]] : []));
  });

  it('has the metadata transformers read: 49,152 ids, BOS <|im_start|>, EOS <|im_end|>, no BOS added', () => {
    expect(tok.vocabSize).toBe(49152);
    expect([tok.bos, tok.eos, tok.addBos, tok.addEos]).toEqual([1, 2, false, false]);
    expect(control.length).toBe(17);
  });

  it(`gives transformers' ids on the ${ref.texts.length} texts, and its decoded text`, () => {
    expect(ref.texts.length).toBeGreaterThanOrEqual(40);
    for (const { text, ids, decoded } of ref.texts) {
      expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
      expect(tok.decode(ids), JSON.stringify(text)).toBe(decoded);
      // decode drops special tokens, so only text without control tokens comes back whole
      if (!control.some((c) => text.includes(c))) expect(tok.decode(tok.encode(text)), JSON.stringify(text)).toBe(text);
    }
  });

  for (const name of ['tinystories-valid.txt', 'wikitext-2-valid.txt']) {
    it(`gives transformers' ids on the first 2,000 lines of ${name}, and decodes them back`, () => {
      const want = ref.corpora[name];
      expect(want.length).toBe(2000);
      const lines = readFileSync(join(process.env.ZOTUNE_DATA!, 'corpora', name), 'utf8').split('\n').slice(0, want.length);
      const wrongIds: number[] = [];
      const wrongText: number[] = [];
      let tokens = 0;
      const t0 = performance.now();
      const got = lines.map((line) => tok.encode(line));
      const ms = performance.now() - t0;
      got.forEach((ids, i) => {
        tokens += ids.length;
        if (ids.length !== want[i].length || ids.some((id, j) => id !== want[i][j])) wrongIds.push(i);
        if (tok.decode(ids) !== lines[i]) wrongText.push(i);
      });
      process.stderr.write(`${name}: ${lines.length} lines, ${tokens} tokens encoded in ${ms.toFixed(0)} ms = ${Math.round((tokens / ms) * 1000)} tokens/s\n`);
      const show = (i: number | undefined): string => (i === undefined ? '' : `first at line ${i + 1}: ${JSON.stringify(lines[i].slice(0, 80))}`);
      expect(wrongIds.length, `lines whose ids differ; ${show(wrongIds[0])}`).toBe(0);
      expect(wrongText.length, `lines that do not decode back; ${show(wrongText[0])}`).toBe(0);
    });
  }
});
