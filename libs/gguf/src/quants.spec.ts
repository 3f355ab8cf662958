// The dequantizers, Q8_0 quantization and fp32 → fp16 rounding against gguf-py, bit for bit: the
// fixtures are random blocks with edge-case scales and gguf-py's output on them
// (scripts/fixtures/make-gguf-quants.sh).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dequantize, f32ToF16Bits, GGML_TYPES, ggmlTypeInfo, quantizeQ8_0 } from './index';
import { FIXTURES, firstBitDifference, readF32File } from './python.testkit';

const Q = join(FIXTURES, 'quants');
const bytes = (name: string) => new Uint8Array(readFileSync(join(Q, name)));

describe('dequantize, bit for bit with gguf.quants.dequantize', () => {
  for (const type of GGML_TYPES.filter((t) => t !== 'F32')) {
    it(type, () => {
      const raw = bytes(`${type}.bin`);
      const ref = readF32File(join(Q, `${type}.f32`));
      const { blockSize, typeSize } = ggmlTypeInfo(type);
      expect(raw.length).toBe((ref.length / blockSize) * typeSize);
      const ours = dequantize(type, raw, ref.length);
      const at = firstBitDifference(ours, ref);
      expect(at, at < 0 ? '' : `element ${at}: ours ${ours[at]}, gguf-py ${ref[at]}`).toBe(-1);
    });
  }

  it('F32 is the bytes themselves, wherever they sit in their buffer', () => {
    const src = new Float32Array([1.5, -0, Number.NaN, 3e38]);
    const shifted = new Uint8Array(17);
    shifted.set(new Uint8Array(src.buffer), 1);
    expect(firstBitDifference(dequantize('F32', shifted.subarray(1), 4), src)).toBe(-1);
  });

  it('refuses a byte count that does not match the element count', () => {
    expect(() => dequantize('Q4_1', new Uint8Array(19), 32)).toThrow('dequantize Q4_1: 32 elements need 20 bytes, got 19');
    expect(() => dequantize('Q6_K', new Uint8Array(210), 255)).toThrow('not a whole number of 256-element blocks');
  });
});

describe('quantizeQ8_0, bit for bit with gguf.quants.quantize', () => {
  it('matches on random blocks, zero blocks, subnormal and overflowing scales, exact halves', () => {
    const x = readF32File(join(Q, 'Q8_0.quantize.in.f32'));
    const ref = bytes('Q8_0.quantize.out.bin');
    const ours = quantizeQ8_0(x);
    expect(ours.length).toBe(ref.length);
    const at = ours.findIndex((b, i) => b !== ref[i]);
    expect(at, `byte ${at} (block ${Math.floor(at / 34)})`).toBe(-1);
  });

  it('refuses a partial block and non-finite values', () => {
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow('quantizeQ8_0: 33 values is not a whole number of 32-value blocks');
    const x = new Float32Array(32);
    x[3] = Number.POSITIVE_INFINITY;
    expect(() => quantizeQ8_0(x)).toThrow('quantizeQ8_0: value #3 is Infinity (Q8_0 holds finite values only)');
  });
});

describe('f32ToF16Bits, bit for bit with numpy astype(float16)', () => {
  it('rounds ties to even, through the subnormal range, to inf past 65520, and keeps NaN', () => {
    const x = readF32File(join(Q, 'F16.from-f32.in.f32'));
    const raw = bytes('F16.from-f32.out.bin');
    const ref = new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2);
    const bad = Array.from(x).findIndex((v, i) => f32ToF16Bits(v) !== ref[i]);
    expect(bad, bad < 0 ? '' : `${x[bad]}: ours 0x${f32ToF16Bits(x[bad]).toString(16)}, numpy 0x${ref[bad].toString(16)}`).toBe(-1);
  });
});
