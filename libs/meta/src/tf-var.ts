// Meta-training differentiates through the model: it needs the blocks' tfjs variables.
import { blockVariable, type Block } from '@zotune/models';
import type * as tf from '@tensorflow/tfjs-core';

export const tfVar = (b: Block): tf.Variable => blockVariable(b, 'meta-training');
