// A Block keeps its weights in exactly one home: a tfjs variable (engine tfjs) or a Float32Array in
// JS memory (engine ort). These helpers read either, and name the block when only one will do.
import type * as tf from '@tensorflow/tfjs-core';
import type { Block } from './types';

/** The block's weights, [size]: its own array (engine ort, no copy) or a read of its variable. */
export function blockValues(b: Block): Float32Array {
  if (b.data) return b.data;
  if (b.variable) return b.variable.dataSync() as Float32Array;
  throw new Error(`block ${b.name}: holds no weights (neither data nor variable)`);
}

/** blockValues, asynchronously (lets the tfjs backend finish pending work without blocking). */
export async function blockValuesAsync(b: Block): Promise<Float32Array> {
  if (b.data) return b.data;
  if (b.variable) return (await b.variable.data()) as Float32Array;
  throw new Error(`block ${b.name}: holds no weights (neither data nor variable)`);
}

/**
 * The block's tfjs variable, for what only tfjs can do (gradients: Adam, meta-training, SGD); `what`
 * names the feature in the error when the weights live in JS memory (engine ort).
 */
export function blockVariable(b: Block, what: string): tf.Variable {
  if (b.variable) return b.variable;
  throw new Error(`${what} needs the tfjs engine (gradients): block ${b.name} keeps its weights in JS memory (engine ort); use --engine tfjs`);
}
