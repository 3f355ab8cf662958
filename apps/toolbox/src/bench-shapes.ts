// The model shapes `bench forward --shape` knows, by name: its help (commands.ts) lists them without
// loading the models lib, and bench-forward.ts maps each to its config (a type error if one is missing).
export const FORWARD_SHAPES = ['stories15M', 'stories260K', 'qwen2-15M', 'opt-15M', 'gpt2-15M'] as const;
export type ForwardShape = (typeof FORWARD_SHAPES)[number];
