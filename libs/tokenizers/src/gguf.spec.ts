import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GGUF_PRE_TOKENIZERS, mergesFromScores, tokenizerFromGguf } from './index';

// Fixtures made by scripts/fixtures/make-gguf-tokenizer-fixtures.py: a synthetic GGUF's tokenizer
// metadata and, per text, the ids and decoded text of transformers' tokenizer loaded from that GGUF.
const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures');
interface Fixture {
  meta: Record<string, unknown>;
  transformers: string;
  cases: { text: string; ids: number[]; decoded: string }[];
}
const load = (name: string): Fixture => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
const names = readdirSync(FIXTURES).filter((f) => /^gguf-.*\.json$/.test(f)).sort();

describe('tokenizerFromGguf against transformers on synthetic GGUFs', () => {
  it('has the fixtures', () => expect(names.length).toBeGreaterThanOrEqual(6));
  for (const name of names) {
    it(name, () => {
      const fx = load(name);
      const tok = tokenizerFromGguf(new Map(Object.entries(fx.meta)), name);
      expect(tok.vocabSize).toBe((fx.meta['tokenizer.ggml.tokens'] as string[]).length);
      for (const c of fx.cases) {
        expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
        expect(tok.decode(c.ids), JSON.stringify(c.text)).toBe(c.decoded);
      }
    });
  }
});

describe('tokenizerFromGguf', () => {
  const bpe = load('gguf-bpe-smollm.json');
  const withMeta = (changes: Record<string, unknown>): Map<string, unknown> => {
    const m = new Map(Object.entries(bpe.meta));
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) m.delete(k);
      else m.set(k, v);
    }
    return m;
  };

  it('refuses other tokenizer models and unknown pre-tokenizers in one line naming them', () => {
    for (const model of ['bert', 'rwkv', 't5']) {
      const msg = (() => {
        try {
          tokenizerFromGguf(withMeta({ 'tokenizer.ggml.model': model }), 'x.gguf');
        } catch (e) {
          return (e as Error).message;
        }
        return '';
      })();
      expect(msg).toBe(`x.gguf: tokenizer.ggml.model: unsupported tokenizer "${model}" (supported: "gpt2" byte-level BPE, "llama" SentencePiece BPE)`);
    }
    expect(() => tokenizerFromGguf(withMeta({ 'tokenizer.ggml.pre': 'klingon' }), 'x.gguf')).toThrow(
      /^x\.gguf: tokenizer\.ggml\.pre: unknown pre-tokenizer "klingon" \(known: .*llama-bpe.*qwen2.*smollm.*\)$/,
    );
    expect(GGUF_PRE_TOKENIZERS).toContain('llama3');
    expect(() => tokenizerFromGguf(withMeta({ 'tokenizer.ggml.model': undefined }), 'x.gguf')).toThrow(/^x\.gguf: tokenizer\.ggml\.model: missing/);
    expect(() => tokenizerFromGguf(withMeta({ 'tokenizer.ggml.tokens': [1, 2] }), 'x.gguf')).toThrow('x.gguf: tokenizer.ggml.tokens[0]: expected a string, found 1');
    expect(() => tokenizerFromGguf(withMeta({ 'tokenizer.ggml.token_type': [1] }), 'x.gguf')).toThrow(/token_type: has 1 items, expected one per token/);
    expect(() => tokenizerFromGguf(withMeta({ 'tokenizer.ggml.bos_token_id': 1n << 40n }), 'x.gguf')).toThrow(/bos_token_id: expected a token id in 0\.\.\d+, found 1099511627776/);
    expect(() => tokenizerFromGguf(withMeta({ 'tokenizer.ggml.merges': ['nospace'] }), 'x.gguf')).toThrow('x.gguf: tokenizer.ggml.merges[0]: expected "left right", found "nospace"');
  });

  it('builds every known pre-tokenizer, and each gives back the text it encoded', () => {
    const text = "Hello, World! It's 12345 — naïve 日本語 😀\n\n  x\ty  ";
    for (const pre of GGUF_PRE_TOKENIZERS) {
      const tok = tokenizerFromGguf(withMeta({ 'tokenizer.ggml.pre': pre }), 'x.gguf');
      expect(tok.decode(tok.encode(text)), pre).toBe(text);
    }
  });

  it('takes ids as bigints or typed arrays, and add_bos_token as the encode default', () => {
    const types = Int32Array.from(bpe.meta['tokenizer.ggml.token_type'] as number[]);
    const tok = tokenizerFromGguf(withMeta({ 'tokenizer.ggml.bos_token_id': 1n, 'tokenizer.ggml.token_type': types, 'tokenizer.ggml.add_bos_token': true }), 'x.gguf');
    expect(tok.bos).toBe(1);
    expect(tok.addBos).toBe(true);
    const plain = tokenizerFromGguf(withMeta({}), 'x.gguf');
    expect(tok.encode('hi')).toEqual([1, ...plain.encode('hi')]);
    expect(tok.encode('hi', { bos: false })).toEqual(plain.encode('hi'));
    expect(plain.encode('hi', { bos: true, eos: true })).toEqual([1, ...plain.encode('hi'), 2]);
  });

  it('derives merges from scores best first, ties by longer left half, then file order', () => {
    // "ab" (score -1) beats "bc" (-2); "abc" splits as ab+c and a+bc at the same score
    const tokens = ['a', 'b', 'c', 'ab', 'bc', 'abc'];
    expect(mergesFromScores(tokens, [0, 0, 0, -1, -2, -3])).toEqual([
      ['a', 'b'],
      ['b', 'c'],
      ['ab', 'c'],
      ['a', 'bc'],
    ]);
    // without scores: by id, lowest first
    expect(mergesFromScores(tokens)).toEqual([
      ['a', 'b'],
      ['b', 'c'],
      ['a', 'bc'],
      ['ab', 'c'],
    ]);
  });
});
