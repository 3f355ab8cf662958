import { dequantize, quantizeQ8_0, f32ToF16Bits } from './libs/gguf/src/index';
const n = 32 * 200000; // 6.4M elements
const b = new Uint8Array((n / 32) * 20);
for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
for (let i = 0; i < b.length; i += 20) { b[i] = 0x00; b[i + 1] = 0x3c; b[i + 2] = 0; b[i + 3] = 0xbc; }
for (let r = 0; r < 3; r++) { const t0 = performance.now(); dequantize('Q4_1', b, n); console.log('Q4_1 ns/el', ((performance.now() - t0) * 1e6 / n).toFixed(2)); }
const x = new Float32Array(n).map((_, i) => Math.sin(i));
for (let r = 0; r < 3; r++) { const t0 = performance.now(); quantizeQ8_0(x); console.log('q8 ns/el', ((performance.now() - t0) * 1e6 / n).toFixed(2)); }
for (let r = 0; r < 3; r++) { const t0 = performance.now(); let s = 0; for (let i = 0; i < n; i++) s += f32ToF16Bits(x[i]); console.log('f16 ns/el', ((performance.now() - t0) * 1e6 / n).toFixed(2), s); }
