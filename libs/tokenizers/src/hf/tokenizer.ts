// A Hugging Face tokenizer.json with a BPE model: Llama-2 style (Prepend/Replace normalizers or the
// Metaspace pre-tokenizer, byte fallback) and GPT-2 / Llama-3 style (ByteLevel, regex Split).
import { checkId, type EncodeOptions, type Tokenizer } from '../types';
import { AddedTokenSplitter, parseAddedTokens, type AddedToken } from './added-tokens';
import { buildBpeModel, type BpeModel } from './bpe-model';
import { buildDecoder, type Decoder } from './decoders';
import { type Json, type JsonObject, JsonReader } from './json';
import { buildNormalizer, type Normalizer } from './normalizers';
import { buildPreTokenizer, type PreTokenizer } from './pre-tokenizers';

export interface HfTokenizerOptions {
  /** BOS token text (e.g. from tokenizer_config.json); otherwise the post-processor's or a known name */
  bosToken?: string;
  /** EOS token text */
  eosToken?: string;
  /** BOS id, when the caller knows it (a GGUF's tokenizer.ggml.bos_token_id; -1: none); wins over bosToken */
  bosId?: number;
  /** EOS id (a GGUF's tokenizer.ggml.eos_token_id); wins over eosToken */
  eosId?: number;
  /** encode() adds BOS unless told otherwise (a GGUF's add_bos_token) */
  addBos?: boolean;
  /** encode() adds EOS unless told otherwise */
  addEos?: boolean;
}

const KNOWN_BOS = ['<s>', '<|begin_of_text|>', '<bos>', '<|startoftext|>'];
const KNOWN_EOS = ['</s>', '<|end_of_text|>', '<eos>', '<|endoftext|>'];

export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf-bpe' as const;
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  readonly addBos?: boolean;
  readonly addEos?: boolean;
  private readonly normalizer: Normalizer;
  private readonly preTokenizer: PreTokenizer;
  private readonly decoder: Decoder;
  private readonly model: BpeModel;
  private readonly splitter: AddedTokenSplitter;
  private readonly idToToken: string[] = [];
  private readonly special = new Set<number>();

  constructor(json: Json, readonly source: string, opts: HfTokenizerOptions = {}) {
    const r = new JsonReader(source);
    const root = r.object(json, 'tokenizer.json');
    const model = r.object(root.model, 'model');
    const type = model.type ?? (model.merges !== undefined ? 'BPE' : undefined);
    if (type !== 'BPE') r.fail('model.type', `unsupported model type ${JSON.stringify(type ?? null)} (expected "BPE")`);
    const added = parseAddedTokens(r, root.added_tokens, 'added_tokens');
    const maxAdded = added.reduce((m, t) => Math.max(m, t.id), -1);
    this.model = buildBpeModel(r, model, 'model', (vocabMax) => Math.max(vocabMax, maxAdded));
    for (const [tok, id] of this.model.vocab) this.idToToken[id] = tok;
    for (const t of added) {
      this.idToToken[t.id] = t.content;
      if (t.special) this.special.add(t.id);
    }
    this.vocabSize = this.idToToken.length;
    this.normalizer = buildNormalizer(r, root.normalizer, 'normalizer');
    this.preTokenizer = buildPreTokenizer(r, root.pre_tokenizer, 'pre_tokenizer');
    this.decoder = buildDecoder(r, root.decoder, 'decoder');
    this.splitter = new AddedTokenSplitter(added);
    const template = templateSpecials(root.post_processor);
    this.bos = opts.bosId ?? this.specialId(r, 'bos', opts.bosToken, template.bos, KNOWN_BOS, added);
    this.eos = opts.eosId ?? this.specialId(r, 'eos', opts.eosToken, template.eos, KNOWN_EOS, added);
    for (const [what, id] of [['bos', opts.bosId], ['eos', opts.eosId]] as const)
      if (id !== undefined && id !== -1 && (!Number.isInteger(id) || id < 0 || id >= this.vocabSize))
        r.fail(`${what}_token_id`, `${id} is out of range (expected an integer in 0..${this.vocabSize - 1})`);
    if (opts.addBos !== undefined) this.addBos = opts.addBos;
    if (opts.addEos !== undefined) this.addEos = opts.addEos;
  }

  private specialId(r: JsonReader, what: string, named: string | undefined, fromTemplate: string | undefined, known: string[], added: AddedToken[]): number {
    const lookup = (s: string): number | undefined => added.find((t) => t.content === s)?.id ?? this.model.vocab.get(s);
    if (named !== undefined) {
      const id = lookup(named);
      if (id === undefined) r.fail(`${what}_token`, `${JSON.stringify(named)} is not a token of this tokenizer`);
      return id;
    }
    for (const s of fromTemplate !== undefined ? [fromTemplate] : known) {
      const id = lookup(s);
      if (id !== undefined) return id;
    }
    return -1;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.bos ?? this.addBos) {
      if (this.bos < 0) throw new Error(`${this.source}: encode with bos: this tokenizer has no BOS token`);
      out.push(this.bos);
    }
    for (const seg of this.splitter.split(text)) {
      if ('id' in seg) {
        out.push(seg.id);
        continue;
      }
      const normalized = this.normalizer(seg.text);
      if (normalized.length === 0) continue;
      for (const w of this.preTokenizer([{ text: normalized, first: seg.start === 0 }])) for (const id of this.model.tokenize(w.text)) out.push(id);
    }
    if (opts.eos ?? this.addEos) {
      if (this.eos < 0) throw new Error(`${this.source}: encode with eos: this tokenizer has no EOS token`);
      out.push(this.eos);
    }
    return out;
  }

  decode(ids: number[]): string {
    const tokens: string[] = [];
    for (const id of ids) {
      checkId(this, id);
      if (!this.special.has(id)) tokens.push(this.idToToken[id] ?? '');
    }
    return this.decoder(tokens, false).join('');
  }

  decodeToken(id: number): string {
    checkId(this, id);
    if (this.special.has(id)) return '';
    return this.decoder([this.idToToken[id] ?? ''], true).join('');
  }

  /** The vocabulary string of an id (e.g. "▁the", "Ġthe", "<0x0A>"). */
  tokenString(id: number): string {
    checkId(this, id);
    return this.idToToken[id] ?? '';
  }
}

/** BOS/EOS named by a TemplateProcessing post-processor: special tokens before/after $A. */
function templateSpecials(v: Json | undefined): { bos?: string; eos?: string } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
  const o = v as JsonObject;
  if (o.type === 'Sequence' && Array.isArray(o.processors)) {
    for (const p of o.processors) {
      const found = templateSpecials(p);
      if (found.bos !== undefined || found.eos !== undefined) return found;
    }
    return {};
  }
  if (o.type !== 'TemplateProcessing' || !Array.isArray(o.single)) return {};
  const items = o.single as Json[];
  const seqAt = items.findIndex((it) => typeof it === 'object' && it !== null && !Array.isArray(it) && 'Sequence' in it);
  const specialAt = (i: number): string | undefined => {
    const it = items[i];
    if (typeof it !== 'object' || it === null || Array.isArray(it)) return undefined;
    const st = it.SpecialToken;
    if (typeof st !== 'object' || st === null || Array.isArray(st)) return undefined;
    return typeof st.id === 'string' ? st.id : undefined;
  };
  return { bos: seqAt > 0 ? specialAt(0) : undefined, eos: seqAt >= 0 && seqAt < items.length - 1 ? specialAt(items.length - 1) : undefined };
}
