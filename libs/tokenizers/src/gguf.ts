// A tokenizer from a GGUF file's metadata (llama.cpp's tokenizer.ggml.* keys): no tokenizer.json needed.
// Like transformers' GGUF loader (integrations/gguf/gguf_tokenizer_mapping.py), we build the
// tokenizer.json object the file implies and hand it to HfTokenizer, so there is one BPE, not two:
//   gpt2  → byte-level BPE: vocab (tokens respelled into the byte alphabet), merges, ByteLevel
//           pre-tokenizer/decoder, the split regex chosen by tokenizer.ggml.pre;
//   llama → SentencePiece BPE: vocab, merges (from the file, else derived from the scores), byte
//           fallback, Metaspace ▁, decoder Replace/ByteFallback/Fuse/Strip.
// Control tokens (token_type 3) and the bos/eos/unk/pad tokens become special added tokens, matched in
// the raw text before BPE; user-defined ones (4) plain added tokens.
import { BYTE_TO_CHAR, toByteLevel } from './hf/byte-level';
import type { Json, JsonObject } from './hf/json';
import { HfTokenizer } from './hf/tokenizer';
import type { Tokenizer } from './types';

/** llama.cpp's token types (gguf-py TokenType) */
const CONTROL = 3;
const USER_DEFINED = 4;

const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN35_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const TEKKEN_SPLIT =
  '[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*' +
  '|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';
const GPT4O_SPLIT =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
  "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
  '|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';

/** How a `tokenizer.ggml.pre` splits text before byte-level BPE: regexes applied in turn (each match
 * isolated), then GPT-2's own split when `gpt2`; `ignoreMerges`: a word that is a token is that token. */
interface PreSplit {
  regexes: string[];
  gpt2: boolean;
  ignoreMerges?: boolean;
}

// The pre-tokenizer names are llama.cpp's (src/llama-vocab.cpp: the values its converter writes), and so
// are the regexes, which restate each model's own tokenizer.json. transformers' GGUF loader knows some
// of the names (llama3/llama-bpe, qwen2, qwen35, tekken, gpt-4o, ...), with the same regexes, and
// splits every other vocabulary with GPT-2's regex. Where the two differ:
//  - smollm, starcoder & co.: llama.cpp isolates each \p{N} character first (SmolLM's tokenizer.json
//    has Digits(individual)); transformers does not. We follow transformers, whose ids are the
//    reference: the vocabulary has no merge across an ASCII digit, so the two differ only where a
//    space precedes another numeral (' ½', ' Ⅻ'), which transformers joins as byte-level 'Ġâ…';
//  - llama3 & co., tekken: llama.cpp sets ignore_merges (a word that is a token is that token), as
//    Llama-3's tokenizer.json does; transformers does not. We follow llama.cpp: a trained vocabulary
//    reaches its own tokens through its merges, so this rarely changes an id.
const PRE_SPLITS = new Map<string, PreSplit>();
const gpt2Family: PreSplit = { regexes: [], gpt2: true };
const llama3Family: PreSplit = { regexes: [LLAMA3_SPLIT], gpt2: false, ignoreMerges: true };
for (const name of ['gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v2-es', 'jina-v2-de', 'a.x-4.0', 'mellum', 'modern-bert'])
  PRE_SPLITS.set(name, gpt2Family);
for (const name of ['mpt', 'olmo', 'jais', 'trillion', 'granite-docling', 'exaone4', 'roberta-bpe', 'jina-v1-en', 'jina-v2-code'])
  PRE_SPLITS.set(name, gpt2Family);
for (const name of ['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b', 'mellum2']) PRE_SPLITS.set(name, gpt2Family);
for (const name of ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'])
  PRE_SPLITS.set(name, llama3Family);
for (const name of ['dbrx', 'smaug-bpe', 'glm4', 'chatglm-bpe']) PRE_SPLITS.set(name, { regexes: [LLAMA3_SPLIT], gpt2: false });
for (const name of ['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'megrez', 'stablelm2', 'hunyuan', 'solar-open'])
  PRE_SPLITS.set(name, { regexes: [QWEN2_SPLIT], gpt2: false });
PRE_SPLITS.set('qwen35', { regexes: [QWEN35_SPLIT], gpt2: false });
PRE_SPLITS.set('tekken', { regexes: [TEKKEN_SPLIT], gpt2: false, ignoreMerges: true });
for (const name of ['gpt-4o', 'llama4', 'kanana2', 'talkie', 'minimax-m2']) PRE_SPLITS.set(name, { regexes: [GPT4O_SPLIT], gpt2: false });
// No `pre` (old files) or "default": llama.cpp warns and uses a generic split; transformers uses GPT-2's,
// which is what a GPT-2 style vocabulary without a stated pre-tokenizer was trained with.
PRE_SPLITS.set('default', gpt2Family);

/** The `tokenizer.ggml.pre` values tokenizerFromGguf knows. */
export const GGUF_PRE_TOKENIZERS: readonly string[] = [...PRE_SPLITS.keys()].sort();

/** Typed reads of the metadata map, failing with the file and the key. */
class Meta {
  constructor(
    private readonly meta: ReadonlyMap<string, unknown>,
    readonly source: string,
  ) {}

  fail(key: string, problem: string): never {
    throw new Error(`${this.source}: ${key}: ${problem}`);
  }

  has(key: string): boolean {
    return this.meta.get(key) !== undefined;
  }

  string(key: string): string;
  string(key: string, optional: true): string | undefined;
  string(key: string, optional = false): string | undefined {
    const v = this.meta.get(key);
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string') this.fail(key, `expected a string, found ${describe(v)}`);
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.meta.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(key, `expected true or false, found ${describe(v)}`);
    return v;
  }

  /** A token id: a non-negative integer (numbers or bigints) below `limit`, or undefined when absent. */
  id(key: string, limit: number): number | undefined {
    const v = this.meta.get(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= limit)
      this.fail(key, `expected a token id in 0..${limit - 1}, found ${describe(v)}`);
    return n;
  }

  strings(key: string): string[];
  strings(key: string, optional: true): string[] | undefined;
  strings(key: string, optional = false): string[] | undefined {
    const v = this.meta.get(key);
    if (v === undefined && optional) return undefined;
    if (!Array.isArray(v)) this.fail(key, `expected an array of strings, found ${describe(v)}`);
    v.forEach((s, i) => {
      if (typeof s !== 'string') this.fail(`${key}[${i}]`, `expected a string, found ${describe(s)}`);
    });
    return v as string[];
  }

  /** A numeric array of exactly `length` items (bigints converted), or undefined when absent. */
  numbers(key: string, length: number): number[] | undefined {
    const v = this.meta.get(key);
    if (v === undefined) return undefined;
    const arr = ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number | bigint>) : v;
    if (!Array.isArray(arr)) this.fail(key, `expected an array of numbers, found ${describe(v)}`);
    if (arr.length !== length) this.fail(key, `has ${arr.length} items, expected one per token (${length})`);
    return arr.map((x, i) => {
      const n = typeof x === 'bigint' ? Number(x) : x;
      if (typeof n !== 'number' || Number.isNaN(n)) this.fail(`${key}[${i}]`, `expected a number, found ${describe(x)}`);
      return n;
    });
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** A tokenizer.json vocab object; later duplicates win, as in transformers' dict comprehension. */
function vocabObject(tokens: readonly string[]): JsonObject {
  const vocab = Object.create(null) as JsonObject; // tokens such as "__proto__" stay plain keys
  tokens.forEach((t, i) => (vocab[t] = i));
  return vocab;
}

/** "left right" → [left, right], split at the first space after the first character (as llama.cpp). */
function parseMerges(m: Meta, key: string, merges: readonly string[]): Json[] {
  return merges.map((s, i) => {
    const at = s.indexOf(' ', 1);
    if (at < 0) m.fail(`${key}[${i}]`, `expected "left right", found ${JSON.stringify(s)}`);
    return [s.slice(0, at), s.slice(at + 1)];
  });
}

/**
 * Merges implied by a vocabulary with scores (transformers' generate_merges): every split of a token
 * into two tokens is a merge ranked by the whole token's score, best first; ties by the lengths of the
 * two halves (longer first), then by file order. `scores` undefined: ranked by id, lowest first.
 */
export function mergesFromScores(tokens: readonly string[], scores?: readonly number[]): [string, string][] {
  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => vocab.set(t, i));
  const scoreOf = new Map<string, number>();
  tokens.forEach((t, i) => scoreOf.set(t, scores ? scores[i] : i));
  const merges: { l: string; r: string; score: number; ll: number; lr: number }[] = [];
  for (const [token, score] of scoreOf) {
    const cps = [...token]; // Python slices by code point
    const local: { l: string; r: string; score: number; ll: number; lr: number }[] = [];
    for (let k = 1; k < cps.length; k++) {
      const l = cps.slice(0, k).join('');
      const r = cps.slice(k).join('');
      if (vocab.has(l) && vocab.has(r)) local.push({ l, r, score, ll: k, lr: cps.length - k });
    }
    local.sort((a, b) => vocab.get(a.l)! - vocab.get(b.l)! || vocab.get(a.r)! - vocab.get(b.r)!);
    merges.push(...local);
  }
  // Python's sorted(..., reverse=True) keeps equal keys in their original order, as does a stable sort
  // on the negated comparison
  const sign = scores ? -1 : 1;
  merges.sort((a, b) => sign * (a.score - b.score || a.ll - b.ll || a.lr - b.lr));
  return merges.map(({ l, r }) => [l, r]);
}

interface Specials {
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
}

function addedToken(id: number, content: string, special: boolean): JsonObject {
  return { id, content, special, normalized: false, lstrip: false, rstrip: false, single_word: false };
}

/**
 * Added tokens as transformers' add_gguf_special_tokens makes them: control tokens special (in a
 * byte-level vocabulary only those spelled in the byte alphabet: others are llama.cpp mislabels),
 * user-defined ones plain; plus the bos/eos/unk/pad tokens, which transformers registers as special.
 */
function addedTokens(tokens: readonly string[], types: readonly number[] | undefined, ids: Specials, inAlphabet?: (t: string) => boolean): JsonObject[] {
  const out = new Map<number, JsonObject>();
  types?.forEach((type, id) => {
    const t = tokens[id];
    if (t.length === 0) return;
    if (type === CONTROL && (inAlphabet === undefined || inAlphabet(t))) out.set(id, addedToken(id, t, true));
    else if (type === USER_DEFINED) out.set(id, addedToken(id, t, false));
  });
  for (const id of [ids.bos, ids.eos, ids.unk, ids.pad]) if (id !== undefined && tokens[id].length > 0) out.set(id, addedToken(id, tokens[id], true));
  // a content seen twice keeps its last id, as a vocabulary dict would
  const byContent = new Map<string, JsonObject>();
  for (const t of [...out.values()].sort((a, b) => (a.id as number) - (b.id as number))) byContent.set(t.content as string, t);
  return [...byContent.values()];
}

/** A tokenizer from a GGUF file's metadata (plain values: strings, numbers, bigints, booleans, arrays). */
export function tokenizerFromGguf(meta: ReadonlyMap<string, unknown>, source: string): Tokenizer {
  const m = new Meta(meta, source);
  const model = m.string('tokenizer.ggml.model', true);
  if (model === undefined) m.fail('tokenizer.ggml.model', 'missing: this GGUF has no tokenizer (expected "gpt2" or "llama")');
  const tokens = m.strings('tokenizer.ggml.tokens');
  if (tokens.length === 0) m.fail('tokenizer.ggml.tokens', 'is empty');
  const n = tokens.length;
  const types = m.numbers('tokenizer.ggml.token_type', n);
  const ids: Specials = {
    bos: m.id('tokenizer.ggml.bos_token_id', n),
    eos: m.id('tokenizer.ggml.eos_token_id', n),
    unk: m.id('tokenizer.ggml.unknown_token_id', n),
    pad: m.id('tokenizer.ggml.padding_token_id', n),
  };
  const mergesKey = 'tokenizer.ggml.merges';
  const fileMerges = m.strings(mergesKey, true);
  let json: JsonObject;
  let addBos: boolean;
  switch (model) {
    case 'gpt2':
      json = byteLevelJson(m, tokens, types, ids, fileMerges);
      addBos = m.bool('tokenizer.ggml.add_bos_token') ?? false;
      break;
    case 'llama':
      json = sentencePieceJson(m, tokens, types, ids, fileMerges);
      // llama.cpp and transformers add BOS to a sentencepiece vocabulary that does not say otherwise
      addBos = m.bool('tokenizer.ggml.add_bos_token') ?? true;
      break;
    default:
      return m.fail('tokenizer.ggml.model', `unsupported tokenizer ${JSON.stringify(model)} (supported: "gpt2" byte-level BPE, "llama" SentencePiece BPE)`);
  }
  const addEos = m.bool('tokenizer.ggml.add_eos_token') ?? false;
  if (addBos && ids.bos === undefined) m.fail('tokenizer.ggml.bos_token_id', 'missing, but add_bos_token asks for BOS');
  if (addEos && ids.eos === undefined) m.fail('tokenizer.ggml.eos_token_id', 'missing, but add_eos_token asks for EOS');
  return new HfTokenizer(json, source, { bosId: ids.bos ?? -1, eosId: ids.eos ?? -1, addBos, addEos });
}

function byteLevelJson(m: Meta, tokens: readonly string[], types: readonly number[] | undefined, ids: Specials, fileMerges: string[] | undefined): JsonObject {
  const alphabet = new Set(BYTE_TO_CHAR);
  const inAlphabet = (t: string): boolean => [...t].every((c) => alphabet.has(c));
  // a token written with characters outside the byte alphabet is respelled byte by byte
  const spelled = tokens.map((t) => (inAlphabet(t) ? t : toByteLevel(t)));
  const merges = fileMerges ? parseMerges(m, 'tokenizer.ggml.merges', fileMerges) : mergesFromScores(spelled);
  const pre = m.string('tokenizer.ggml.pre', true) ?? 'default';
  const split = PRE_SPLITS.get(pre);
  if (!split) m.fail('tokenizer.ggml.pre', `unknown pre-tokenizer ${JSON.stringify(pre)} (known: ${GGUF_PRE_TOKENIZERS.join(', ')})`);
  const pretokenizers: Json[] = split.regexes.map((Regex) => ({ type: 'Split', pattern: { Regex }, behavior: 'Isolated', invert: false }));
  pretokenizers.push({ type: 'ByteLevel', add_prefix_space: false, use_regex: split.gpt2 });
  return {
    added_tokens: addedTokens(tokens, types, ids, inAlphabet),
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers },
    decoder: { type: 'ByteLevel' },
    model: {
      type: 'BPE',
      vocab: vocabObject(spelled),
      merges,
      unk_token: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: split.ignoreMerges ?? false,
    },
  };
}

function sentencePieceJson(m: Meta, tokens: readonly string[], types: readonly number[] | undefined, ids: Specials, fileMerges: string[] | undefined): JsonObject {
  const arch = m.string('general.architecture', true);
  // transformers builds these differently (Gemma respells whitespace tokens and ranks merges by file
  // order; Phi-3 prepends ▁ with a normalizer): not done here
  if (arch !== undefined && /^(gemma\d*|phi3)$/.test(arch))
    m.fail('general.architecture', `a "llama" tokenizer of architecture "${arch}" is not supported (supported: SentencePiece tokenizers of other architectures)`);
  let merges: Json[];
  if (fileMerges) merges = parseMerges(m, 'tokenizer.ggml.merges', fileMerges);
  else {
    const scores = m.numbers('tokenizer.ggml.scores', tokens.length);
    if (!scores) m.fail('tokenizer.ggml.scores', 'missing: a "llama" tokenizer without merges needs scores to derive them');
    merges = mergesFromScores(tokens, scores);
  }
  // llama.cpp prepends ▁ to the text unless add_space_prefix is false; transformers' LlamaTokenizer
  // always does (prepend_scheme "first": only at the very start, not after an added token) and
  // ignores the key, so for add_space_prefix false we follow llama.cpp, which the model was made for
  const addSpacePrefix = m.bool('tokenizer.ggml.add_space_prefix') ?? true;
  const decoders: Json[] = [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }];
  if (addSpacePrefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  const vocab = vocabObject(tokens);
  return {
    added_tokens: addedTokens(tokens, types, ids),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: addSpacePrefix ? 'first' : 'never', split: false },
    decoder: { type: 'Sequence', decoders },
    model: {
      type: 'BPE',
      vocab,
      merges,
      // transformers' LlamaTokenizer names "<unk>" whatever the file says; without it an unknown
      // character (one byte fallback cannot spell) is dropped
      unk_token: '<unk>' in vocab ? '<unk>' : null,
      fuse_unk: true,
      byte_fallback: true,
    },
  };
}
