// The PEFT settings as config.json and the trajectory header hold them: the schemas' bounds, strict
// keys (a stray key is refused, not carried into the header), and --lora-targets' parsing.
import { describe, expect, test } from 'vitest';
import { DEFAULT_LORA_TARGETS, PEFT_METHODS, parseLoraTargets, peftConfigSchema } from './config';

describe('PEFT config', () => {
  test('the defaults and the methods', () => {
    expect(DEFAULT_LORA_TARGETS).toEqual(['q_proj', 'v_proj']);
    expect(PEFT_METHODS).toEqual(['none', 'lora', 'prefix']);
  });

  test('lora: rank 1…4096, alpha > 0, at least one module name, a uint32 seed; no other key', () => {
    const ok = { method: 'lora', rank: 8, alpha: 16, targets: ['q_proj'], initSeed: 0 };
    expect(peftConfigSchema.parse(ok)).toEqual(ok);
    expect(peftConfigSchema.parse({ ...ok, rank: 4096, initSeed: 0xffffffff })).toMatchObject({ rank: 4096 });
    for (const bad of [{ rank: 0 }, { rank: 4097 }, { rank: 1.5 }, { alpha: 0 }, { targets: [] }, { targets: ['q/v'] }, { initSeed: -1 }, { initSeed: 2 ** 32 }, { extra: 1 }])
      expect(peftConfigSchema.safeParse({ ...ok, ...bad }).success, JSON.stringify(bad)).toBe(false);
  });

  test('prefix: tokens 1…4096 and a uint32 seed; no other key', () => {
    const ok = { method: 'prefix', tokens: 5, initSeed: 3 };
    expect(peftConfigSchema.parse(ok)).toEqual(ok);
    expect(peftConfigSchema.parse({ ...ok, tokens: 4096 })).toMatchObject({ tokens: 4096 });
    for (const bad of [{ tokens: 0 }, { tokens: 4097 }, { initSeed: 2 ** 32 }, { rank: 8 }, { method: 'none' }])
      expect(peftConfigSchema.safeParse({ ...ok, ...bad }).success, JSON.stringify(bad)).toBe(false);
  });

  test('--lora-targets: q, k, v, o expand to *_proj; names are trimmed; every refusal names the flag', () => {
    expect(parseLoraTargets('q,k,v,o')).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj']);
    expect(parseLoraTargets(' c_attn ')).toEqual(['c_attn']);
    expect(parseLoraTargets('qq')).toEqual(['qq']); // only a bare one-letter q/k/v/o expands
    expect(parseLoraTargets('x_proj')).toEqual(['x_proj']);
    expect(() => parseLoraTargets('', '--t')).toThrow('--t: expected a comma-separated list of module names (q,v or q_proj,v_proj), got ""');
    expect(() => parseLoraTargets('q, ,v')).toThrow('--lora-targets: expected a comma-separated list of module names (q,v or q_proj,v_proj), got "q, ,v"');
    expect(() => parseLoraTargets('q-v')).toThrow('--lora-targets: "q-v" is not a module name (letters, digits, _ and . only)');
    expect(() => parseLoraTargets('v,v_proj')).toThrow('--lora-targets: "v,v_proj" names a module twice');
  });
});
