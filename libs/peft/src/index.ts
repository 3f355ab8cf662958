// @zotune/peft: parameter-efficient ZO. An Adapter owns the trainable blocks (LoRA A/B, or per-layer
// key/value prefixes) and shows the base model through them; it works on any Model (either engine) by
// the Hugging Face names of its blocks, on both engines (LoRA: a branch in the ORT graph, merged
// weights on tfjs).
//
//   const adapter = createAdapter(model, { method: 'lora', rank: 8, alpha: 16, targets: ['q_proj', 'v_proj'], initSeed });
//   est.step({ blocks: adapter.blocks, lossValue: () => objective(adapter.model, batch), … });
//   await est.update(adapter.blocks, record);
//   writeSafetensors(file, adapter.tensors());              // the adapter; adapter.merged(): full LoRA weights
import type { Model } from '@zotune/models';
import type { Adapter } from './adapter';
import type { PeftConfig } from './config';
import { createLora } from './lora';
import { createPrefix } from './prefix';

export { sameBits, withSync, type Adapter, type AdapterApplied } from './adapter';
export * from './config';
export { peftConfigOf, type PeftChoice } from './choice';
export { createLora, loraTargetProblem, loraTargets, mergeInto, PEFT_PREFIX } from './lora';
export { createPrefix, prefixInitTokens } from './prefix';

/** The adapter of a PEFT config over a model (its blocks hold the base weights). */
export function createAdapter(model: Model, config: PeftConfig): Adapter {
  switch (config.method) {
    case 'lora':
      return createLora(model, config);
    case 'prefix':
      return createPrefix(model, config);
  }
}
