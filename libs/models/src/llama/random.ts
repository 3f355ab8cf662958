// Deterministic random checkpoints of any family for tests and benchmarks: the same (config, seed)
// always gives the same weights, on any machine (a plain JS generator, never Math.random).
import type { Checkpoint, HostTensor } from '../checkpoint';
import { archOf, familyOf } from '../families/arch';
import type { ModelConfig } from '../types';
import { validateModelConfig } from './names';

/** The stories15M shape (llama2.c's tinyllamas), for benchmarks with random weights. */
export const STORIES15M_CONFIG: ModelConfig = {
  dim: 288,
  hiddenDim: 768,
  nLayers: 6,
  nHeads: 6,
  nKvHeads: 6,
  vocabSize: 32000,
  maxSeqLen: 256,
  normEps: 1e-5,
  ropeTheta: 10000,
  tiedEmbeddings: true,
};

/** The stories260K shape (the real checkpoint's config). */
export const STORIES260K_CONFIG: ModelConfig = {
  dim: 64,
  hiddenDim: 172,
  nLayers: 5,
  nHeads: 8,
  nKvHeads: 4,
  vocabSize: 512,
  maxSeqLen: 512,
  normEps: 1e-5,
  ropeTheta: 10000,
  tiedEmbeddings: true,
};

/** The stories15M dimensions in each family's architecture (`zotune bench forward --shape`; random weights). */
export const FAMILY_15M_CONFIGS: Record<'qwen2' | 'opt' | 'gpt2', ModelConfig> = {
  qwen2: { ...STORIES15M_CONFIG, family: 'qwen2' },
  opt: { ...STORIES15M_CONFIG, family: 'opt', preNorm: true },
  gpt2: { ...STORIES15M_CONFIG, family: 'gpt2' },
};

/** splitmix32-style generator with Box–Muller normals; fast enough for 15M weights (~0.3 s). */
class Gaussian {
  private state: number;
  private spare: number | undefined;
  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0;
  }
  private uniform(): number {
    // splitmix32: a full-period counter through a strong mixer
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    z = (z ^ (z >>> 15)) >>> 0;
    return (z + 0.5) / 4294967296; // in (0, 1)
  }
  next(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const t = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }
}

/**
 * A random checkpoint in Hugging Face layout: embeddings, position tables and linears ~ N(0, std²)
 * (std 0.02), the residual output projections (o_proj, down_proj; OPT's out_proj, fc2; GPT-2's c_proj)
 * scaled by 1/sqrt(2·nLayers) as in GPT-2, norms = 1, biases = 0.
 */
export function randomCheckpoint(config: ModelConfig, seed = 0, opts: { std?: number } = {}): Checkpoint {
  const base = opts.std ?? 0.02;
  validateModelConfig(config, 'randomCheckpoint');
  const tensors = new Map<string, HostTensor>();
  const specs = archOf(config).tensors;
  specs.forEach((spec, i) => {
    const size = spec.hfShape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (spec.kind === 'norm') data.fill(1);
    else if (spec.kind !== 'bias') {
      const residual = /(o_proj|down_proj|out_proj|fc2|c_proj)\.weight$/.test(spec.name);
      const std = residual ? base / Math.sqrt(2 * config.nLayers) : base;
      // one stream per tensor, so adding a tensor never shifts the others
      const g = new Gaussian((Math.imul(seed >>> 0, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0);
      for (let j = 0; j < size; j++) data[j] = std * g.next();
    }
    tensors.set(spec.name, { shape: [...spec.hfShape], data });
  });
  return { family: familyOf(config), config: { ...config }, tensors, format: 'hf-safetensors', source: `random:seed=${seed}` };
}
