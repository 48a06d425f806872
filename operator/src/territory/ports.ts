// What the Territory reconciler needs from the outside world, as narrow interfaces. The runtime's
// KubeClient, Applier, caches and event recorder implement them in production; nothing here is mocked
// in tests: integration tests run the reconciler against a real API server.
import type { OperatorConfig } from '../config/operator-config.ts';
import type { RandomBytes } from '../keys/keyring.ts';
import type {
  Applier,
  EventRecorder,
  KubeObject,
  ObjectCache,
  ObjectRef,
  ResourceSelector,
} from '../runtime/types.ts';

/** Direct API calls, for what the informer caches do not hold. */
export interface DirectKube {
  /** GET; undefined when the object does not exist. */
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  /**
   * LIST (every page), for the few reads too rare or too wide to cache: keep it to one namespace and a
   * label selector (e.g. the database's Pods, read only while the database is not healthy).
   */
  list(selector: ResourceSelector): Promise<{ items: KubeObject[] }>;
  /** POST; rejects with a 409 error if the object already exists (never overwrites). */
  create(object: KubeObject): Promise<KubeObject>;
  /** PUT with `metadata.resourceVersion` as a precondition; rejects with 409 on a concurrent change. */
  replace(object: KubeObject): Promise<KubeObject>;
  /** JSON merge patch (RFC 7386). */
  mergePatch(ref: ObjectRef, patch: Record<string, unknown>): Promise<KubeObject>;
  /** Whether the API server serves this kind (for instance, whether CloudNativePG's CRDs are installed). */
  serves(apiVersion: string, kind: string): Promise<boolean>;
}

export interface TerritoryPorts {
  config: OperatorConfig;
  applier: Applier;
  events: EventRecorder;
  kube: DirectKube;
  /**
   * The informer cache of a watched kind (owned kinds, Nodes, Territories); with `metadataOnly`, the
   * metadata of every object of that kind (Secrets: the authority's own, which the operator does not own).
   */
  cache(apiVersion: string, kind: string, options?: { metadataOnly?: boolean }): ObjectCache | undefined;
  now(): Date;
  randomBytes: RandomBytes;
}
