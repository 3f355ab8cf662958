// Rotary position embedding in Hugging Face's rotate_half form: within a head, element d pairs with
// d ± hd/2 (the readers permute llama2.c's interleaved q/k rows into this order, as llama2.c's
// export.py does), with llama2.c's frequencies theta^(-2i/hd). The host tables, shared by both
// engines (the tfjs tables in tfjs/rope.ts, the ORT graph's inputs and caches).
//   out = x ⊙ cos + x[perm] ⊙ sinSigned,  perm(d) = (d + hd/2) mod hd,  sinSigned = (-sin, +sin)

/** The cos and signed-sin tables [maxSeqLen, hd] on the host (also the ORT engine's, which feeds them as inputs). */
export function ropeHost(headDim: number, maxSeqLen: number, theta: number): { cosHost: Float32Array; sinHost: Float32Array } {
  const half = headDim / 2;
  const cosHost = new Float32Array(maxSeqLen * headDim);
  const sinHost = new Float32Array(maxSeqLen * headDim);
  for (let i = 0; i < half; i++) {
    // llama2.c: freq = 1 / theta^(2i / hd), computed in float32
    const freq = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim))));
    for (let p = 0; p < maxSeqLen; p++) {
      const a = Math.fround(p * freq);
      const c = Math.cos(a);
      const s = Math.sin(a);
      cosHost[p * headDim + i] = c;
      cosHost[p * headDim + i + half] = c;
      sinHost[p * headDim + i] = -s;
      sinHost[p * headDim + i + half] = s;
    }
  }
  return { cosHost, sinHost };
}
