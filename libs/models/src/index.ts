export * from './batch';
export * from './types';
export * from './block';
export * from './checkpoint';
export * from './config';
export * from './io';
export * from './llama';
export * from './families';
