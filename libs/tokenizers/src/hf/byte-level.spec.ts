import { describe, expect, it } from 'vitest';
import { BYTE_TO_CHAR, toByteLevel } from './byte-level';

describe('toByteLevel', () => {
  const encoder = new TextEncoder();
  const viaTextEncoder = (s: string): string => Array.from(encoder.encode(s), (b) => BYTE_TO_CHAR[b]).join('');

  it('writes the UTF-8 bytes TextEncoder gives, lone surrogates as U+FFFD', () => {
    const samples = ['', 'Hello', ' é', '\u07ff\u0800\uffff', '日本語', '😀👍🏽', '\ud800', 'a\udc00b', 'x\ud83d', String.fromCodePoint(0x10ffff)];
    for (let cp = 0; cp < 0x110000; cp += 97) samples.push(String.fromCodePoint(cp));
    for (const s of samples) expect(toByteLevel(s), JSON.stringify(s)).toBe(viaTextEncoder(s));
    expect(toByteLevel(' hi\n')).toBe('Ġhi\u010a');
  });
});
