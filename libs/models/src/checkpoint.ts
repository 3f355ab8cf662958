// The checkpoint types live in types.ts beside the model interface that converts to them (toCheckpoint);
// this module keeps their old import path.
export type { Checkpoint, CheckpointFormat, HostTensor } from './types';
