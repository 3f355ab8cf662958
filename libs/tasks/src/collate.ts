// Tokenisation and batching of task examples into the model's packed candidate format.
//
// Prompt ids are [BOS] + encode(prompt). A candidate's ids are the tokens it gets when the model
// reads prompt + candidate: this SentencePiece tokenizer prepends a space to every encode() call, so
// we encode the prompt's last character together with the candidate and drop that character's
// tokens. " terrible" after "It was" gives encode("terrible") = " t","er","ri","b","le" (what the
// PyTorch peer uses); "Yes" after "?\n" gives "Y","es" (encode("Yes") would read " Yes": a space
// after the newline). Merges never cross a word start, so [BOS] + encode(prompt) + candidate ids
// equals encode(prompt + candidate) on every built-in task (tested).
import { packBatch, type PackedBatch } from '@zotune/models';
import type { Example, Task, TaskKind } from './types';

/** The part of a tokenizer collation needs (every @zotune/tokenizers Tokenizer has it). */
export interface TextTokenizer {
  readonly bos: number;
  /** false: the model's tokenizer adds no BOS (SmolLM2's GGUF), so prompts start with their first token */
  readonly addBos?: boolean;
  encode(text: string, opts?: { bos?: boolean }): number[];
}

export interface EncodedExample {
  /** [BOS] (unless the tokenizer adds none) + prompt ids, left-truncated (BOS kept) so that prompt + the longest candidate fits maxSeqLen */
  prompt: number[];
  /** ids of each candidate continuation, never empty */
  candidates: number[][];
  gold: number;
  /** prompt tokens dropped by truncation */
  truncated: number;
}

export interface TaskBatch {
  kind: TaskKind;
  /** examples in the batch (rows of packed) */
  size: number;
  packed: PackedBatch;
  /** [size] gold candidate of each row (0 when packed with the gold candidate only) */
  gold: Int32Array;
  /** [numTargets] 1 where the target is a token of its row's gold candidate (teacher-forced CE) */
  goldMask: Float32Array;
  /** number of gold-candidate tokens (the CE's denominator) */
  goldTokens: number;
}

/** The ids `candidate` has when it follows text ending in `before` (see the file comment). */
export function continuationIds(tok: TextTokenizer, before: string, candidate: string): number[] {
  const last = Array.from(before).at(-1) ?? '';
  const ctx = tok.encode(last);
  const full = tok.encode(last + candidate);
  let k = 0;
  // normally ctx is a prefix of full; if the boundary merged, keep the tokens from the first difference
  while (k < ctx.length && k < full.length && ctx[k] === full[k]) k++;
  const ids = full.slice(k);
  if (ids.length === 0) throw new Error(`candidate ${JSON.stringify(candidate)} has no tokens of its own after ${JSON.stringify(last)}`);
  return ids;
}

/** Tokenise each example once (cached per example object) and pack batches of them. */
export class Collator {
  private readonly cache = new WeakMap<Example, EncodedExample>();
  private readonly candCache = new Map<string, number[]>();

  constructor(
    readonly task: Task,
    readonly tokenizer: TextTokenizer,
    /** the model's context length (positions 0..maxSeqLen-1) */
    readonly maxSeqLen: number,
  ) {}

  encode(ex: Example): EncodedExample {
    const hit = this.cache.get(ex);
    if (hit) return hit;
    const r = this.task.render(ex);
    const last = Array.from(r.prompt).at(-1) ?? '';
    const candidates = r.candidates.map((c) => {
      const key = `${last}\u0000${c}`;
      let ids = this.candCache.get(key);
      if (!ids) {
        ids = continuationIds(this.tokenizer, r.prompt, c);
        // fixed candidates (" great", "Yes") repeat across examples; per-example ones (COPA's) do not
        if (this.candCache.size < 4096) this.candCache.set(key, ids);
      }
      return ids;
    });
    const longest = Math.max(...candidates.map((c) => c.length));
    // a tokenizer without BOS (Qwen2's) starts the prompt with its first token
    const bos = this.tokenizer.bos >= 0 && this.tokenizer.addBos !== false ? [this.tokenizer.bos] : [];
    const room = this.maxSeqLen - longest - bos.length; // prompt tokens after BOS that fit
    if (room < 1) throw new Error(`${ex.id}: a candidate of task ${this.task.name} has ${longest} tokens; the model's context is ${this.maxSeqLen}`);
    const body = this.tokenizer.encode(r.prompt);
    // MeZO truncates from the left: the question and the candidates' cue sit at the end
    const truncated = Math.max(0, body.length - room);
    const enc: EncodedExample = { prompt: [...bos, ...body.slice(truncated)], candidates, gold: r.gold, truncated };
    this.cache.set(ex, enc);
    return enc;
  }

  /** Pack examples. `goldOnly` packs only the gold candidate (teacher-forced CE needs nothing else). */
  batch(examples: Example[], opts: { goldOnly?: boolean } = {}): TaskBatch {
    return collate(examples.map((e) => this.encode(e)), this.task.kind, opts);
  }
}

/** Pack encoded examples into one TaskBatch; `trimLast`: packBatch's (scoring needs no candidate's last token). */
export function collate(encoded: EncodedExample[], kind: TaskKind, opts: { goldOnly?: boolean; trimLast?: boolean } = {}): TaskBatch {
  const prompts = encoded.map((e) => e.prompt);
  const cands = encoded.map((e) => (opts.goldOnly ? [e.candidates[e.gold]] : e.candidates));
  const gold = Int32Array.from(encoded, (e) => (opts.goldOnly ? 0 : e.gold));
  const packed = packBatch(prompts, cands, { trimLast: opts.trimLast });
  const K = packed.numCandidates;
  const goldMask = new Float32Array(packed.targetGroup.length);
  let goldTokens = 0;
  for (let n = 0; n < goldMask.length; n++) {
    const g = packed.targetGroup[n];
    if (g % K === gold[Math.floor(g / K)]) {
      goldMask[n] = 1;
      goldTokens++;
    }
  }
  return { kind, size: encoded.length, packed, gold, goldMask, goldTokens };
}
