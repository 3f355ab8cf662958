// A run's PEFT config from what its command was told: the method and any of its settings over the
// defaults of config.ts, the adapters' init seed derived from the run seed. Beside config.ts rather than
// in it: config.ts is the light "./config" entry (zod only), and the derivation needs @zotune/tensor.
import { deriveSeed } from '@zotune/tensor';
import { DEFAULT_LORA, DEFAULT_LORA_TARGETS, DEFAULT_PREFIX_TOKENS, PEFT_SEED_DOMAIN, type PeftConfig, type PeftMethod } from './config';

/** What a command's PEFT flags give (undefined: the defaults above). */
export interface PeftChoice {
  method: PeftMethod;
  loraRank?: number;
  loraAlpha?: number;
  loraTargets?: string[];
  prefixTokens?: number;
}

/**
 * The PEFT config of a run (undefined for 'none'): the choice over the defaults, the adapters drawn
 * from deriveSeed(runSeed, PEFT_SEED_DOMAIN). A setting of the other method throws one line naming its
 * flag (--lora-rank, --lora-alpha, --lora-targets, --prefix-tokens: both commands spell them so).
 */
export function peftConfigOf(c: PeftChoice, runSeed: number): PeftConfig | undefined {
  const needs: Record<string, PeftMethod> = { loraRank: 'lora', loraAlpha: 'lora', loraTargets: 'lora', prefixTokens: 'prefix' };
  for (const [k, method] of Object.entries(needs))
    if (c[k as keyof PeftChoice] !== undefined && c.method !== method)
      throw new Error(`--${k.replace(/[A-Z]/g, (x) => '-' + x.toLowerCase())}: only with --peft ${method} (this run has --peft ${c.method})`);
  const initSeed = deriveSeed(runSeed, PEFT_SEED_DOMAIN);
  if (c.method === 'lora')
    return { method: 'lora', rank: c.loraRank ?? DEFAULT_LORA.rank, alpha: c.loraAlpha ?? DEFAULT_LORA.alpha, targets: c.loraTargets ?? [...DEFAULT_LORA_TARGETS], initSeed };
  if (c.method === 'prefix') return { method: 'prefix', tokens: c.prefixTokens ?? DEFAULT_PREFIX_TOKENS, initSeed };
  return undefined;
}
