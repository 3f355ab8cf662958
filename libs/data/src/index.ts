export * from './dir';
export * from './readers';
export * from './manifest';
export * from './check';
export * from './pull';
export { crc32, extractZipEntry, readZipDirectory, type ZipEntry } from './zip';
export { hashFile } from './install';
export * from './ensure';
export { pullProgressPrinter } from './progress';
