import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { WorkQueue } from './workqueue.ts';

/** Lets pending promise callbacks (worker loops) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('WorkQueue (get/done semantics)', () => {
  it('de-duplicates keys that are waiting', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('defers a re-add of a key being processed until done, and hands it out once', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('a');
    const key = await q.get();
    expect(key).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0); // not handed to a second worker while in flight
    q.done('a');
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('addAfter fires at the requested time and keeps the earliest of several requests', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    q.addAfter('a', 1000);
    q.addAfter('a', 300);
    q.addAfter('a', 5000);
    expect(q.delayedCount()).toBe(1);
    clock.advance(299);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    expect(q.delayedCount()).toBe(0);
    clock.advance(10_000);
    expect(q.len()).toBe(1); // the later requests were merged, not queued again
  });

  it('an immediate add supersedes a pending delayed add', () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    q.addAfter('a', 1000);
    q.add('a');
    expect(q.len()).toBe(1);
    expect(q.delayedCount()).toBe(0);
  });

  it('addRateLimited backs off exponentially up to the cap, and forget resets it', async () => {
    const clock = new ManualClock();
    // random = 0 → no jitter reduction, delays are exact.
    const q = new WorkQueue({ clock, random: () => 0, backoff: { baseMs: 100, maxMs: 1000 } });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = clock.now();
      q.addRateLimited('a');
      let waited = 0;
      while (q.len() === 0 && waited < 2000) {
        clock.advance(1);
        waited++;
      }
      delays.push(waited);
      expect(clock.now() - before).toBe(waited);
      // take it out again so the next addRateLimited schedules a fresh timer
      const key = await q.get();
      q.done(key ?? '');
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(q.numRequeues('a')).toBe(6);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
  });
});

describe('WorkQueue priorities', () => {
  it('hands out low-priority keys only when no normal key waits', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('resync-1', 'low');
    q.add('resync-2', 'low');
    q.add('event-1');
    expect(q.len()).toBe(3);
    expect(await q.get()).toBe('event-1');
    q.add('event-2');
    expect(await q.get()).toBe('event-2');
    expect(await q.get()).toBe('resync-1');
    expect(await q.get()).toBe('resync-2');
    expect(q.len()).toBe(0);
  });

  it('promotes a key waiting at low priority when it is added normally, and runs it once', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    for (const k of ['a', 'b', 'c']) q.add(k, 'low');
    q.add('c');
    expect(q.len()).toBe(3);
    expect(await q.get()).toBe('c');
    q.done('c');
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
    let handedOut = false;
    void q.get().then(() => {
      handedOut = true;
    });
    await settle();
    expect(handedOut).toBe(false); // the stale low-lane entry of c is not handed out again
  });

  it('a low add never demotes a normal one, and a key parked while processing keeps the higher priority', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('x', 'low');
    q.add('a');
    q.add('a', 'low');
    expect(await q.get()).toBe('a');
    q.add('a', 'low'); // parked while processing…
    q.add('a'); // …then asked for by an event
    q.done('a');
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('x');
  });
});

describe('WorkQueue workers', () => {
  it('never processes the same key twice at once, and reprocesses after a re-add during processing', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    let running = 0;
    let maxRunningForA = 0;
    const runs: string[] = [];
    const gates: Array<ReturnType<typeof deferred>> = [];
    q.start(4, async (key) => {
      running++;
      maxRunningForA = Math.max(maxRunningForA, running);
      runs.push(key);
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      running--;
    });
    q.add('a');
    await settle();
    q.add('a'); // while a is in flight
    q.add('a');
    await settle();
    expect(runs).toEqual(['a']);
    expect(maxRunningForA).toBe(1);
    gates[0]?.resolve();
    await settle();
    expect(runs).toEqual(['a', 'a']); // exactly one more run for the two re-adds
    gates[1]?.resolve();
    await settle();
    expect(runs).toEqual(['a', 'a']);
    expect(await q.shutdown()).toBe(true);
  });

  it('bounds concurrency to N workers across different keys', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    let running = 0;
    let peak = 0;
    const gates: Array<ReturnType<typeof deferred>> = [];
    q.start(2, async () => {
      running++;
      peak = Math.max(peak, running);
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      running--;
    });
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await settle();
    expect(running).toBe(2);
    expect(q.len()).toBe(3);
    while (gates.length > 0) {
      gates.shift()?.resolve();
      await settle();
    }
    expect(peak).toBe(2);
    expect(q.len()).toBe(0);
    await q.shutdown();
  });

  it('retries failures with backoff, resets on success, and honours requeueAfterMs', async () => {
    const clock = new ManualClock();
    const attempts: number[] = [];
    const errors: unknown[] = [];
    const q = new WorkQueue({
      clock,
      random: () => 0,
      backoff: { baseMs: 100, maxMs: 10_000 },
      onError: (_k, e) => errors.push(e),
    });
    let calls = 0;
    q.start(1, async (_key, attempt) => {
      attempts.push(attempt);
      calls++;
      if (calls <= 2) throw new Error(`boom ${calls}`);
      if (calls === 3) return { requeueAfterMs: 5000 };
    });
    q.add('a');
    await settle();
    expect(attempts).toEqual([0]);
    clock.advance(99);
    await settle();
    expect(attempts).toEqual([0]);
    clock.advance(1);
    await settle();
    expect(attempts).toEqual([0, 1]);
    clock.advance(200);
    await settle();
    expect(attempts).toEqual([0, 1, 2]); // success now, asks for a requeue in 5 s
    expect(q.numRequeues('a')).toBe(0);
    clock.advance(4999);
    await settle();
    expect(attempts).toEqual([0, 1, 2]);
    clock.advance(1);
    await settle();
    expect(attempts).toEqual([0, 1, 2, 0]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom 1', 'boom 2']);
    await q.shutdown();
  });

  it('shutdown waits for in-flight work, then refuses new keys and drops delayed ones', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    const gate = deferred();
    const finished: string[] = [];
    q.start(2, async (key) => {
      await gate.promise;
      finished.push(key);
    });
    q.add('a');
    q.addAfter('later', 1000);
    await settle();
    let drained = false;
    const done = q.shutdown().then((r) => {
      drained = r;
    });
    await settle();
    expect(drained).toBe(false); // still waiting for 'a'
    q.add('b');
    clock.advance(2000);
    gate.resolve();
    await done;
    expect(drained).toBe(true);
    expect(finished).toEqual(['a']);
    expect(q.len()).toBe(0);
  });

  it('shutdown with a timeout gives up on a wedged handler', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.start(1, () => new Promise(() => {}));
    q.add('stuck');
    await settle();
    expect(await q.shutdown(20)).toBe(false);
  });

  it('reports metrics: adds, depth, queue latency, work duration and retries', async () => {
    const clock = new ManualClock();
    const seen = {
      added: 0,
      depth: [] as number[],
      latency: [] as number[],
      work: [] as number[],
      retried: 0,
    };
    const q = new WorkQueue({
      clock,
      random: () => 0,
      backoff: { baseMs: 10, maxMs: 10 },
      metrics: {
        added: () => seen.added++,
        depth: (n) => seen.depth.push(n),
        queueLatency: (ms) => seen.latency.push(ms),
        workDuration: (ms) => seen.work.push(ms),
        retried: () => seen.retried++,
      },
    });
    q.add('a');
    q.add('a');
    q.add('b');
    clock.advance(40);
    let first = true;
    q.start(1, async () => {
      clock.advance(7);
      if (first) {
        first = false;
        throw new Error('x');
      }
    });
    await settle();
    clock.advance(10);
    await settle();
    expect(seen.added).toBe(3); // a, b, and the retry of a
    expect(seen.depth).toEqual([1, 2, 1, 0]);
    expect(seen.latency.slice(0, 2)).toEqual([40, 47]);
    expect(seen.work).toEqual([7, 7, 7]);
    expect(seen.retried).toBe(1);
    await q.shutdown();
  });
});
