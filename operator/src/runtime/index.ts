/**
 * The generic controller runtime: a small controller-runtime / client-go for TypeScript.
 * It knows nothing of territories. Layering: pure logic (workqueue, backoff, satisfies, event de-dup)
 * is unit-tested with an injected Clock; everything that talks to the API server goes through
 * `KubeClient`, which counts every request by verb and resource.
 *
 * Typical wiring (see manager.ts):
 *
 *   const manager = new Manager({ kubeConfig, name: 'territory-operator',
 *     leaderElection: { namespace: 'territory-system', leaseName: 'territory-operator' },
 *     healthPort: 8081 });
 *   const applier = manager.applier;           // SSA, field manager = manager name
 *   const events = manager.events;             // de-duplicated Event recorder
 *   manager.addController({
 *     name: 'territory',
 *     primary: { apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory' },
 *     owned: [{ apiVersion: 'v1', kind: 'Namespace' },
 *             { apiVersion: 'v1', kind: 'Secret', labelSelector: 'app.kubernetes.io/managed-by=territory-operator',
 *               mapToPrimary: mapByLabel('sovereign.dev/territory') }],
 *     reconcile: async (key, ctx) => { ...; return { requeueAfterMs: 60_000 }; },
 *   });
 *   await manager.start();                     // resolves once stopped (SIGTERM/SIGINT or manager.stop())
 *
 * Modules:
 * - kube-client.ts  `KubeClient`: JSON REST on node:https (cluster-access.ts: server, TLS, token) (discovery of GVK -> resource, get/list/
 *                   create/patch/delete, raw watch); every request is counted via a `RequestRecorder`.
 *                   `KubeApiError` carries `statusCode`/`reason`.
 * - informer.ts     `Informer`: list then watch from the list's resourceVersion with bookmarks; re-list on
 *                   410 Gone; restart on error/clean end with bounded jittered backoff; restart when silent
 *                   past a deadline; cache keyed by namespace/name; add/update/delete handlers; hasSynced().
 * - workqueue.ts    `WorkQueue`: de-duplicating keys, per-key serialisation, N workers, per-key exponential
 *                   backoff, addAfter, forget, shutdown draining in-flight work, metrics hooks.
 * - backoff.ts      `Backoff` (pure): delay for attempt n with bounded jitter.
 * - clock.ts        `systemClock`, `ManualClock` (tests).
 * - controller.ts   `Controller`: primary + owned informers -> queue -> reconcile; periodic jittered resync;
 *                   `mapByOwnerReference`, `mapByLabel` owner mappers; `objectKey`, `splitKey`.
 * - satisfies.ts    `isSatisfied(desired, live, fieldManager)` (pure): desired ⊆ live (quantities
 *                   normalised) AND the set of fields our manager owns equals the desired field set (so a
 *                   field removed from desired still triggers an apply that prunes it).
 * - apply.ts        `ServerSideApplier implements Applier`: SSA with one field manager, explicit force,
 *                   status subresource, deleteIfExists, skips the request when live already satisfies.
 * - events.ts       `KubeEventRecorder implements EventRecorder` (events.k8s.io/v1) + pure `EventDeduper`.
 * - leader.ts       `LeaderElector`: coordination.k8s.io/v1 Lease (15 s / 10 s / 2 s), identity
 *                   hostname+pid, optimistic concurrency, releases on stop.
 * - metrics.ts      `RuntimeMetrics`: prom-client registry; reconcile/queue/API-request metrics; `gauge()` hook.
 * - health.ts       `HealthServer`: /healthz, /readyz, /metrics on node:http.
 * - logger.ts       `createLogger()`: pino JSON, secret-path redaction, child loggers with bound fields.
 * - manager.ts      `Manager`: leader election + controllers + health + metrics + signals + graceful stop.
 */

export { applyBody, refOf, ServerSideApplier, type ServerSideApplierOptions } from './apply.ts';
export { backoffDelay, jittered } from './backoff.ts';
export { ManualClock, systemClock } from './clock.ts';
export {
  type ClusterAccess,
  type ClusterTls,
  fromKubeConfig,
  inCluster,
  loadClusterAccess,
} from './cluster-access.ts';
export { Controller, type ControllerDeps, mapByLabel, mapByOwnerReference, splitKey } from './controller.ts';
export { EventDeduper, KubeEventRecorder, type KubeEventRecorderOptions, microTime } from './events.ts';
export { type Check, HealthServer } from './health.ts';
export { Informer, type InformerOptions, objectKey } from './informer.ts';
export {
  isConflict,
  isGone,
  isNotFound,
  isNotServed,
  KubeApiError,
  KubeClient,
  type ListResult,
  type PatchType,
  type WatchEvent,
} from './kube-client.ts';
export { defaultIdentity, type LeaderElectionOptions, LeaderElector } from './leader.ts';
export { createLogger, REDACT_PATHS, silentLogger } from './logger.ts';
export { Manager, type ManagerOptions, type StopReason } from './manager.ts';
export { RuntimeMetrics } from './metrics.ts';
export { isSatisfied, parseQuantity } from './satisfies.ts';
export type * from './types.ts';
export { type QueueMetricsHooks, type WorkHandler, type WorkOutcome, WorkQueue } from './workqueue.ts';
