// The model families: one architecture description per family (arch.ts) and the tfjs ops forward of
// the LayerNorm families (forward.ts); the ORT graph builder in libs/ort reads the same Arch.
export { ARCHITECTURES, archOf, familyOf, type Arch, type ArchTensor, type LayerArch, type Param } from './arch';
export { archHidden, archNorm, geluNew } from './forward';
