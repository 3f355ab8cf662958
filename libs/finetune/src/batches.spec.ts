import { describe, expect, test } from 'vitest';
import { BatchSchedule } from './batches';

describe('BatchSchedule', () => {
  const items = Array.from({ length: 10 }, (_, i) => i);

  test('step t is a pure function of (seed, t)', () => {
    const a = new BatchSchedule(items, 4, 7);
    const forward = Array.from({ length: 12 }, (_, t) => a.indices(t));
    const b = new BatchSchedule(items, 4, 7);
    // asked out of order and from a fresh schedule (a resumed run): the same batches
    for (const t of [11, 3, 0, 7]) expect(b.indices(t)).toEqual(forward[t]);
    expect(new BatchSchedule(items, 4, 8).indices(0)).not.toEqual(forward[0]);
  });

  test('each epoch visits every example once', () => {
    const s = new BatchSchedule(items, 5, 1);
    for (let epoch = 0; epoch < 3; epoch++) {
      const seen = [...s.indices(2 * epoch), ...s.indices(2 * epoch + 1)];
      expect([...seen].sort((x, y) => x - y)).toEqual(items);
    }
    expect(s.indices(0)).not.toEqual(s.indices(2)); // epochs are reshuffled
  });

  test('batches larger than the set wrap into the next epoch', () => {
    const s = new BatchSchedule(items, 25, 3);
    expect(s.batch(1)).toHaveLength(25);
    expect(() => new BatchSchedule([], 4, 0)).toThrow(/empty/);
  });
});
