// `zotune model info|generate|nll MODEL`: inspect a checkpoint, continue a prompt, measure the mean
// next-token NLL of a text. MODEL: a name under the data dir's models/, a llama2.c .bin with its
// tokenizer beside it, or a Hugging Face directory.
import { readFileSync } from 'node:fs';
import { generate, meanNll, resolveModel, type Model, type ResolvedModel } from '@zotune/models';
import { engineNote, engineReport, openModel, type EngineChoice, forwardEngine } from '@zotune/engine';
import { UserError, emit, parseNumber, usageError } from '@zotune/report';
import { initBackend, parseBackend, type BackendChoice } from '@zotune/tensor';

export interface CommonFlags {
  backend?: string;
  engine?: string;
  threads?: string;
  json?: boolean;
}

export interface GenerateFlags extends CommonFlags {
  prompt?: string;
  maxTokens?: string;
  temperature?: string;
  seed?: string;
}

export interface NllFlags extends CommonFlags {
  textFile?: string;
  maxTokens?: string;
}


interface Loaded {
  resolved: ResolvedModel;
  model: Model;
  backend: BackendChoice;
  engine: EngineChoice;
}

async function load(arg: string, flags: CommonFlags): Promise<Loaded> {
  let pref;
  try {
    pref = flags.backend !== undefined ? parseBackend(flags.backend, '--backend') : parseBackend(process.env.ZOTUNE_BACKEND, 'ZOTUNE_BACKEND');
  } catch (e) {
    throw new UserError((e as Error).message, 2);
  }
  const backend = await initBackend(pref);
  const engine = await forwardEngine(flags, backend).catch(usageError);
  process.stderr.write(engineNote(engine));
  let resolved: ResolvedModel;
  try {
    resolved = resolveModel(arg);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  return { resolved, model: await openModel(resolved.checkpoint, engine), backend, engine };
}


export async function info(arg: string, flags: CommonFlags): Promise<void> {
  const { resolved, model, backend, engine } = await load(arg, flags);
  const parameters = model.blocks.reduce((a, b) => a + b.size, 0);
  const result = {
    name: resolved.name,
    family: model.family,
    parameters,
    blocks: model.blocks.length,
    backend: backend.name,
    engine: engineReport(engine),
    config: model.config,
    format: resolved.checkpoint.format,
    source: resolved.checkpoint.source,
    tokenizer: { path: resolved.tokenizerPath, vocabSize: resolved.tokenizer.vocabSize, bos: resolved.tokenizer.bos, eos: resolved.tokenizer.eos },
    blockList: model.blocks.map((b) => ({ name: b.name, shape: b.shape, kind: b.kind, size: b.size })),
  };
  const c = model.config;
  const human = [
    `${resolved.name}: ${model.family}, ${parameters.toLocaleString('en-US')} parameters in ${model.blocks.length} blocks (${resolved.checkpoint.format}, ${resolved.checkpoint.source})`,
    `dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} kv), vocab ${c.vocabSize}, context ${c.maxSeqLen}, ${c.tiedEmbeddings ? 'tied' : 'separate'} classifier`,
    ...model.blocks.map((b) => `  ${String(b.index).padStart(3)} ${b.name} [${b.shape.join(', ')}] ${b.kind}`),
  ].join('\n');
  await model.dispose();
  emit(result, !!flags.json, human);
}

export async function gen(arg: string, flags: GenerateFlags): Promise<void> {
  const maxTokens = parseNumber('--max-tokens', flags.maxTokens, { int: true, min: 0 });
  const temperature = flags.temperature === undefined ? 0 : parseNumber('--temperature', flags.temperature, { min: 0 });
  const seed = parseNumber('--seed', flags.seed, { int: true, min: 0 });
  const { resolved, model, backend, engine } = await load(arg, flags);
  const tok = resolved.tokenizer;
  if (tok.bos < 0 && (flags.prompt === undefined || flags.prompt === '')) throw new UserError(`--prompt: ${resolved.tokenizerPath} has no BOS token; give a prompt`, 2);
  const promptIds = flags.prompt === undefined || flags.prompt === '' ? [tok.bos] : tok.encode(flags.prompt, { bos: tok.addBos ?? tok.bos >= 0 });
  const room = model.config.maxSeqLen - promptIds.length;
  if (maxTokens > room)
    throw new UserError(`--max-tokens: ${maxTokens} with a ${promptIds.length}-token prompt exceeds the model's context of ${model.config.maxSeqLen} (at most ${Math.max(room, 0)})`, 2);
  const stop = [tok.bos, tok.eos].filter((id) => id >= 0);
  const t0 = performance.now();
  const ids = await generate(model, promptIds, { maxTokens, temperature, seed, stop });
  const seconds = (performance.now() - t0) / 1000;
  await model.dispose();
  // the continuation's text as it reads after the prompt (decode drops the space of a sequence's first piece)
  const full = tok.decode([...promptIds, ...ids]);
  const before = tok.decode(promptIds);
  const text = full.startsWith(before) ? full.slice(before.length) : tok.decode(ids);
  const result = {
    text,
    ids,
    promptIds,
    fullText: full,
    tokens: ids.length,
    stopped: ids.length > 0 && stop.includes(ids[ids.length - 1]),
    temperature,
    seed,
    model: resolved.name,
    backend: backend.name,
    engine: engineReport(engine),
    seconds,
    tokensPerSecond: ids.length / Math.max(seconds, 1e-9),
  };
  process.stderr.write(`zotune model generate: ${ids.length} tokens in ${seconds.toFixed(2)} s\n`);
  emit(result, !!flags.json, full);
}

export async function nll(arg: string, flags: NllFlags): Promise<void> {
  if (flags.textFile === undefined) throw new UserError('--text-file: required (the text to score)', 2);
  let text: string;
  try {
    text = readFileSync(flags.textFile, 'utf8');
  } catch (e) {
    throw new UserError(`--text-file: ${flags.textFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 2);
  }
  const maxTokensFlag = flags.maxTokens === undefined ? undefined : parseNumber('--max-tokens', flags.maxTokens, { int: true, min: 2 });
  const { resolved, model, backend, engine } = await load(arg, flags);
  const context = model.config.maxSeqLen;
  if (maxTokensFlag !== undefined && maxTokensFlag > context)
    throw new UserError(`--max-tokens: ${maxTokensFlag} exceeds the model's context of ${context}`, 2);
  const limit = maxTokensFlag ?? context;
  const tok = resolved.tokenizer;
  const all = tok.encode(text, { bos: tok.addBos ?? tok.bos >= 0 });
  const ids = all.slice(0, limit);
  if (ids.length < 2) throw new UserError(`--text-file: ${flags.textFile} encodes to ${ids.length} id(s); need at least 2 to predict one`, 2);
  const t0 = performance.now();
  const value = await meanNll(model, ids);
  const seconds = (performance.now() - t0) / 1000;
  await model.dispose();
  const result = {
    nll: value,
    tokens: ids.length,
    predictions: ids.length - 1,
    perplexity: Math.exp(value),
    truncated: all.length > ids.length,
    textTokens: all.length,
    ids,
    model: resolved.name,
    backend: backend.name,
    engine: engineReport(engine),
    seconds,
  };
  emit(result, !!flags.json, `nll ${value.toFixed(5)} nats (perplexity ${Math.exp(value).toFixed(3)}) over ${ids.length - 1} predictions of ${ids.length} tokens`);
}
