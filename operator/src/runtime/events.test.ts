import { describe, expect, it } from 'vitest';
import { EventDeduper, microTime } from './events.ts';

describe('EventDeduper', () => {
  it('creates the first event, skips repeats inside the window, then updates the series once', () => {
    const d = new EventDeduper({ windowMs: 1000 });
    expect(d.decide('k', 0)).toEqual({ action: 'create', count: 1 });
    d.created('k', 'obj.abc');
    expect(d.decide('k', 100)).toEqual({ action: 'skip', count: 2 });
    expect(d.decide('k', 999)).toEqual({ action: 'skip', count: 3 });
    expect(d.decide('k', 1000)).toEqual({ action: 'series', count: 4, eventName: 'obj.abc' });
    expect(d.decide('k', 1500)).toEqual({ action: 'skip', count: 5 });
  });

  it('keeps different keys apart (another reason or message is another event)', () => {
    const d = new EventDeduper({ windowMs: 1000 });
    expect(d.decide('a', 0).action).toBe('create');
    expect(d.decide('b', 1).action).toBe('create');
    expect(d.decide('a', 2).action).toBe('skip');
  });

  it('starts afresh after a long silence', () => {
    const d = new EventDeduper({ windowMs: 1000 });
    d.decide('k', 0);
    d.created('k', 'obj.1');
    expect(d.decide('k', 2000)).toEqual({ action: 'create', count: 1 });
  });

  it('retries after a failed write instead of suppressing the next occurrence', () => {
    const d = new EventDeduper({ windowMs: 1000 });
    d.decide('k', 0);
    d.failed('k');
    expect(d.decide('k', 10).action).toBe('create');
  });

  it('creates (not series) when the first write never reported its name', () => {
    const d = new EventDeduper({ windowMs: 1000 });
    d.decide('k', 0);
    d.decide('k', 10);
    expect(d.decide('k', 1000)).toEqual({ action: 'create', count: 3 });
  });

  it('bounds its memory', () => {
    const d = new EventDeduper({ windowMs: 1000, maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) d.decide(k, 0);
    expect(d.size()).toBe(3);
    expect(d.decide('a', 1).action).toBe('create'); // evicted, so new again
  });
});

describe('microTime', () => {
  it('formats with microseconds', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678000Z');
  });
});
