export * from './atomic';
export * from './crc32';
export * from './errors';
export * from './workspace';
