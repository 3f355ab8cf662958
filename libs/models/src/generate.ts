// Text generation (greedy, or sampling with a temperature and an explicit seed) and the mean
// next-token negative log-likelihood of a sequence.
import { packBatch } from './batch';
import type { Model } from './types';

export interface GenerateOptions {
  /** tokens to generate at most */
  maxTokens: number;
  /** 0 or absent: greedy (argmax); > 0: sample from softmax(logits / temperature) */
  temperature?: number;
  /** seed of the sampler (only used when temperature > 0) */
  seed?: number;
  /** generation stops after emitting one of these ids (the id is kept in the output) */
  stop?: number[];
}

/** A small seeded uniform generator (splitmix32); never Math.random. */
export function uniformSampler(seed: number): () => number {
  let state = (seed ^ 0x5bd1e995) >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    z = (z ^ (z >>> 15)) >>> 0;
    return z / 4294967296; // [0, 1)
  };
}

/** Index of the largest value (the first one on ties, as llama2.c's argmax). */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Sample from softmax(logits / temperature) with one uniform draw u in [0, 1). */
export function sampleLogits(logits: ArrayLike<number>, temperature: number, u: number): number {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) m = Math.max(m, logits[i]);
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += p[i] = Math.exp((logits[i] - m) / temperature);
  let acc = 0;
  const target = u * z;
  for (let i = 0; i < p.length; i++) {
    acc += p[i];
    if (target < acc) return i;
  }
  return p.length - 1; // rounding: u·z beyond the last cumulative sum
}

/** Logits [V] of the next token after `ids`. */
function nextLogits(model: Model, ids: number[]): Promise<Float32Array> {
  const n = ids.length;
  const batch = { batch: 1, length: n, tokens: Int32Array.from(ids), positions: Int32Array.from(ids, (_, i) => i), segments: new Int32Array(n) };
  return model.logits(batch, Int32Array.of(n - 1)); // the classifier at the last row only
}

/**
 * Continue `prompt` (token ids, BOS included by the caller) by up to maxTokens tokens; returns the
 * generated ids only. The context is capped at the model's maxSeqLen.
 */
export async function generate(model: Model, prompt: number[], opts: GenerateOptions): Promise<number[]> {
  if (prompt.length === 0) throw new Error('generate: empty prompt (pass at least the BOS id)');
  if (!(Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0)) throw new Error(`generate: maxTokens = ${opts.maxTokens}, expected an integer >= 0`);
  const temperature = opts.temperature ?? 0;
  if (!(temperature >= 0)) throw new Error(`generate: temperature = ${temperature}, expected >= 0`);
  const maxLen = model.config.maxSeqLen;
  if (prompt.length + opts.maxTokens > maxLen)
    throw new Error(`generate: prompt (${prompt.length} ids) + maxTokens (${opts.maxTokens}) exceeds the model's context of ${maxLen}`);
  const uniform = uniformSampler(opts.seed ?? 0);
  const stop = new Set(opts.stop ?? []);
  const ids = [...prompt];
  const out: number[] = [];
  while (out.length < opts.maxTokens) {
    const logits = await nextLogits(model, ids);
    const next = temperature > 0 ? sampleLogits(logits, temperature, uniform()) : argmax(logits);
    out.push(next);
    ids.push(next);
    if (stop.has(next)) break;
  }
  return out;
}

/** Greedy continuation: generate() with temperature 0. */
export function greedyGenerate(model: Model, prompt: number[], maxTokens: number, stop: number[] = []): Promise<number[]> {
  return generate(model, prompt, { maxTokens, stop });
}

/**
 * Mean next-token negative log-likelihood (nats) of `ids` (BOS first, already truncated by the caller)
 * over its ids.length − 1 predictions.
 */
export async function meanNll(model: Model, ids: number[]): Promise<number> {
  if (ids.length < 2) throw new Error(`meanNll: ${ids.length} id(s); need at least 2 (BOS and one token)`);
  if (ids.length > model.config.maxSeqLen) throw new Error(`meanNll: ${ids.length} ids exceed the model's context of ${model.config.maxSeqLen}`);
  // [ids0] as the prompt and the rest as one candidate: its mean log-prob over causal context
  const packed = packBatch([[ids[0]]], [[ids.slice(1)]]);
  return -(await model.scoreCandidates(packed))[0];
}
