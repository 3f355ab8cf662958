export * from './dir';
export * from './readers';
export * from './manifest';
export * from './derived';
export * from './check';
export * from './pull';
export { crc32, extractZipEntry, readZipDirectory, type ZipEntry } from './zip';
export { hashFile } from './install';
