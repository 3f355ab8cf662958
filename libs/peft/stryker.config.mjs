// nx run @zotune/peft:mutate — the LoRA and prefix adapters and their config. Only the lib's own
// tests count here: tests/peft.test.ts (the e2e project) imports @zotune/peft through node_modules,
// which resolves to the workspace's sources, not Stryker's mutated sandbox.
import { strykerConfig } from '../../tools/stryker.base.mjs';

export default strykerConfig({
  project: 'libs/peft',
  mutate: ['libs/peft/src/adapter.ts', 'libs/peft/src/lora.ts', 'libs/peft/src/prefix.ts', 'libs/peft/src/config.ts'],
});
