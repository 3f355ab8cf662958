// The packed candidate batch: the input format of Model.tokenLogProbs / scoreCandidates.
// Each row holds one example: its prompt, then every candidate continuation. A candidate's tokens
// attend to the prompt and to earlier tokens of the same candidate only ("tree" packing), and their
// positions restart at the prompt's length, so the prompt is computed once for all candidates and
// each candidate sees exactly what it would see in its own sequence [prompt + candidate].
// `trimLast` leaves out every candidate's last token: it predicts no target (token i is predicted by
// token i − 1) and no other token attends to it (only its own candidate's later tokens could), so the
// scores are those of the full packing while a row is K tokens shorter (a one-token candidate takes no
// slot at all: SST-2's rows are prompt only).

/** Segment id of a padding slot. Prompt tokens are segment 0, candidate c is segment c + 1. */
export const PAD_SEGMENT = -1;

export interface PackedBatch {
  /** rows (examples) */
  batch: number;
  /** padded row length */
  length: number;
  /** candidates per example (K) */
  numCandidates: number;
  /** [batch, length] token ids, 0 in padding */
  tokens: Int32Array;
  /** [batch, length] RoPE position of each token */
  positions: Int32Array;
  /** [batch, length] segment of each token: PAD_SEGMENT, 0 (prompt) or c + 1 (candidate c) */
  segments: Int32Array;
  /** [numTargets] flat index (row * length + t) of the position whose logits predict the target */
  predIndex: Int32Array;
  /** [numTargets] the target token id */
  targetIds: Int32Array;
  /** [numTargets] group of the target: row * numCandidates + candidate */
  targetGroup: Int32Array;
  /** [batch * numCandidates] number of tokens of each candidate (its score is the mean over them) */
  groupSize: Int32Array;
}

/** A plain causal batch's fields (no targets): what a forward over every row needs. */
export type PlainBatch = Pick<PackedBatch, 'batch' | 'length' | 'tokens' | 'positions' | 'segments'>;

export interface PackOptions {
  /** leave out each candidate's last token (see the file comment): scoring only, no forward over every slot; default false */
  trimLast?: boolean;
}

/**
 * Pack examples: prompts[b] (token ids, BOS included by the caller) and candidates[b][c] (ids of
 * candidate c, never empty). Every example must have the same number of candidates.
 */
export function packBatch(prompts: number[][], candidates: number[][][], opts: PackOptions = {}): PackedBatch {
  const drop = opts.trimLast ? 1 : 0; // slots a candidate does not take
  const batch = prompts.length;
  if (batch === 0) throw new Error('packBatch: empty batch');
  if (candidates.length !== batch) throw new Error(`packBatch: ${batch} prompts but ${candidates.length} candidate lists`);
  const K = candidates[0].length;
  let length = 0;
  let numTargets = 0;
  for (let b = 0; b < batch; b++) {
    if (prompts[b].length === 0) throw new Error(`packBatch: example ${b} has an empty prompt`);
    if (candidates[b].length !== K) throw new Error(`packBatch: example ${b} has ${candidates[b].length} candidates, expected ${K}`);
    let rowLen = prompts[b].length;
    for (const c of candidates[b]) {
      if (c.length === 0) throw new Error(`packBatch: example ${b} has an empty candidate`);
      rowLen += c.length - drop;
      numTargets += c.length;
    }
    length = Math.max(length, rowLen);
  }
  const tokens = new Int32Array(batch * length);
  const positions = new Int32Array(batch * length);
  const segments = new Int32Array(batch * length).fill(PAD_SEGMENT);
  const predIndex = new Int32Array(numTargets);
  const targetIds = new Int32Array(numTargets);
  const targetGroup = new Int32Array(numTargets);
  const groupSize = new Int32Array(batch * K);
  let n = 0;
  for (let b = 0; b < batch; b++) {
    const row = b * length;
    const P = prompts[b].length;
    for (let t = 0; t < P; t++) {
      tokens[row + t] = prompts[b][t];
      positions[row + t] = t;
      segments[row + t] = 0;
    }
    let at = P;
    for (let c = 0; c < K; c++) {
      const cand = candidates[b][c];
      groupSize[b * K + c] = cand.length;
      for (let i = 0; i < cand.length; i++) {
        if (i < cand.length - drop) {
          tokens[row + at + i] = cand[i];
          positions[row + at + i] = P + i;
          segments[row + at + i] = c + 1;
        }
        // token i of the candidate is predicted by the last prompt token (i = 0) or by candidate token i - 1
        predIndex[n] = i === 0 ? row + P - 1 : row + at + i - 1;
        targetIds[n] = cand[i];
        targetGroup[n] = b * K + c;
        n++;
      }
      at += cand.length - drop;
    }
  }
  return { batch, length, numCandidates: K, tokens, positions, segments, predIndex, targetIds, targetGroup, groupSize };
}

/** A plain causal batch (language modelling): rows right-padded, positions 0..n-1, one segment. */
export function packSequences(rows: number[][]): PlainBatch {
  const batch = rows.length;
  const length = Math.max(...rows.map((r) => r.length));
  const tokens = new Int32Array(batch * length);
  const positions = new Int32Array(batch * length);
  const segments = new Int32Array(batch * length).fill(PAD_SEGMENT);
  rows.forEach((r, b) => r.forEach((id, t) => {
    tokens[b * length + t] = id;
    positions[b * length + t] = t;
    segments[b * length + t] = 0;
  }));
  return { batch, length, tokens, positions, segments };
}

/** Throws naming the field when a batch does not fit a model of `config` (sizes, token ids, positions). */
export function checkPlainBatch(b: PlainBatch, config: { vocabSize: number; maxSeqLen: number }): void {
  const n = b.batch * b.length;
  if (!(b.batch > 0 && b.length > 0)) throw new Error(`batch: empty (batch ${b.batch}, length ${b.length})`);
  for (const k of ['tokens', 'positions', 'segments'] as const)
    if (b[k].length !== n) throw new Error(`batch.${k}: ${b[k].length} entries, expected batch·length = ${n}`);
  checkIndex(b.tokens, config.vocabSize, 'tokens');
  checkIndex(b.positions, config.maxSeqLen, 'positions');
}

/** Throws naming batch.<what>[i] when an entry is outside [0, bound). */
export function checkIndex(a: Int32Array, bound: number, what: string): void {
  for (let i = 0; i < a.length; i++)
    if (!(a[i] >= 0 && a[i] < bound)) throw new Error(`batch.${what}[${i}] = ${a[i]}, expected 0 <= value < ${bound}`);
}
