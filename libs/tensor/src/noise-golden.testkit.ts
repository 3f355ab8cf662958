// Pinned outputs of the noise specification (noise-ref.ts), both streams, shared by noise.spec.ts and
// noise-stream2.spec.ts (every implementation reproduces them) and noise-scalar.spec.ts (the lean set
// Stryker runs on the scalar noise). They change only with the specification.

/** Stream 1: [seed, block, the bits of z(seed, block, 0…7)] */
export const GOLDEN: [number, number, string[]][] = [
  [0, 0, ['0xbf4db546', '0x3e1d29c3', '0xbe7faa27', '0x3c8e57ac', '0xbe9efc92', '0x3fdbad5b', '0xbfd3692b', '0xbf9653dd']],
  [42, 7, ['0xbec8b368', '0x3f1efafe', '0xbec54045', '0xbf5200f8', '0x3f05cd29', '0x3e7baeb2', '0xbf89e95e', '0x3f98fa71']],
  [0xffffffff, 0xffffffff, ['0xbf6ef945', '0xbfa6e3de', '0xbfbde6fc', '0xbe98578b', '0x3f9eff58', '0xbeb8465a', '0xbcd46f96', '0xbf885b40']],
  [123456789, 3, ['0xbe8294d6', '0xbfc37f38', '0x3e7a79c6', '0xbe883404', '0xbe266a47', '0xbfb048e3', '0xbf74e430', '0x3e058c16']],
];

/** Stream 1: the FNV-1a hash of the bits of z(seed, block, 0…n−1). */
export const CHECKSUM = { seed: 20260101, block: 5, n: 100_000, fnv: 0xce376373 };

/** Stream 2 (trajectory format version 4), as GOLDEN. */
export const GOLDEN_STREAM2: [number, number, string[]][] = [
  [0, 0, ['0xbdaecec3', '0xbea211cd', '0x3e8bfd17', '0x3fd3fe67', '0xbf5d4167', '0x3fd4dfe7', '0xbed571f7', '0xbe87d72d']],
  [42, 7, ['0xbe782fdc', '0x3f8590be', '0x3ea81f01', '0xbd87e85b', '0x3fa87e53', '0xbe988e2c', '0x402acd10', '0xbde9d3ac']],
  [0xffffffff, 0xffffffff, ['0x3eef7c4b', '0x3f6afd18', '0xbf6459e2', '0x3fdb919e', '0xbdac4e1d', '0xbfcd6643', '0x3fb16e4a', '0xbeb923a4']],
  [123456789, 3, ['0x3f34e360', '0x3f9afc32', '0x3fa85535', '0x3e9591a5', '0x3ecbbd39', '0x3fa7f5d0', '0x40119f8d', '0x3f50abcc']],
];

/** Stream 2, as CHECKSUM. */
export const CHECKSUM_STREAM2 = { seed: 20260101, block: 5, n: 100_000, fnv: 0x33224c8c };

/** A GOLDEN row as float32 values. */
export const goldenValues = (row: string[]): Float32Array => new Float32Array(Uint32Array.from(row, (h) => Number.parseInt(h, 16)).buffer);
