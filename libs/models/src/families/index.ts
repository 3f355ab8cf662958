// The model families: one architecture description per family (arch.ts), walked by the loader, the
// tfjs forward (tfjs/model.ts) and the ORT graph builder (libs/ort).
export { ARCHITECTURES, archOf, familyOf, type Arch, type ArchTensor, type LayerArch, type Param } from './arch';
