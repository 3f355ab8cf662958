import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Block } from '@zotune/models';
import { MomentumSgd } from './sgd';

function block(name: string, data: number[], index: number): Block {
  return { name, shape: [data.length], kind: 'matrix', size: data.length, index, variable: tf.variable(tf.tensor1d(data), true, `${name}-sgd-spec-${Math.random()}`) };
}

describe('MomentumSgd', () => {
  it('clips the global norm to clipNorm, then applies PyTorch momentum', async () => {
    const blocks = [block('a', [3, 0], 0), block('b', [0, 4], 1)];
    const loss = () => tf.tidy(() => tf.mul(0.5, tf.addN(blocks.map((b) => tf.sum(tf.square(b.variable!))))) as tf.Scalar); // ∇ = θ
    const sgd = new MomentumSgd(blocks, { momentum: 0.8, clipNorm: 1 });
    const r1 = await sgd.step(loss, 0.1);
    expect(r1.loss).toBeCloseTo(12.5);
    expect(r1.gradNorm).toBeCloseTo(5);
    // g clipped to θ/5 = [0.6, 0, 0, 0.8]; buf = g; θ −= 0.1·buf
    expect(Array.from(await blocks[0].variable!.data())).toEqual([expect.closeTo(2.94, 5), 0]);
    expect(Array.from(await blocks[1].variable!.data())).toEqual([0, expect.closeTo(3.92, 5)]);
    await sgd.step(loss, 0.1);
    // g2 = θ1/‖θ1‖ (norm 4.9 > 1); buf = 0.8·buf + g2
    const n = Math.hypot(2.94, 3.92);
    expect((await blocks[0].variable!.data())[0]).toBeCloseTo(2.94 - 0.1 * (0.8 * 0.6 + 2.94 / n), 5);
    const saved = await sgd.state();
    expect(saved[1][1]).toBeCloseTo(0.8 * 0.8 + 3.92 / n, 5);
    sgd.reset();
    expect(Array.from((await sgd.state())[1])).toEqual([0, 0]);
    sgd.load(saved);
    expect((await sgd.state())[1][1]).toBeCloseTo(0.8 * 0.8 + 3.92 / n, 5);
    const before = tf.memory().numTensors;
    await sgd.step(loss, 0.1);
    expect(tf.memory().numTensors).toBe(before);
    sgd.dispose();
    blocks.forEach((b) => b.variable!.dispose());
  });

  it('leaves small gradients unclipped', async () => {
    const blocks = [block('c', [0.3, 0.4], 0)];
    const sgd = new MomentumSgd(blocks, { momentum: 0.8, clipNorm: 1 });
    await sgd.step(() => tf.tidy(() => tf.mul(0.5, tf.sum(tf.square(blocks[0].variable!))) as tf.Scalar), 1);
    expect(Array.from(await blocks[0].variable!.data())).toEqual([expect.closeTo(0, 5), expect.closeTo(0, 5)]);
    sgd.dispose();
    blocks[0].variable!.dispose();
  });
});
