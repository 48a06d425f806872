import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { WorkQueue } from './workqueue.ts';

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

type Op =
  | { kind: 'add'; key: string }
  | { kind: 'finish'; index: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'fail'; index: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), key: fc.constantFrom('a', 'b', 'c', 'd') }),
  fc.record({ kind: fc.constant('finish' as const), index: fc.nat(5) }),
  fc.record({ kind: fc.constant('fail' as const), index: fc.nat(5) }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 300 }) }),
);

describe('WorkQueue properties', () => {
  it('never runs a key twice at once, respects the worker bound, and never loses an add', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 60 }),
        fc.integer({ min: 1, max: 3 }),
        async (ops, workers) => {
          const clock = new ManualClock();
          const q = new WorkQueue({ clock, random: () => 0, backoff: { baseMs: 50, maxMs: 200 } });
          const running = new Map<string, { finish: (ok: boolean) => void }>();
          const order: string[] = [];
          // last add time (op index) and last start per key, to check no add is lost
          const lastAdd = new Map<string, number>();
          const lastStart = new Map<string, number>();
          let step = 0;
          let violations = 0;
          q.start(workers, (key) => {
            if (running.has(key)) violations++;
            if (running.size >= workers) violations++;
            lastStart.set(key, step);
            order.push(key);
            return new Promise<void>((resolve, reject) => {
              running.set(key, {
                finish: (ok) => {
                  running.delete(key);
                  if (ok) resolve();
                  else reject(new Error('fail'));
                },
              });
            });
          });
          for (const o of ops) {
            step++;
            if (o.kind === 'add') {
              q.add(o.key);
              lastAdd.set(o.key, step);
            } else if (o.kind === 'tick') {
              clock.advance(o.ms);
            } else {
              const entry = [...running.values()][o.index % Math.max(1, running.size)];
              entry?.finish(o.kind === 'finish');
            }
            await settle();
          }
          // Drain: finish everything successfully, let backoffs elapse.
          for (let i = 0; i < 50 && (running.size > 0 || q.len() > 0 || q.delayedCount() > 0); i++) {
            step++;
            for (const r of [...running.values()]) r.finish(true);
            clock.advance(1000);
            await settle();
          }
          expect(violations).toBe(0);
          expect(running.size).toBe(0);
          // Every add was followed by a run that started after it.
          for (const [key, added] of lastAdd) expect(lastStart.get(key) ?? -1).toBeGreaterThanOrEqual(added);
          await q.shutdown();
        },
      ),
      { numRuns: 200 },
    );
  });
});
