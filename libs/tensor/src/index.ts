export * from './backend';
export * from './noise-ref';
export * from './noise';
export * from './perturb';
export * from './noise-arrays';
export * from './noise-pool';
