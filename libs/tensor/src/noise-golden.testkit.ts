// Pinned outputs of the noise specification (noise-ref.ts), shared by noise.spec.ts (every
// implementation reproduces them) and noise-scalar.spec.ts (the lean set Stryker runs on the scalar
// noise). Any implementation must reproduce these bits; they change only with the specification.

/** [seed, block, the bits of z(seed, block, 0…7)] */
export const GOLDEN: [number, number, string[]][] = [
  [0, 0, ['0xbf4db546', '0x3e1d29c3', '0xbe7faa27', '0x3c8e57ac', '0xbe9efc92', '0x3fdbad5b', '0xbfd3692b', '0xbf9653dd']],
  [42, 7, ['0xbec8b368', '0x3f1efafe', '0xbec54045', '0xbf5200f8', '0x3f05cd29', '0x3e7baeb2', '0xbf89e95e', '0x3f98fa71']],
  [0xffffffff, 0xffffffff, ['0xbf6ef945', '0xbfa6e3de', '0xbfbde6fc', '0xbe98578b', '0x3f9eff58', '0xbeb8465a', '0xbcd46f96', '0xbf885b40']],
  [123456789, 3, ['0xbe8294d6', '0xbfc37f38', '0x3e7a79c6', '0xbe883404', '0xbe266a47', '0xbfb048e3', '0xbf74e430', '0x3e058c16']],
];

/** The FNV-1a hash of the bits of z(seed, block, 0…n−1). */
export const CHECKSUM = { seed: 20260101, block: 5, n: 100_000, fnv: 0xce376373 };

/** The float32 bit patterns of a, as uint32. */
export const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
/** The bit patterns as '0x' + 8 hex digits, GOLDEN's notation. */
export const hex = (a: Float32Array): string[] => bits(a).map((x) => '0x' + x.toString(16).padStart(8, '0'));
/** GOLDEN's row as float32 values. */
export const goldenValues = (row: string[]): Float32Array => new Float32Array(Uint32Array.from(row, (h) => Number.parseInt(h, 16)).buffer);
