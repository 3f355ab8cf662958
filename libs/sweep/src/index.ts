// @zotune/sweep: sweeps of fine-tune runs — the spec and its stable run keys, the results directory,
// the local pool of finetune processes, the BullMQ queue (submit, work, collect) and the report.
export * from './spec';
export * from './stats';
export * from './store';
export * from './launch';
export * from './local';
export * from './queue';
export * from './report';
