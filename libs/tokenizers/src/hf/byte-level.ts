// GPT-2's byte-to-unicode table: every byte maps to a printable character, so byte-level BPE
// vocabularies are plain strings. Printable Latin-1 bytes map to themselves, the rest to U+0100 + n.

function buildTable(): string[] {
  const table: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return table;
}

/** byte → its character */
export const BYTE_TO_CHAR: readonly string[] = buildTable();
/** character → its byte */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const B = BYTE_TO_CHAR;

/**
 * The UTF-8 bytes of `s` written as byte-level characters. Encodes by hand (as TextEncoder would, a
 * lone surrogate becoming U+FFFD's bytes): this runs on every word and TextEncoder's allocation per
 * call was most of the encoder's time.
 */
export function toByteLevel(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out += B[c];
      continue;
    }
    if (c < 0x800) {
      out += B[0xc0 | (c >> 6)] + B[0x80 | (c & 0x3f)];
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out += B[0xf0 | (cp >> 18)] + B[0x80 | ((cp >> 12) & 0x3f)] + B[0x80 | ((cp >> 6) & 0x3f)] + B[0x80 | (cp & 0x3f)];
        i++;
        continue;
      }
      c = 0xfffd;
    }
    out += B[0xe0 | (c >> 12)] + B[0x80 | ((c >> 6) & 0x3f)] + B[0x80 | (c & 0x3f)];
  }
  return out;
}
