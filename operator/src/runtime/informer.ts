import { backoffDelay } from './backoff.ts';
import { systemClock } from './clock.ts';
import { isGone, isNotServed, KubeApiError, type KubeClient, type WatchEvent } from './kube-client.ts';
import { CompactObjectStore } from './object-store.ts';
import type {
  BackoffOptions,
  Clock,
  InformerHandlers,
  KubeObject,
  Logger,
  ObjectCache,
  ObjectKey,
  ResourceSelector,
} from './types.ts';

export interface InformerOptions<T extends KubeObject = KubeObject> extends ResourceSelector {
  /**
   * Server-side watch timeout. The server ends the watch cleanly after it and we re-watch from the last
   * resourceVersion; default: random in [300, 360) s so many informers do not reconnect together.
   */
  watchTimeoutSeconds?: number;
  /**
   * A watch that delivers nothing (no event, no bookmark, no end) for this long is presumed dead and
   * restarted: the failure mode where a connection silently stops delivering. Default: timeout + 30 s.
   */
  silenceDeadlineMs?: number;
  /** Backoff between failed attempts (list or watch). Default base 250 ms, max 30 s. */
  backoff?: BackoffOptions;
  logger?: Logger;
  clock?: Clock;
  /**
   * Applied to every object before it is cached and handed to handlers: drop what the controller never
   * reads (other managers' managedFields, a status nobody looks at) so the cache holds less.
   */
  transform?: (obj: T) => T;
  /**
   * Handlers are not told of an update that leaves the (transformed) object as it was but for its
   * resourceVersion: a change only to what the transform drops (a Node's heartbeat, a quota's usage)
   * then wakes nothing. Off when the version itself is the news (a metadata-only watch).
   */
  quietWhenUnchanged?: boolean;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 30_000 };

/** Cache key of an object: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(obj: { metadata: { name?: string; namespace?: string } }): ObjectKey {
  const { name = '', namespace } = obj.metadata;
  return namespace ? `${namespace}/${name}` : name;
}

class WatchSilentError extends Error {}

/**
 * List then watch one kind, keeping a cache keyed by namespace/name and telling handlers about
 * add/update/delete. Robust where client-node's informer is not: 410 Gone re-lists; an error or a
 * premature end restarts with bounded jittered backoff; a silent watch is aborted and restarted;
 * bookmarks keep the resourceVersion fresh so restarts rarely need a re-list.
 */
export class Informer<T extends KubeObject = KubeObject> implements ObjectCache<T> {
  readonly selector: ResourceSelector;
  readonly #client: KubeClient;
  readonly #options: InformerOptions<T>;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #handlers: InformerHandlers<T>[] = [];
  readonly #cache = new CompactObjectStore<T>();
  /** Keys by namespace, so a per-namespace read costs that namespace, not the whole cache. */
  readonly #byNamespace = new Map<string, Set<ObjectKey>>();
  readonly #stop = new AbortController();
  #resourceVersion = '';
  #synced = false;
  #syncWaiters: Array<() => void> = [];
  #loop: Promise<void> | undefined;
  #lastActivity: number;
  #failures = 0;
  /** Counters for tests and diagnostics. */
  readonly stats = { lists: 0, watches: 0, restarts: 0, gone: 0, silent: 0, events: 0 };

  constructor(client: KubeClient, options: InformerOptions<T>) {
    this.#client = client;
    this.#options = options;
    this.selector = {
      apiVersion: options.apiVersion,
      kind: options.kind,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
      ...(options.fieldSelector ? { fieldSelector: options.fieldSelector } : {}),
      ...(options.metadataOnly ? { metadataOnly: true } : {}),
    };
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger?.child({ informer: `${options.kind}.${options.apiVersion}` });
    this.#lastActivity = this.#clock.now();
  }

  on(handlers: InformerHandlers<T>): this {
    this.#handlers.push(handlers);
    return this;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list has filled the cache (or when stopped). */
  waitForSync(): Promise<void> {
    if (this.#synced || this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /** Time (clock ms) the loop last did anything: an attempt, an event, a failure. */
  lastActivity(): number {
    return this.#lastActivity;
  }

  /** The resourceVersion the next watch would start from. */
  resourceVersion(): string {
    return this.#resourceVersion;
  }

  get(key: ObjectKey): T | undefined {
    return this.#cache.get(key);
  }
  /** Every cached object, decoded: costs the whole cache, prefer get() or listInNamespace(). */
  list(): T[] {
    return this.#decode(this.#cache.keys());
  }
  keys(): ObjectKey[] {
    return [...this.#cache.keys()];
  }
  listInNamespace(namespace: string): T[] {
    return this.#decode(this.#byNamespace.get(namespace)?.values() ?? []);
  }
  countInNamespace(namespace: string): number {
    return this.#byNamespace.get(namespace)?.size ?? 0;
  }

  #decode(keys: Iterable<ObjectKey>): T[] {
    const out: T[] = [];
    for (const key of keys) {
      const obj = this.#cache.get(key);
      if (obj) out.push(obj);
    }
    return out;
  }

  /**
   * Caches `item` and tells handlers: `add` for a new key, else `update`, unless `quietWhenUnchanged`
   * and only its resourceVersion changed (the store compares the deflated content; nothing is decoded).
   */
  #store(key: ObjectKey, item: T): void {
    const encoded = this.#cache.encode(item);
    const known = this.#cache.has(key);
    const quiet = known && this.#options.quietWhenUnchanged === true && this.#cache.holds(key, encoded);
    const old = known && !quiet ? this.#cache.get(key) : undefined;
    this.#cache.put(key, encoded);
    const ns = item.metadata.namespace;
    if (ns) {
      const bucket = this.#byNamespace.get(ns) ?? new Set<ObjectKey>();
      bucket.add(key);
      this.#byNamespace.set(ns, bucket);
    }
    if (!known) this.#emit('add', item);
    else if (old) this.#emit('update', item, old);
  }

  #remove(key: ObjectKey, namespace: string | undefined): void {
    this.#cache.delete(key);
    const bucket = namespace === undefined ? undefined : this.#byNamespace.get(namespace);
    if (!bucket || namespace === undefined) return;
    bucket.delete(key);
    if (bucket.size === 0) this.#byNamespace.delete(namespace);
  }

  #prepare(obj: T): T {
    // Watch events and list items carry no apiVersion/kind (list) or may lack them: fill them in so
    // cached objects are self-describing.
    const item = { ...obj, apiVersion: this.selector.apiVersion, kind: this.selector.kind } as T;
    return this.#options.transform ? this.#options.transform(item) : item;
  }

  /** The silence deadline in ms for a watch of `timeoutSeconds` (health checks use the default bound). */
  silenceDeadlineMs(timeoutSeconds = 360): number {
    return this.#options.silenceDeadlineMs ?? (timeoutSeconds + 30) * 1000;
  }

  #watchTimeoutSeconds(): number {
    // Short watches: the silence deadline follows the watch timeout, and only that deadline notices a
    // half-dead connection (no HTTP/2 pings here, unlike client-go). With 60-90 s, a frozen watch is
    // replaced within ~2 min instead of ~6; a re-watch from the last resourceVersion costs one request.
    return this.#options.watchTimeoutSeconds ?? 60 + Math.floor(Math.random() * 30);
  }

  async #run(): Promise<void> {
    let needList = true;
    while (!this.#stop.signal.aborted) {
      this.#lastActivity = this.#clock.now();
      try {
        if (needList) {
          await this.#relist();
          needList = false;
        }
        const healthy = await this.#watchOnce();
        // A watch that ran its course (server timeout) or delivered events is a success; one that ended
        // at once without anything is treated like a failure so a flapping server is not hammered.
        if (healthy) this.#failures = 0;
        else await this.#backoff('watch ended without delivering anything');
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        if (isGone(error)) {
          // Our resourceVersion was compacted away: only a fresh list can tell us the current state.
          this.stats.gone++;
          this.#logger?.info(
            { resourceVersion: this.#resourceVersion },
            'resourceVersion expired (410), re-listing',
          );
          needList = true;
          this.#resourceVersion = '';
          // One immediate re-list; if the fresh list is "gone" again at once, slow down.
          if (this.#failures > 0) await this.#backoff(error);
          else this.#failures++;
          continue;
        }
        if (isNotServed(error)) {
          // The kind is not installed (yet): an empty cache is the truth, so count as synced and keep
          // checking at the backoff cap's pace for the CRD to appear.
          this.#markNotServed();
          await this.#backoff(error);
          needList = true;
          continue;
        }
        if (error instanceof WatchSilentError) {
          this.stats.silent++;
          this.#logger?.warn(
            { deadlineMs: this.silenceDeadlineMs() },
            'watch silent past its deadline, restarting',
          );
          continue;
        }
        await this.#backoff(error);
      }
    }
    for (const w of this.#syncWaiters.splice(0)) w();
  }

  #markNotServed(): void {
    for (const key of [...this.#cache.keys()]) {
      const old = this.#cache.get(key) as T;
      this.#remove(key, old.metadata.namespace);
      this.#emit('delete', old);
    }
    this.#resourceVersion = '';
    this.#lastActivity = this.#clock.now();
    if (!this.#synced) {
      this.#logger?.info({}, 'kind not served by the API server; empty cache until it is');
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  async #backoff(reason: unknown): Promise<void> {
    const delay = backoffDelay(this.#options.backoff ?? DEFAULT_BACKOFF, this.#failures++);
    this.stats.restarts++;
    this.#logger?.warn(
      { err: reason instanceof Error ? reason.message : String(reason), retryInMs: delay },
      'list/watch failed, retrying',
    );
    await this.#sleep(delay);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#stop.signal;
      const timer = this.#clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.#clock.clearTimeout(timer);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #relist(): Promise<void> {
    this.stats.lists++;
    // Each page's items take their cache shape as they arrive: a large collection (every Secret's
    // metadata, managedFields included) is never held whole in the form the API server sends.
    const { items, resourceVersion } = await this.#client.list<T>(this.selector, (listed) =>
      this.#prepare(listed),
    );
    const seen = new Set<ObjectKey>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      if (!this.#cache.has(key) || this.#cache.resourceVersion(key) !== item.metadata.resourceVersion) {
        this.#store(key, item);
      }
    }
    for (const key of [...this.#cache.keys()]) {
      if (!seen.has(key)) {
        const old = this.#cache.get(key) as T;
        this.#remove(key, old.metadata.namespace);
        this.#emit('delete', old);
      }
    }
    this.#resourceVersion = resourceVersion;
    this.#lastActivity = this.#clock.now();
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
    }
  }

  /** One watch from the current resourceVersion. Resolves true if it was a healthy watch. */
  async #watchOnce(): Promise<boolean> {
    this.stats.watches++;
    const abort = new AbortController();
    const onStop = () => abort.abort();
    this.#stop.signal.addEventListener('abort', onStop, { once: true });
    const timeoutSeconds = this.#watchTimeoutSeconds();
    const deadline = this.silenceDeadlineMs(timeoutSeconds);
    let silent = false;
    let timer = this.#clock.setTimeout(fire, deadline);
    function fire() {
      silent = true;
      abort.abort();
    }
    const touch = () => {
      this.#clock.clearTimeout(timer);
      timer = this.#clock.setTimeout(fire, deadline);
      this.#lastActivity = this.#clock.now();
    };
    const started = this.#clock.now();
    let delivered = 0;
    try {
      await this.#client.watch(
        this.selector,
        { resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        (event) => {
          touch();
          delivered++;
          this.#handle(event);
        },
        abort.signal,
      );
    } catch (error) {
      if (silent) throw new WatchSilentError();
      throw error;
    } finally {
      this.#clock.clearTimeout(timer);
      this.#stop.signal.removeEventListener('abort', onStop);
      abort.abort();
    }
    if (silent) throw new WatchSilentError();
    const ranItsCourse = this.#clock.now() - started >= timeoutSeconds * 1000 * 0.9;
    return delivered > 0 || ranItsCourse || this.#stop.signal.aborted;
  }

  #handle(event: WatchEvent): void {
    this.stats.events++;
    const obj = event.object as T;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const item = this.#prepare(obj);
        this.#resourceVersion = item.metadata.resourceVersion ?? this.#resourceVersion;
        this.#store(objectKey(item), item);
        return;
      }
      case 'DELETED': {
        const key = objectKey(obj);
        const old = this.#cache.get(key);
        if (old) this.#remove(key, old.metadata.namespace);
        this.#resourceVersion = obj.metadata.resourceVersion ?? this.#resourceVersion;
        // The DELETED event carries the last state; fall back to the cached one if it is partial.
        this.#emit('delete', {
          ...old,
          ...obj,
          apiVersion: this.selector.apiVersion,
          kind: this.selector.kind,
        });
        return;
      }
      case 'BOOKMARK':
        this.#resourceVersion = obj.metadata.resourceVersion ?? this.#resourceVersion;
        return;
      case 'ERROR': {
        const status = event.object as unknown as { code?: number; message?: string; reason?: string };
        throw new KubeApiError(status.code ?? 500, status.message ?? 'watch error', status.reason, status);
      }
    }
  }

  #emit(type: 'add', obj: T): void;
  #emit(type: 'update', obj: T, old: T): void;
  #emit(type: 'delete', obj: T): void;
  #emit(type: 'add' | 'update' | 'delete', obj: T, old?: T): void {
    for (const h of this.#handlers) {
      try {
        if (type === 'add') h.add?.(obj);
        else if (type === 'update' && old) h.update?.(old, obj);
        else if (type === 'delete') h.delete?.(obj);
      } catch (error) {
        // A faulty handler must not kill the watch loop that every other handler depends on.
        this.#logger?.error(
          { err: error instanceof Error ? error.message : String(error) },
          'informer handler threw',
        );
      }
    }
  }
}
