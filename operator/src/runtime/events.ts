import { randomBytes } from 'node:crypto';
import { systemClock } from './clock.ts';
import type { KubeClient } from './kube-client.ts';
import type { Clock, EventInput, EventRecorder, KubeObject, Logger } from './types.ts';

// Kubernetes Events (events.k8s.io/v1) for what `kubectl describe` and `kubectl events` show.
// De-duplicated: a reconciler that fails the same way every 30 s must not write an Event every 30 s
// (Events are stored in etcd; client-go's EventCorrelator exists for the same reason).

export interface DedupDecision {
  /** `create`: first time (or the window expired with nothing to update); `series`: update the count of
   * the existing Event; `skip`: an identical Event was written within the window. */
  action: 'create' | 'series' | 'skip';
  /** Occurrences so far, including this one. */
  count: number;
  /** Name of the Event written earlier (for `series`). */
  eventName?: string;
}

interface DedupEntry {
  firstAt: number;
  windowStart: number;
  count: number;
  sentCount: number;
  eventName?: string;
}

/**
 * Pure de-duplication logic. Same key within `windowMs` of the last write -> skip (counted locally);
 * after the window, if repeats happened -> one `series` update carrying the count; entries expire after
 * `2*windowMs` of silence so memory stays bounded (also capped at `maxEntries`, oldest first).
 */
export class EventDeduper {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, DedupEntry>();

  constructor(options: { windowMs?: number; maxEntries?: number } = {}) {
    this.#windowMs = options.windowMs ?? 5 * 60_000;
    this.#maxEntries = options.maxEntries ?? 4096;
  }

  decide(key: string, now: number): DedupDecision {
    const entry = this.#entries.get(key);
    if (!entry || now - entry.windowStart >= 2 * this.#windowMs) {
      this.#entries.delete(key);
      this.#entries.set(key, { firstAt: now, windowStart: now, count: 1, sentCount: 1 });
      this.#evict();
      return { action: 'create', count: 1 };
    }
    entry.count++;
    if (now - entry.windowStart < this.#windowMs) return { action: 'skip', count: entry.count };
    entry.windowStart = now;
    entry.sentCount = entry.count;
    return entry.eventName
      ? { action: 'series', count: entry.count, eventName: entry.eventName }
      : { action: 'create', count: entry.count };
  }

  /** Remembers the API name of the Event created for `key` (so later repeats can update its series). */
  created(key: string, eventName: string): void {
    const entry = this.#entries.get(key);
    if (entry) entry.eventName = eventName;
  }

  /** Forgets a key whose write failed, so the next occurrence tries again. */
  failed(key: string): void {
    this.#entries.delete(key);
  }

  size(): number {
    return this.#entries.size;
  }

  #evict(): void {
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) return;
      this.#entries.delete(oldest);
    }
  }
}

export interface KubeEventRecorderOptions {
  /** events.k8s.io reportingController, e.g. `sovereign.dev/territory-operator`. */
  reportingController: string;
  /** This replica, e.g. hostname-pid. */
  reportingInstance: string;
  /** Namespace for Events about cluster-scoped objects (client-go uses `default`). */
  clusterScopedNamespace?: string;
  windowMs?: number;
  clock?: Clock;
  logger?: Logger;
}

const NOTE_LIMIT = 1024; // events.k8s.io/v1 rejects longer notes

/** MicroTime as the API expects it: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class KubeEventRecorder implements EventRecorder {
  readonly #client: KubeClient;
  readonly #options: KubeEventRecorderOptions;
  readonly #clock: Clock;
  readonly #dedup: EventDeduper;
  readonly #pending = new Set<Promise<void>>();

  constructor(client: KubeClient, options: KubeEventRecorderOptions) {
    this.#client = client;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#dedup = new EventDeduper({
      ...(options.windowMs !== undefined ? { windowMs: options.windowMs } : {}),
    });
  }

  record(regarding: KubeObject, event: EventInput): void {
    const { name, namespace, uid } = regarding.metadata;
    const key = [
      regarding.apiVersion,
      regarding.kind,
      namespace ?? '',
      name ?? '',
      uid ?? '',
      event.type,
      event.reason,
      event.message,
    ].join('\u0000');
    const now = this.#clock.now();
    const decision = this.#dedup.decide(key, now);
    if (decision.action === 'skip') return;
    const write = this.#write(regarding, event, decision, now)
      .then((eventName) => {
        if (eventName) this.#dedup.created(key, eventName);
      })
      .catch((error: unknown) => {
        this.#dedup.failed(key);
        // Events are best effort: failing to record one must never fail a reconcile.
        this.#options.logger?.warn(
          { err: error instanceof Error ? error.message : String(error), reason: event.reason },
          'could not record event',
        );
      })
      .finally(() => this.#pending.delete(write));
    this.#pending.add(write);
  }

  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #write(
    regarding: KubeObject,
    event: EventInput,
    decision: DedupDecision,
    now: number,
  ): Promise<string | undefined> {
    const namespace = regarding.metadata.namespace ?? this.#options.clusterScopedNamespace ?? 'default';
    if (decision.action === 'series' && decision.eventName) {
      await this.#client.mergePatch(
        { apiVersion: 'events.k8s.io/v1', kind: 'Event', namespace, name: decision.eventName },
        { series: { count: decision.count, lastObservedTime: microTime(now) } },
      );
      return decision.eventName;
    }
    const name = `${regarding.metadata.name ?? 'object'}.${randomBytes(8).toString('hex')}`;
    const body: KubeObject = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace },
      eventTime: microTime(now),
      reportingController: this.#options.reportingController,
      reportingInstance: this.#options.reportingInstance,
      action: event.action ?? 'Reconcile',
      reason: event.reason,
      type: event.type,
      note: event.message.length > NOTE_LIMIT ? `${event.message.slice(0, NOTE_LIMIT - 1)}…` : event.message,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.metadata.name,
        ...(regarding.metadata.namespace ? { namespace: regarding.metadata.namespace } : {}),
        ...(regarding.metadata.uid ? { uid: regarding.metadata.uid } : {}),
        ...(regarding.metadata.resourceVersion
          ? { resourceVersion: regarding.metadata.resourceVersion }
          : {}),
      },
    };
    if (decision.count > 1) body.series = { count: decision.count, lastObservedTime: microTime(now) };
    await this.#client.create(body);
    return name;
  }
}
