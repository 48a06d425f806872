import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, jittered } from './backoff.ts';

describe('backoffDelay', () => {
  it('doubles from the base and stops at the cap', () => {
    const opts = { baseMs: 100, maxMs: 1000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 60].map((a) => backoffDelay(opts, a))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
  });

  it('never exceeds the cap nor drops below (1 - jitter) of the undithered delay', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.99999, noNaN: true }),
        (base, extra, attempt, jitter, r) => {
          const max = base + extra;
          const d = backoffDelay({ baseMs: base, maxMs: max, jitter }, attempt, () => r);
          const undithered = Math.min(max, base * 2 ** attempt);
          expect(d).toBeLessThanOrEqual(max);
          expect(d).toBeGreaterThanOrEqual(Math.floor(undithered * (1 - jitter)));
        },
      ),
    );
  });
});

describe('jittered', () => {
  it('stays within ±fraction of the period', () => {
    expect(jittered(1000, 0.1, () => 0)).toBe(900);
    expect(jittered(1000, 0.1, () => 0.5)).toBe(1000);
    expect(jittered(1000, 0.1, () => 0.999999)).toBe(1100);
  });
});
