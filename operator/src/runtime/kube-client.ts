import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { type ClusterAccess, fromKubeConfig } from './cluster-access.ts';
import type { KubeObject, ObjectRef, RequestRecorder, ResourceSelector } from './types.ts';

// A small JSON REST client on node:https. Why not client-node's generated typed clients: they turn
// timestamps into Date objects and drop unknown fields of built-in kinds, which breaks "is the live
// object already what we want?" comparisons, and they build a new connection pool (TLS context
// included) for every request, which costs CPU at thousands of requests a minute. Here every request is
// plain JSON on one keep-alive pool, each watch has its own connection, and each request is counted by
// verb and resource.

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** An API error response, with the Kubernetes `Status` reason when the server sent one. */
export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly reason: string | undefined;
  readonly status: unknown;

  constructor(statusCode: number, message: string, reason?: string, status?: unknown) {
    super(message);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.reason = reason;
    this.status = status;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.statusCode === 404;
}
export function isConflict(error: unknown): boolean {
  return error instanceof KubeApiError && error.statusCode === 409;
}
/** The API server does not serve this kind at all (e.g. a CRD that is not installed). */
export function isNotServed(error: unknown): boolean {
  return error instanceof KubeApiError && error.reason === 'NotServed';
}
export function isGone(error: unknown): boolean {
  return error instanceof KubeApiError && error.statusCode === 410;
}

export interface ApiResource {
  /** Plural resource name used in URLs, e.g. `configmaps`. */
  name: string;
  namespaced: boolean;
  kind: string;
}

export interface ListResult<T extends KubeObject = KubeObject> {
  items: T[];
  resourceVersion: string;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Counted verb (get, list, watch, create, update, patch, delete); derived from the method if unset. */
  verb?: string;
  /** Counted resource (plural name); derived from the path if unset. */
  resource?: string;
  /** Accept header; default application/json. */
  accept?: string;
}

/** The Accept header that asks for metadata only (`as=PartialObjectMetadata[List]`). */
function metadataOnlyAccept(list: boolean): string {
  return `application/json;as=PartialObjectMetadata${list ? 'List' : ''};g=meta.k8s.io;v=v1,application/json`;
}

export type PatchType = 'apply' | 'merge' | 'json' | 'strategic';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

const PAGE_SIZE = 500;
const DISCOVERY_MISS_TTL_MS = 10_000;

export class KubeClient {
  /** `https://host:port` of the API server. */
  readonly server: string;
  readonly #access: Promise<ClusterAccess>;
  readonly #recorder: RequestRecorder | undefined;
  readonly #discovery = new Map<string, { at: number; resources: Promise<ApiResource[]> }>();
  #pool: HttpAgent | undefined;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  #writeFence: (() => boolean) | undefined;

  /** `cluster`: a ClusterAccess (see cluster-access.ts), or a client-node KubeConfig. */
  constructor(
    cluster: ClusterAccess | KubeConfig,
    options: { recorder?: RequestRecorder; requestTimeoutMs?: number; userAgent?: string } = {},
  ) {
    this.#recorder = options.recorder;
    // The API server names the field manager of a create/update after the User-Agent.
    this.#userAgent = options.userAgent ?? 'territory-runtime';
    // Every non-watch request has a deadline: a request on a dead connection must fail, not hang.
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    if ('getCurrentCluster' in cluster) {
      const current = cluster.getCurrentCluster();
      if (!current) throw new Error('KubeConfig has no current cluster');
      this.server = current.server.replace(/\/+$/, '');
      this.#access = fromKubeConfig(cluster);
    } else {
      this.server = cluster.server;
      this.#access = Promise.resolve(cluster);
    }
    this.#access.catch(() => {}); // reported by the first request instead
  }

  // ---- discovery ----------------------------------------------------------------------------------

  /** The resource serving `kind` in `apiVersion`, or undefined if the API server does not serve it. */
  async resourceFor(apiVersion: string, kind: string): Promise<ApiResource | undefined> {
    const find = (list: ApiResource[]) => list.find((r) => r.kind === kind && !r.name.includes('/'));
    const cached = this.#discovery.get(apiVersion);
    if (cached) {
      const hit = find(await cached.resources.catch(() => []));
      // A miss re-discovers (a CRD may have been installed since), but at most every few seconds so
      // that asking "is CloudNativePG installed?" on every reconcile costs no request.
      if (hit || Date.now() - cached.at < DISCOVERY_MISS_TTL_MS) return hit;
    }
    const fresh = { at: Date.now(), resources: this.#discover(apiVersion) };
    this.#discovery.set(apiVersion, fresh);
    return find(await fresh.resources);
  }

  /** Whether the API server serves this kind (e.g. whether CloudNativePG's CRDs are installed). */
  async serves(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resourceFor(apiVersion, kind)) !== undefined;
  }

  async #discover(apiVersion: string): Promise<ApiResource[]> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    try {
      const body = (await this.request('GET', path, { verb: 'discovery', resource: apiVersion })) as {
        resources?: ApiResource[];
      };
      return body.resources ?? [];
    } catch (error) {
      if (isNotFound(error)) return [];
      this.#discovery.delete(apiVersion);
      throw error;
    }
  }

  /** URL path of a collection (no name) or an object (with name), optionally a subresource. */
  async pathFor(
    ref: { apiVersion: string; kind: string; namespace?: string | undefined; name?: string | undefined },
    subresource?: string,
  ): Promise<{ path: string; resource: ApiResource }> {
    const resource = await this.resourceFor(ref.apiVersion, ref.kind);
    if (!resource) {
      throw new KubeApiError(404, `the server does not serve ${ref.kind} in ${ref.apiVersion}`, 'NotServed');
    }
    const prefix = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const parts = [prefix];
    if (resource.namespaced && ref.namespace) parts.push('namespaces', encodeURIComponent(ref.namespace));
    parts.push(resource.name);
    if (ref.name) parts.push(encodeURIComponent(ref.name));
    if (subresource) parts.push(subresource);
    return { path: parts.join('/'), resource };
  }

  // ---- verbs --------------------------------------------------------------------------------------

  /** GET; undefined when the object does not exist. */
  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    const { path, resource } = await this.pathFor(ref);
    try {
      return (await this.request('GET', path, { verb: 'get', resource: resource.name })) as T;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * LIST, following `continue` pages; returns the collection's resourceVersion for a following watch.
   * `each` turns every item into what is kept as its page arrives (an informer's cache shape), so that a
   * large collection is never held whole as the API server sent it.
   */
  async list<T extends KubeObject = KubeObject>(
    selector: ResourceSelector,
    each: (item: T) => T = (item) => item,
  ): Promise<ListResult<T>> {
    const { path, resource } = await this.pathFor({ ...selector, name: undefined });
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    const kind = selector.kind;
    do {
      const page = (await this.request('GET', path, {
        verb: 'list',
        resource: resource.name,
        ...(selector.metadataOnly ? { accept: metadataOnlyAccept(true) } : {}),
        query: {
          labelSelector: selector.labelSelector,
          fieldSelector: selector.fieldSelector,
          limit: PAGE_SIZE,
          continue: continueToken,
        },
      })) as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
      // List items carry no apiVersion/kind; fill them in so cached objects are self-describing.
      for (const item of page.items ?? [])
        items.push(each({ ...item, apiVersion: selector.apiVersion, kind }));
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    return { items, resourceVersion };
  }

  /** POST; rejects with a 409 KubeApiError if the object already exists (never overwrites). */
  async create<T extends KubeObject = KubeObject>(object: KubeObject, query: RequestOptions['query'] = {}) {
    const { path, resource } = await this.pathFor({ ...object, ...refParts(object), name: undefined });
    return (await this.request('POST', path, {
      verb: 'create',
      resource: resource.name,
      body: object,
      query,
    })) as T;
  }

  /** PUT with `metadata.resourceVersion` as a precondition; rejects with 409 on a concurrent change. */
  async replace<T extends KubeObject = KubeObject>(object: KubeObject, subresource?: string): Promise<T> {
    const { path, resource } = await this.pathFor({ ...object, ...refParts(object) }, subresource);
    return (await this.request('PUT', path, { verb: 'update', resource: resource.name, body: object })) as T;
  }

  async patch<T extends KubeObject = KubeObject>(
    ref: ObjectRef,
    body: unknown,
    type: PatchType,
    options: { fieldManager?: string; force?: boolean; subresource?: string } = {},
  ): Promise<T> {
    const { path, resource } = await this.pathFor(ref, options.subresource);
    return (await this.request('PATCH', path, {
      verb: 'patch',
      resource: resource.name,
      body,
      contentType: PATCH_CONTENT_TYPE[type],
      query: { fieldManager: options.fieldManager, force: type === 'apply' ? options.force : undefined },
    })) as T;
  }

  /** JSON merge patch (RFC 7386). */
  mergePatch(ref: ObjectRef, patch: Record<string, unknown>): Promise<KubeObject> {
    return this.patch(ref, patch, 'merge');
  }

  /** DELETE; resolves false when it was already gone. */
  async delete(
    ref: ObjectRef,
    options: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; preconditionUid?: string } = {},
  ): Promise<boolean> {
    const { path, resource } = await this.pathFor(ref);
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (options.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
    if (options.preconditionUid) body.preconditions = { uid: options.preconditionUid };
    try {
      await this.request('DELETE', path, { verb: 'delete', resource: resource.name, body });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * One watch request: resolves when the server ends the stream cleanly (e.g. after `timeoutSeconds`),
   * rejects on a transport error or a non-200 answer. Each event goes to `onEvent` as it arrives.
   * Abort with `signal`; an abort resolves (it is how the caller stops or restarts a watch).
   */
  async watch(
    selector: ResourceSelector,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const { path, resource } = await this.pathFor({ ...selector, name: undefined });
    const { response } = await this.#send('GET', path, {
      verb: 'watch',
      resource: resource.name,
      ...(selector.metadataOnly ? { accept: metadataOnlyAccept(false) } : {}),
      query: {
        ...query,
        watch: true,
        labelSelector: selector.labelSelector,
        fieldSelector: selector.fieldSelector,
      },
      signal,
      dedicatedConnection: true,
      timeoutMs: 0,
    });
    try {
      if (!isSuccess(response)) throw toError(response, await readBody(response));
      response.setEncoding('utf8');
      let buffered = '';
      for await (const chunk of response) {
        buffered += chunk as string;
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) onEvent(parseWatchLine(line));
          newline = buffered.indexOf('\n');
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    } finally {
      response.destroy();
    }
  }

  /** Any request; parses a JSON answer, throws KubeApiError on non-2xx. */
  async request(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const { response, settle, timedOut } = await this.#send(method, path, options);
      let text: string;
      try {
        text = await readBody(response);
      } catch (error) {
        throw timedOut() ?? error;
      } finally {
        settle();
      }
      if (isSuccess(response)) return text ? JSON.parse(text) : undefined;
      // 429 with Retry-After: the API server did not process the request (its storage for the kind
      // is (re)initializing, or priority and fairness shed it) and says when to come back. client-go
      // waits and retries the same way, whatever the verb.
      const wait = retryAfterMs(response);
      if (wait === undefined || attempt >= MAX_THROTTLED_ATTEMPTS) throw toError(response, text);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * Refuse every write (not reads, not the leader Lease itself) while `allowed()` is false, without
   * sending it: with leader election, only a replica that knows it still leads may write.
   */
  setWriteFence(allowed: () => boolean): void {
    this.#writeFence = allowed;
  }

  /** Releases the pooled connections (on shutdown). */
  async close(): Promise<void> {
    this.#pool?.destroy();
    this.#pool = undefined;
  }

  async #send(
    method: HttpMethod,
    path: string,
    options: RequestOptions & { dedicatedConnection?: boolean; timeoutMs?: number },
  ): Promise<{
    response: IncomingMessage;
    /** Call once the answer is read: clears the deadline. */
    settle: () => void;
    /** After a failure while reading: the Timeout error if the deadline caused it. */
    timedOut: () => KubeApiError | undefined;
  }> {
    const verb = options.verb ?? method.toLowerCase();
    const resource = options.resource ?? resourceFromPath(path);
    if (method !== 'GET' && resource !== 'leases' && this.#writeFence && !this.#writeFence()) {
      throw new KubeApiError(
        503,
        `${method} ${path} refused: this replica is not (or no longer) the leader`,
        'NotLeader',
      );
    }
    const access = await this.#access;
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string | number> = {
      Accept: options.accept ?? 'application/json',
      'User-Agent': this.#userAgent,
      ...(await access.headers()),
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    // The deadline is a timer cleared when the answer is read (AbortSignal.timeout cannot be cleared:
    // thousands of requests a minute would each leave one pending for 30 s).
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const deadline = timeoutMs > 0 ? new AbortController() : undefined;
    const timer = deadline ? setTimeout(() => deadline.abort(), timeoutMs) : undefined;
    const settle = () => clearTimeout(timer);
    const signal =
      options.signal && deadline
        ? AbortSignal.any([options.signal, deadline.signal])
        : (options.signal ?? deadline?.signal);
    const timedOut = () => {
      settle();
      if (!deadline?.signal.aborted) return undefined;
      // Other pooled connections may be half-dead too (a network cut): drop the pool, dial afresh.
      this.#pool?.destroy();
      this.#pool = undefined;
      return new KubeApiError(504, `${method} ${path} timed out after ${timeoutMs} ms`, 'Timeout');
    };
    const https = url.protocol === 'https:';
    // A watch gets a connection of its own (agent: false), closed when it ends: an aborted half-dead
    // connection must never go back to the pool where the next request would hang on it.
    const agent = options.dedicatedConnection ? false : this.#sharedPool(access, https);
    try {
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = (https ? httpsRequest : httpRequest)(url, {
          method,
          headers,
          agent,
          ...(agent === false ? access.tls : {}),
          ...(signal ? { signal } : {}),
        });
        req.once('response', resolve);
        req.once('error', reject);
        req.end(body);
      });
      // The deadline covers the body too: an abort destroys the response, and reading it then fails.
      this.#recorder?.record(verb, resource, response.statusCode ?? 0);
      return { response, settle, timedOut };
    } catch (error) {
      settle();
      if (options.signal?.aborted) throw error;
      this.#recorder?.record(verb, resource, 'error');
      throw timedOut() ?? error;
    }
  }

  #sharedPool(access: ClusterAccess, https: boolean): HttpAgent {
    // LIFO keeps a few warm connections busy instead of spreading requests over many idle ones.
    const options = { keepAlive: true, scheduling: 'lifo' as const, maxFreeSockets: 32 };
    this.#pool ??= https ? new HttpsAgent({ ...options, ...access.tls }) : new HttpAgent(options);
    return this.#pool;
  }
}

/** Attempts of a request the API server throttles (429 with Retry-After) before its error is final. */
const MAX_THROTTLED_ATTEMPTS = 10;

/** How long a 429 asks to wait (Retry-After in seconds, at most 10 s), or undefined when it does not. */
function retryAfterMs(response: IncomingMessage): number | undefined {
  if (response.statusCode !== 429) return undefined;
  const seconds = Number(response.headers['retry-after']);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 10) * 1000 : undefined;
}

function isSuccess(response: IncomingMessage): boolean {
  const code = response.statusCode ?? 0;
  return code >= 200 && code <= 299;
}

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A watch line; an ERROR event (e.g. 410 Gone for an expired resourceVersion) becomes a thrown KubeApiError. */
function parseWatchLine(line: string): WatchEvent {
  const event = JSON.parse(line) as WatchEvent;
  if (event.type === 'ERROR') {
    const status = event.object as unknown as { code?: number; message?: string; reason?: string };
    throw new KubeApiError(status.code ?? 500, status.message ?? 'watch error', status.reason, status);
  }
  return event;
}

function refParts(object: KubeObject): { name: string | undefined; namespace: string | undefined } {
  return { name: object.metadata.name, namespace: object.metadata.namespace };
}

function toError(response: IncomingMessage, text: string): KubeApiError {
  let status: { message?: string; reason?: string } | undefined;
  try {
    status = text ? (JSON.parse(text) as { message?: string; reason?: string }) : undefined;
  } catch {
    status = undefined;
  }
  const code = response.statusCode ?? 0;
  const message = status?.message ?? (text.slice(0, 200) || `HTTP ${code}`);
  return new KubeApiError(code, message, status?.reason, status);
}

/** `/apis/g/v/namespaces/ns/things/x/status` -> `things`. */
export function resourceFromPath(path: string): string {
  const parts = path.split('?')[0]?.split('/').filter(Boolean) ?? [];
  const start = parts[0] === 'api' ? 2 : 3;
  let rest = parts.slice(start);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  return rest[0] ?? 'unknown';
}
