import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerQueue } from '../../runtime/host/timer-queue.ts';

describe('TimerQueue', () => {
  it('pops exactly the due keys in deadline order, like a sorted list would, and reschedules popped keys', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 30 }), at: fc.option(fc.integer({ min: 0, max: 1000 })) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const queue = new TimerQueue<number>();
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            queue.set(o.key, o.at);
            if (o.at === null) model.delete(o.key);
            else model.set(o.key, o.at);
          } else if (o.kind === 'delete') {
            expect(queue.delete(o.key)).toBe(model.delete(o.key));
          } else {
            const popped: number[] = [];
            let key: number | undefined;
            while ((key = queue.popDue(o.now)) !== undefined) popped.push(model.get(key)!), model.delete(key);
            expect(popped).toEqual([...popped].sort((a, b) => a - b));
            expect([...model.values()].every((at) => at > o.now)).toBe(true);
          }
          expect(queue.size).toBe(model.size);
          // A popped key's entry is kept for reuse, but it is not scheduled.
          for (let key = 0; key <= 30; key++) expect(queue.get(key)).toBe(model.get(key));
          expect(queue.peek()).toBe(model.size ? Math.min(...model.values()) : null);
        }
      }),
      { numRuns: 300 },
    );
  });
});
