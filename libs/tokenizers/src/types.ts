// The tokenizer interface every model family uses (llama2.c binary vocabularies and Hugging Face
// tokenizer.json files both implement it).

export interface EncodeOptions {
  /** prepend the BOS id (default: the tokenizer's `addBos`, else false) */
  bos?: boolean;
  /** append the EOS id (default: the tokenizer's `addEos`, else false) */
  eos?: boolean;
}

export interface Tokenizer {
  /** 'llama2c' (tok*.bin) or 'hf-bpe' (tokenizer.json); optional so that test doubles stay small */
  readonly kind?: 'llama2c' | 'hf-bpe';
  /** number of ids (the largest id + 1) */
  readonly vocabSize: number;
  /** beginning-of-sequence id, or -1 when the tokenizer has none */
  readonly bos: number;
  /** end-of-sequence id, or -1 when the tokenizer has none */
  readonly eos: number;
  /** the file it was read from */
  readonly source?: string;
  /**
   * whether the file asks for BOS on every encoded text (GGUF tokenizer.ggml.add_bos_token); absent: it
   * does not say, and prompts start with BOS whenever there is one. SmolLM2 has a BOS id (<|im_start|>)
   * but adds none, so its task prompts start with their first token, as transformers encodes them.
   */
  readonly addBos?: boolean;
  /** whether the file asks for EOS on every encoded text (GGUF tokenizer.ggml.add_eos_token) */
  readonly addEos?: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  /** text of a sequence: special tokens dropped, byte tokens joined into UTF-8, leading space after BOS removed */
  decode(ids: number[]): string;
  /** text of one token as it reads inside a sequence (leading space kept; a lone partial UTF-8 byte gives U+FFFD) */
  decodeToken(id: number): string;
}

/** Throw unless `id` is an integer in [0, vocabSize). */
export function checkId(tok: Tokenizer, id: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= tok.vocabSize)
    throw new Error(`${tok.source ?? 'tokenizer'}: token id ${id} is out of range (expected an integer in 0..${tok.vocabSize - 1})`);
}

/** Lossy UTF-8 decoding that keeps a leading byte-order mark (the bytes are the text). */
export const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
