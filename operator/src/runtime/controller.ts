import { setImmediate } from 'node:timers/promises';
import { jittered } from './backoff.ts';
import { systemClock } from './clock.ts';
import { Informer, objectKey } from './informer.ts';
import type { KubeClient } from './kube-client.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type {
  Clock,
  ControllerOptions,
  KubeObject,
  Logger,
  ObjectCache,
  ObjectKey,
  OwnerMapper,
  ReconcileContext,
  ReconcileResult,
} from './types.ts';
import { WorkQueue } from './workqueue.ts';

export interface ControllerDeps {
  client: KubeClient;
  logger: Logger;
  metrics?: RuntimeMetrics;
  clock?: Clock;
  /** Informer tuning shared by all of this controller's informers (tests shorten the deadlines). */
  informer?: { watchTimeoutSeconds?: number; silenceDeadlineMs?: number };
}

/** `ns/name` -> { namespace, name }; `name` -> { namespace: undefined, name }. */
export function splitKey(key: ObjectKey): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

function group(apiVersion: string): string {
  return apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';
}

/**
 * Maps an object to its controlling owner of the primary kind (ownerReferences with controller=true).
 * The owner lives in the object's namespace if the primary is namespaced, else it is cluster-scoped.
 */
export function mapByOwnerReference(
  primary: { apiVersion: string; kind: string },
  primaryNamespaced: boolean,
): OwnerMapper {
  return (obj) =>
    (obj.metadata.ownerReferences ?? [])
      .filter(
        (r) =>
          r.controller === true &&
          r.kind === primary.kind &&
          group(r.apiVersion) === group(primary.apiVersion),
      )
      .map((r) =>
        primaryNamespaced && obj.metadata.namespace ? `${obj.metadata.namespace}/${r.name}` : r.name,
      );
}

/**
 * Maps an object to a primary named by a label (objects that cannot carry an owner reference, or that
 * must keep pointing at their owner after being orphaned). For a namespaced primary, pass the label
 * holding its namespace, or the object's own namespace is used.
 */
export function mapByLabel(
  nameLabel: string,
  options: { namespaceLabel?: string; namespaced?: boolean } = {},
): OwnerMapper {
  return (obj) => {
    const name = obj.metadata.labels?.[nameLabel];
    if (!name) return [];
    if (!options.namespaced && !options.namespaceLabel) return [name];
    const ns =
      (options.namespaceLabel && obj.metadata.labels?.[options.namespaceLabel]) || obj.metadata.namespace;
    return ns ? [`${ns}/${name}`] : [];
  };
}

/**
 * One controller: informers for the primary kind and its owned kinds feed a de-duplicating work queue;
 * N workers call `reconcile(key)`; failures back off per key; every primary is re-enqueued each resync
 * period (jittered). Informers start at once (warm caches, even on a non-leader); workers start only
 * when `startWorkers()` is called (by the manager, once leading) and after every cache has synced.
 */
export class Controller {
  readonly name: string;
  readonly #options: ControllerOptions;
  readonly #deps: ControllerDeps;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #queue: WorkQueue;
  readonly #primary: Informer;
  readonly #owned: Array<{ informer: Informer; map: OwnerMapper | undefined }> = [];
  readonly #stop = new AbortController();
  #resyncTimer: ReturnType<Clock['setTimeout']> | undefined;
  #started = false;
  #workersStarted = false;
  #primaryNamespaced = false;

  constructor(options: ControllerOptions, deps: ControllerDeps) {
    this.name = options.name;
    this.#options = options;
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#logger = deps.logger.child({ controller: options.name });
    this.#queue = new WorkQueue({
      backoff: options.backoff ?? { baseMs: 500, maxMs: 5 * 60_000 },
      clock: this.#clock,
      ...(deps.metrics ? { metrics: deps.metrics.queueHooks(options.name) } : {}),
    });
    const informerOptions = { logger: this.#logger, ...deps.informer };
    this.#primary = new Informer(deps.client, { ...options.primary, ...informerOptions });
    this.#primary.on({
      add: (o) => this.#queue.add(objectKey(o)),
      update: (old, o) => {
        if (options.reconcilePrimaryUpdate?.(old, o) ?? true) this.#queue.add(objectKey(o));
      },
      delete: (o) => this.#queue.add(objectKey(o)),
    });
    for (const owned of options.owned ?? []) {
      const { mapToPrimary, ...selector } = owned;
      const informer = new Informer(deps.client, { ...selector, ...informerOptions });
      const entry = { informer, map: mapToPrimary };
      const enqueue = (o: KubeObject) => {
        for (const key of this.#mapOwned(entry.map, o)) this.#queue.add(key);
      };
      informer.on({
        add: enqueue,
        // Both: a label or owner change moves the object from one primary to another.
        update: (old, o) => {
          enqueue(old);
          enqueue(o);
        },
        delete: enqueue,
      });
      this.#owned.push(entry);
    }
  }

  /** Starts the informers (not the workers). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const resource = await this.#deps.client.resourceFor(
      this.#options.primary.apiVersion,
      this.#options.primary.kind,
    );
    this.#primaryNamespaced = resource?.namespaced ?? false;
    this.#primary.start();
    for (const { informer } of this.#owned) informer.start();
  }

  /** Begins reconciling once every cache has synced (idempotent). */
  async startWorkers(): Promise<void> {
    if (this.#workersStarted || this.#stop.signal.aborted) return;
    this.#workersStarted = true;
    await this.waitForSync();
    if (this.#stop.signal.aborted) return;
    this.#queue.start(this.#options.concurrency ?? 2, (key, attempt) => this.#reconcileOne(key, attempt));
    this.#scheduleResync();
    this.#logger.info({ concurrency: this.#options.concurrency ?? 2 }, 'workers started');
  }

  /**
   * Stops taking work, waits up to `timeoutMs` for in-flight reconciles (then aborts their signal),
   * and stops every watch. Resolves true if all in-flight work finished in time.
   */
  async stop(timeoutMs = 30_000): Promise<boolean> {
    if (this.#resyncTimer) this.#clock.clearTimeout(this.#resyncTimer);
    const drained = await this.#queue.shutdown(timeoutMs);
    this.#stop.abort();
    await Promise.all([this.#primary.stop(), ...this.#owned.map(({ informer }) => informer.stop())]);
    return drained;
  }

  hasSynced(): boolean {
    return this.#primary.hasSynced() && this.#owned.every(({ informer }) => informer.hasSynced());
  }

  async waitForSync(): Promise<void> {
    await Promise.all([
      this.#primary.waitForSync(),
      ...this.#owned.map(({ informer }) => informer.waitForSync()),
    ]);
  }

  /** Every informer of this controller (health checks read their activity). */
  informers(): Informer[] {
    return [this.#primary, ...this.#owned.map(({ informer }) => informer)];
  }

  /** Keys of every primary in the cache. */
  primaryKeys(): ObjectKey[] {
    return this.#primary.keys();
  }

  /**
   * The cache of the primary kind or of an owned kind (first informer of that GVK), or of its
   * metadata-only informer when `metadataOnly` is set.
   */
  cache(apiVersion: string, kind: string, options: { metadataOnly?: boolean } = {}): ObjectCache | undefined {
    const metadataOnly = options.metadataOnly === true;
    return this.informers().find(
      (i) =>
        i.selector.apiVersion === apiVersion &&
        i.selector.kind === kind &&
        (i.selector.metadataOnly === true) === metadataOnly,
    );
  }

  enqueue(key: ObjectKey): void {
    this.#queue.add(key);
  }

  enqueueAfter(key: ObjectKey, ms: number): void {
    this.#queue.addAfter(key, ms);
  }

  /** Queue state, for tests and diagnostics. */
  queueStats(): { ready: number; inFlight: number; delayed: number } {
    return {
      ready: this.#queue.len(),
      inFlight: this.#queue.inFlight(),
      delayed: this.#queue.delayedCount(),
    };
  }

  #mapOwned(map: OwnerMapper | undefined, obj: KubeObject): ObjectKey[] {
    try {
      return (map ?? mapByOwnerReference(this.#options.primary, this.#primaryNamespaced))(obj);
    } catch (error) {
      this.#logger.error(
        { err: error instanceof Error ? error.message : String(error) },
        'owner mapper threw',
      );
      return [];
    }
  }

  #scheduleResync(): void {
    const period = this.#options.resyncPeriodMs ?? 10 * 60_000;
    if (period <= 0 || this.#stop.signal.aborted) return;
    this.#resyncTimer = this.#clock.setTimeout(
      () => {
        // Low priority: a resync pass must not delay reconciles that events asked for.
        for (const key of this.#primary.keys()) this.#queue.add(key, 'low');
        this.#scheduleResync();
      },
      jittered(period, 0.1),
    );
  }

  async #reconcileOne(key: ObjectKey, attempt: number): Promise<ReconcileResult> {
    // Let I/O in first. A run of reconciles that make no request (a resync pass with nothing to do) is
    // one long chain of microtasks: without this, watch events waited for the whole pass (a deleted
    // object was repaired after ~2 s instead of ~50 ms at 1,255 Territories).
    await setImmediate();
    const { namespace, name } = splitKey(key);
    const logger = this.#logger.child({ object: key }); // not `key`: that field name is redacted as a secret
    const ctx: ReconcileContext = {
      key,
      namespace,
      name,
      object: this.#primary.get(key),
      attempt,
      signal: this.#stop.signal,
      logger,
    };
    const metrics = this.#deps.metrics;
    const started = this.#clock.now();
    try {
      const result = await this.#options.reconcile(key, ctx);
      const requeue = result && typeof result.requeueAfterMs === 'number';
      metrics?.reconcileTotal.inc({ controller: this.name, result: requeue ? 'requeue_after' : 'success' });
      return result;
    } catch (error) {
      metrics?.reconcileTotal.inc({ controller: this.name, result: 'error' });
      metrics?.reconcileErrors.inc({ controller: this.name });
      logger.error(
        { err: error instanceof Error ? error.message : String(error), attempt },
        'reconcile failed, will retry with backoff',
      );
      throw error;
    } finally {
      metrics?.reconcileTime.observe({ controller: this.name }, (this.#clock.now() - started) / 1000);
    }
  }
}
