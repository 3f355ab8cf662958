import { describe, expect, it } from 'vitest';
import { STORIES260K_CONFIG, tensorSpecs } from '@zotune/models';
import { benchPerturbPass } from './bench-noise';

describe('bench noise: the perturb pass', () => {
  it('times every block of the shape on 1 and 2 threads (weights shared and plain) and reports their ratios', async () => {
    const r = await benchPerturbPass('stories260K', 2, 1);
    const specs = tensorSpecs(STORIES260K_CONFIG);
    expect(r.blocks).toBe(specs.length);
    expect(r.parameters).toBe(specs.reduce((s, t) => s + t.hfShape.reduce((a, b) => a * b, 1), 0));
    for (const kind of [r.move, r.update]) {
      expect(kind.map((t) => [t.threads, t.home])).toEqual([[1, 'plain'], [2, 'shared'], [2, 'plain']]);
      for (const t of kind) {
        expect(t.ms).toBeGreaterThan(0);
        expect(t.passesPerSecond).toBeCloseTo(1000 / t.ms, 6);
        expect(t.cpuMs).toBeGreaterThanOrEqual(0);
      }
    }
    expect(r.moveSpeedup).toBeCloseTo(r.move[1].passesPerSecond / r.move[0].passesPerSecond, 9);
    expect(r.updateSpeedup).toBeCloseTo(r.update[1].passesPerSecond / r.update[0].passesPerSecond, 9);
    expect(r.moveSpeedupPlain).toBeCloseTo(r.move[2].passesPerSecond / r.move[0].passesPerSecond, 9);
    // stream 2 and the keep-only pass on the same runners, and the ratios derived from them
    for (const kind of [r.stream2.move, r.stream2.update, r.memoryOnly]) expect(kind.map((t) => [t.threads, t.home])).toEqual([[1, 'plain'], [2, 'shared'], [2, 'plain']]);
    expect(r.stream2Speedup.move[1]).toBeCloseTo(r.stream2.move[1].passesPerSecond / r.move[1].passesPerSecond, 9);
    expect(r.generatorShare.stream2[0]).toBeCloseTo(1 - r.memoryOnly[0].ms / r.stream2.move[0].ms, 9);
  });
});
