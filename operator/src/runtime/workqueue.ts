import { backoffDelay, type Random } from './backoff.ts';
import { systemClock } from './clock.ts';
import type { BackoffOptions, Clock, TimerHandle } from './types.ts';

/** Observability hooks; metrics.ts binds them to Prometheus, tests can bind them to arrays. */
export interface QueueMetricsHooks {
  depth?(n: number): void;
  added?(): void;
  /** Time a key waited in the ready queue before a worker took it. */
  queueLatency?(ms: number): void;
  /** Time a worker spent on a key. */
  workDuration?(ms: number): void;
  /** A failed key was scheduled for a retry with backoff. */
  retried?(): void;
}

/** What a work handler may ask for after success. Throwing = failure = retry with backoff. */
// biome-ignore lint/suspicious/noConfusingVoidType: handlers naturally `return;` when done
export type WorkOutcome = { requeueAfterMs?: number } | void;
export type WorkHandler = (key: string, attempt: number) => Promise<WorkOutcome>;

export interface WorkQueueOptions {
  backoff?: BackoffOptions;
  clock?: Clock;
  random?: Random;
  metrics?: QueueMetricsHooks;
  /** Called when a handler throws (logging belongs to the caller, not the queue). */
  onError?(key: string, error: unknown, attempt: number): void;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 5 * 60_000 };

/**
 * A de-duplicating work queue of string keys, client-go semantics:
 * - a key is in the ready queue at most once (`dirty` set);
 * - a key being processed is never handed to a second worker: re-adds while processing are parked in
 *   `dirty` and re-queued when the worker is done, so the latest state is always reconciled once more;
 * - `addAfter` keeps the EARLIEST pending time per key;
 * - `addRateLimited` waits base*2^failures (capped, jittered); `forget` resets the failure count;
 * - two lanes: `add(key, 'low')` (periodic resync) waits behind every normal add, and a normal add of a
 *   key waiting in the low lane promotes it. A resync of thousands of keys must not delay the reaction to
 *   a change: without lanes, a spec edit waited behind a whole resync pass (issue 7's bench: p99 26 s
 *   for 1,255 Territories with a 10 s resync).
 * `start(n, handler)` runs n workers; `shutdown()` stops handing out keys and waits for in-flight ones.
 */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #backoff: BackoffOptions;
  readonly #metrics: QueueMetricsHooks;
  readonly #onError: WorkQueueOptions['onError'];

  #ready: string[] = [];
  /** The low lane. Entries of keys promoted or taken meanwhile stay behind, skipped when reached. */
  #readyLow: string[] = [];
  /** Keys with a live entry in the low lane. */
  readonly #lowQueued = new Set<string>();
  /** Dirty keys whose pending run is low priority (queued in the low lane, or parked while processing). */
  readonly #low = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #enqueuedAt = new Map<string, number>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, { at: number; timer: TimerHandle }>();
  #waiters: Array<(key: string | undefined) => void> = [];
  #shuttingDown = false;
  #workers: Promise<void>[] = [];

  constructor(options: WorkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#metrics = options.metrics ?? {};
    this.#onError = options.onError;
  }

  /** Keys ready to be processed (not counting in-flight or delayed ones). */
  len(): number {
    return this.#ready.length + this.#lowQueued.size;
  }

  inFlight(): number {
    return this.#processing.size;
  }

  /** Keys waiting for a delayed add (requeueAfter or backoff). */
  delayedCount(): number {
    return this.#delayed.size;
  }

  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  add(key: string, priority: 'normal' | 'low' = 'normal'): void {
    if (this.#shuttingDown) return;
    // An immediate add supersedes a pending delayed one: the key will be processed now anyway.
    this.#cancelDelayed(key);
    if (this.#dirty.has(key)) {
      // Already due; a normal add of a key waiting at low priority moves it up.
      if (priority === 'normal' && this.#low.delete(key) && this.#lowQueued.delete(key)) this.#push(key);
      return;
    }
    this.#dirty.add(key);
    if (priority === 'low') this.#low.add(key);
    this.#metrics.added?.();
    if (!this.#enqueuedAt.has(key)) this.#enqueuedAt.set(key, this.#clock.now());
    if (this.#processing.has(key)) return; // re-queued by done()
    this.#push(key);
  }

  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    // Dirty = already due (ready, or re-queued as soon as the current run ends): sooner than `ms`.
    if (this.#dirty.has(key)) return;
    const at = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.#clock.clearTimeout(existing.timer);
    const timer = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    this.#metrics.retried?.();
    this.addAfter(key, backoffDelay(this.#backoff, failures, this.#random));
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Next key, waiting if none is ready; undefined once shut down. Pair every key with `done(key)`. */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key);
  }

  /** Runs `concurrency` worker loops calling `handler`. Outcomes drive forget / addAfter / addRateLimited. */
  start(concurrency: number, handler: WorkHandler): void {
    for (let i = 0; i < Math.max(1, concurrency); i++) this.#workers.push(this.#worker(handler));
  }

  /**
   * Stops handing out keys, drops delayed adds, and resolves when every in-flight handler has finished
   * (or after `timeoutMs`, resolving false, so a wedged reconcile cannot block process exit forever).
   */
  async shutdown(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    this.#shuttingDown = true;
    for (const { timer } of this.#delayed.values()) this.#clock.clearTimeout(timer);
    this.#delayed.clear();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(undefined);
    const drained = Promise.all(this.#workers).then(() => true);
    if (!Number.isFinite(timeoutMs)) return drained;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = systemClock.setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([drained, timedOut]);
    if (timer) systemClock.clearTimeout(timer);
    return result;
  }

  async #worker(handler: WorkHandler): Promise<void> {
    for (;;) {
      const key = await this.get();
      if (key === undefined) return;
      const attempt = this.numRequeues(key);
      const started = this.#clock.now();
      try {
        const outcome = await handler(key, attempt);
        this.forget(key);
        if (outcome && typeof outcome.requeueAfterMs === 'number') this.addAfter(key, outcome.requeueAfterMs);
      } catch (error) {
        this.#onError?.(key, error, attempt);
        this.addRateLimited(key);
      } finally {
        this.#metrics.workDuration?.(this.#clock.now() - started);
        this.done(key);
      }
    }
  }

  #push(key: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#markTaken(key);
      waiter(key);
      return;
    }
    if (this.#low.has(key)) {
      this.#readyLow.push(key);
      this.#lowQueued.add(key);
    } else {
      this.#ready.push(key);
    }
    this.#metrics.depth?.(this.len());
  }

  #take(): string | undefined {
    let key = this.#ready.shift();
    // Low lane: skip entries whose key was promoted (or already taken) since they were queued.
    while (key === undefined && this.#readyLow.length > 0) {
      const candidate = this.#readyLow.shift() as string;
      if (this.#lowQueued.delete(candidate)) key = candidate;
    }
    if (key === undefined) return undefined;
    this.#metrics.depth?.(this.len());
    this.#markTaken(key);
    return key;
  }

  #markTaken(key: string): void {
    this.#processing.add(key);
    this.#dirty.delete(key);
    this.#low.delete(key);
    const at = this.#enqueuedAt.get(key);
    this.#enqueuedAt.delete(key);
    if (at !== undefined) this.#metrics.queueLatency?.(this.#clock.now() - at);
  }

  #cancelDelayed(key: string): void {
    const pending = this.#delayed.get(key);
    if (!pending) return;
    this.#clock.clearTimeout(pending.timer);
    this.#delayed.delete(key);
  }
}
