// What a PEFT run trains instead of the model's own blocks: LoRA adapters on chosen linears, or
// per-layer key/value prefixes. Plain zod-validated data: it goes into config.json and the
// trajectory header, with the seed the adapters were initialised from.
import { z } from 'zod';

/** MeZO's LoRA setting: r = 8, alpha = 16. */
export const DEFAULT_LORA = { rank: 8, alpha: 16 } as const;
/** MeZO's prefix length. */
export const DEFAULT_PREFIX_TOKENS = 5;
/** Keeps the adapters' init seed apart from a run's other streams: initSeed = deriveSeed(runSeed, PEFT_SEED_DOMAIN). */
export const PEFT_SEED_DOMAIN = 0x70656674; // 'peft'

/** MeZO's LoRA targets (q_proj, v_proj); short names expand to the layer's self_attn / mlp linears. */
export const DEFAULT_LORA_TARGETS = ['q_proj', 'v_proj'] as const;

export const loraConfigSchema = z.strictObject({
  method: z.literal('lora'),
  /** rank r: A [in, r], B [r, out] */
  rank: z.number().int().min(1).max(4096),
  /** the update is (alpha / r)·A·B */
  alpha: z.number().positive(),
  /** module names inside a decoder layer (q_proj, v_proj, …; HF names as the model's blocks use them) */
  targets: z.array(z.string().regex(/^[A-Za-z0-9_.]+$/)).min(1),
  /** A is drawn from this seed (B starts at zero) */
  initSeed: z.number().int().min(0).max(0xffffffff),
});

export const prefixConfigSchema = z.strictObject({
  method: z.literal('prefix'),
  /** prefix positions every token attends to, per layer */
  tokens: z.number().int().min(1).max(4096),
  /** the random tokens whose projections initialise the prefixes derive from this seed */
  initSeed: z.number().int().min(0).max(0xffffffff),
});

export const peftConfigSchema = z.discriminatedUnion('method', [loraConfigSchema, prefixConfigSchema]);
export type LoraConfig = z.infer<typeof loraConfigSchema>;
export type PrefixConfig = z.infer<typeof prefixConfigSchema>;
export type PeftConfig = z.infer<typeof peftConfigSchema>;
export const PEFT_METHODS = ['none', 'lora', 'prefix'] as const;
export type PeftMethod = (typeof PEFT_METHODS)[number];

/**
 * --lora-targets q,v or q_proj,v_proj → ['q_proj', 'v_proj']: a bare one-letter attention name gets
 * its `_proj`; anything else is taken as the module name. Throws one line naming the flag.
 */
export function parseLoraTargets(arg: string, flag = '--lora-targets'): string[] {
  const parts = arg.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new Error(`${flag}: expected a comma-separated list of module names (q,v or q_proj,v_proj), got "${arg}"`);
  const out = parts.map((p) => (/^[qkvo]$/.test(p) ? `${p}_proj` : p));
  for (const p of out) if (!/^[A-Za-z0-9_.]+$/.test(p)) throw new Error(`${flag}: "${p}" is not a module name (letters, digits, _ and . only)`);
  if (new Set(out).size !== out.length) throw new Error(`${flag}: "${arg}" names a module twice`);
  return out;
}

/** A short label of the setting, e.g. lora-r8-a16-q_proj,v_proj or prefix-n5. */
export function peftLabel(c: PeftConfig | undefined): string {
  if (!c) return 'full';
  return c.method === 'lora' ? `lora-r${c.rank}-a${c.alpha}-${c.targets.join(',')}` : `prefix-n${c.tokens}`;
}
