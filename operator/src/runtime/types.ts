// The runtime's public contracts. Everything here is plain data or an interface so that the layer above
// (the Territory reconciler) can be written and unit-tested against it without a cluster.

/** A Kubernetes object as the API server sends it: plain JSON, timestamps are strings. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  fieldsType?: string;
  fieldsV1?: unknown;
  subresource?: string;
  time?: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
  [field: string]: unknown;
}

/** Which objects an informer or controller looks at. `namespace` unset = all namespaces / cluster-scoped. */
export interface ResourceSelector {
  apiVersion: string;
  kind: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * List and watch metadata only (PartialObjectMetadata): to notice objects one does not own, such as
   * Secrets a user creates for a controller, without holding their content.
   */
  metadataOnly?: boolean;
}

/** Identifies one object for reads and deletes. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** Cache / work-queue key: `namespace/name` for namespaced objects, `name` for cluster-scoped ones. */
export type ObjectKey = string;

/** Exponential backoff parameters: delay = min(max, base * factor^attempt) then jittered. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Growth factor per failure (default 2). */
  factor?: number;
  /** Fraction of the delay that is randomised, 0..1 (default 0.2): spreads thundering herds. */
  jitter?: number;
}

/** Injected time source so queue, events and leader logic are testable without real waiting. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}
export interface TimerHandle {
  readonly id: unknown;
}

/** Informer event handlers. `update` receives the old and new objects. */
export interface InformerHandlers<T extends KubeObject = KubeObject> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
}

/** Read-only view of an informer's cache; the reconciler reads the world from here (zero API reads). */
export interface ObjectCache<T extends KubeObject = KubeObject> {
  get(key: ObjectKey): T | undefined;
  list(): T[];
  keys(): ObjectKey[];
  /** The cached objects of one namespace (indexed: costs that namespace's size, not the cache's). */
  listInNamespace(namespace: string): T[];
  /** How many objects of one namespace are cached, decoding none of them. */
  countInNamespace(namespace: string): number;
  hasSynced(): boolean;
}

/** Maps an event on a secondary ("owned") object to the keys of the primaries that must be reconciled. */
export type OwnerMapper = (obj: KubeObject) => ObjectKey[];

/** What a reconcile returns: nothing = done (until the next event or resync), or a requeue request. */
// biome-ignore lint/suspicious/noConfusingVoidType: reconcilers naturally `return;` when done
export type ReconcileResult = { requeueAfterMs?: number } | void;

export interface ReconcileContext {
  /** The primary's key and its parts (namespace is undefined for cluster-scoped primaries). */
  key: ObjectKey;
  namespace: string | undefined;
  name: string;
  /** The primary from the cache; undefined if it was deleted (reconcile deletions from here). */
  object: KubeObject | undefined;
  /** Number of consecutive failures for this key so far (0 on a fresh attempt). */
  attempt: number;
  /** Aborted when the controller stops; long reconciles should pass it to their I/O. */
  signal: AbortSignal;
  logger: Logger;
}

export type Reconciler = (key: ObjectKey, ctx: ReconcileContext) => Promise<ReconcileResult>;

/**
 * A kind a controller watches. `transform` reduces each object before it is cached (the informer's
 * option): drop what the reconciler never reads, so a cache of thousands of objects stays small.
 */
export interface WatchedResource extends ResourceSelector {
  transform?: (obj: KubeObject) => KubeObject;
  /** Do not report an update that leaves the transformed object unchanged but for its resourceVersion. */
  quietWhenUnchanged?: boolean;
}

/** A secondary watched kind. Default mapping: ownerReferences with controller=true pointing at the primary kind. */
export interface OwnedResource extends WatchedResource {
  /** Custom mapping (e.g. by label for objects that cannot carry an owner reference). */
  mapToPrimary?: OwnerMapper;
}

export interface ControllerOptions {
  /** Short name used in metrics and logs, e.g. `territory`. */
  name: string;
  primary: WatchedResource;
  /**
   * Whether an update of a primary needs a reconcile (default: always). Like controller-runtime's
   * GenerationChangedPredicate: the status a reconcile writes itself need not wake it again.
   */
  reconcilePrimaryUpdate?: (oldObj: KubeObject, newObj: KubeObject) => boolean;
  owned?: OwnedResource[];
  reconcile: Reconciler;
  /** Parallel reconciles of DIFFERENT keys (the same key never runs twice at once). Default 2. */
  concurrency?: number;
  /** Re-enqueue every primary this often (jittered ±10%); 0 disables. Default 10 min. */
  resyncPeriodMs?: number;
  /** Failure backoff per key. Default base 500 ms, max 5 min. */
  backoff?: BackoffOptions;
}

/** Result of an apply: `written` is false when the live object already satisfied the desired one. */
export interface ApplyResult {
  object: KubeObject;
  written: boolean;
}

export interface ApplyOptions {
  /** Take ownership of fields owned by another manager (SSA force). Default: the Applier's default (false). */
  force?: boolean;
  /**
   * The live object if the caller already has it (from an informer cache): lets the applier skip the
   * request with no read at all. `null` = known absent. Unset = the applier reads it (one GET).
   */
  live?: KubeObject | null;
  /** Never skip: always send the apply (e.g. to refresh ownership). */
  alwaysSend?: boolean;
}

/** Server-side apply with one field manager. */
export interface Applier {
  readonly fieldManager: string;
  apply(desired: KubeObject, options?: ApplyOptions): Promise<ApplyResult>;
  /** Applies `desired.status` to the `/status` subresource (SSA, same field manager). */
  applyStatus(desired: KubeObject, options?: ApplyOptions): Promise<ApplyResult>;
  /** Deletes if present; resolves to false if it was already gone. */
  deleteIfExists(
    ref: ObjectRef,
    options?: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; preconditionUid?: string },
  ): Promise<boolean>;
}

export type EventType = 'Normal' | 'Warning';

export interface EventInput {
  type: EventType;
  /** UpperCamelCase machine-readable reason, e.g. `NamespaceCreated`. */
  reason: string;
  /** Human-readable; NEVER include secrets. */
  message: string;
  /** What the controller did, e.g. `Apply`, `Delete` (events.k8s.io `action`). Default `Reconcile`. */
  action?: string;
}

export interface EventRecorder {
  /** Fire-and-forget: never throws, repeated identical events inside the window cost no request. */
  record(regarding: KubeObject, event: EventInput): void;
  /** Resolves when every pending event write has finished (for shutdown and tests). */
  flush(): Promise<void>;
}

/** Minimal structural logger type (pino's Logger satisfies it). */
export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  trace(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** Counts API requests by verb and resource (list, watch, get, create, patch, update, delete). */
export interface RequestRecorder {
  record(verb: string, resource: string, code: number | 'error'): void;
}
