// The DatabasePool controller, a second controller in the operator's Manager: informers for the pools and
// for what a pool's reconcile reads (its own objects, its tenants' Database objects, Nodes for the
// sovereignty gate, the API server's addresses for the NetworkPolicies), wired to the PoolReconciler.
import { POOL_API_VERSION, POOL_KIND } from '../api/pool.ts';
import { LABELS, MANAGED_BY } from '../builders/context.ts';
import { POOL_PART_OF } from '../builders/pool.ts';
import type { OperatorConfig } from '../config/operator-config.ts';
import type { Controller } from '../runtime/controller.ts';
import type { Manager } from '../runtime/manager.ts';
import type { KubeObject, OwnedResource } from '../runtime/types.ts';
import { API_SERVER_SLICES } from '../territory/api-server.ts';
import { nodeForCache, slimForCache } from '../territory/cache-shape.ts';
import { CNPG_API_VERSION, PoolReconciler } from './reconciler.ts';
import { tenantForCache } from './tenants.ts';

export const POOL_CONTROLLER = 'database-pool';

/**
 * The pool's own objects: labelled for a pool and part of one. The selector leaves out the Territories'
 * namespaces labelled for their pool (part of a Territory), so the cache holds pools' objects only.
 */
export const POOL_OWNED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.partOf}=${POOL_PART_OF},${LABELS.pool}`;

/** The tenants' Database objects, made by the Territory side in the pools' namespaces. */
export const TENANT_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.pool}`;

export interface PoolController {
  controller: Controller;
  reconciler: PoolReconciler;
}

export function addPoolController(
  manager: Manager,
  config: OperatorConfig,
  options: { now?: () => Date } = {},
): PoolController {
  // By label, like a Territory's objects: none carries an owner reference to the pool (builders/pool.ts).
  const byPoolLabel = (obj: KubeObject) => {
    const pool = obj.metadata.labels?.[LABELS.pool];
    return pool ? [pool] : [];
  };
  const ownedKind = (apiVersion: string, kind: string, keepStatus = false): OwnedResource => ({
    apiVersion,
    kind,
    labelSelector: POOL_OWNED_SELECTOR,
    mapToPrimary: byPoolLabel,
    transform: slimForCache(manager.name, keepStatus),
    quietWhenUnchanged: true,
  });
  const owned: OwnedResource[] = [
    ownedKind('v1', 'Namespace'),
    ownedKind('networking.k8s.io/v1', 'NetworkPolicy'),
    // Its status says whether the pool serves.
    ownedKind(CNPG_API_VERSION, 'Cluster', true),
    // A tenant arriving or leaving changes status.tenants, and may release a deleted pool.
    {
      apiVersion: CNPG_API_VERSION,
      kind: 'Database',
      labelSelector: TENANT_SELECTOR,
      mapToPrimary: byPoolLabel,
      transform: tenantForCache,
      quietWhenUnchanged: true,
    },
    // A node joining, leaving or changing region re-evaluates every pool's sovereignty.
    {
      apiVersion: 'v1',
      kind: 'Node',
      mapToPrimary: () => controller.primaryKeys(),
      transform: nodeForCache,
      quietWhenUnchanged: true,
    },
    // Where the API server is: the pool's instances must reach it (its NetworkPolicies say so).
    { ...API_SERVER_SLICES, mapToPrimary: () => controller.primaryKeys(), quietWhenUnchanged: true },
  ];

  let reconciler: PoolReconciler | undefined;
  const controller = manager.addController({
    name: POOL_CONTROLLER,
    primary: {
      apiVersion: POOL_API_VERSION,
      kind: POOL_KIND,
      transform: slimForCache(manager.name, true),
      quietWhenUnchanged: true,
      // One shard per operator instance, as for Territories: two instances on one cluster must not both
      // write a pool.
      ...(config.shardSelector ? { labelSelector: config.shardSelector } : {}),
    },
    // Its own status and finalizer writes do not wake a pool again; spec, labels and deletion do.
    reconcilePrimaryUpdate: (old, pool) =>
      old.metadata.generation !== pool.metadata.generation ||
      old.metadata.deletionTimestamp !== pool.metadata.deletionTimestamp ||
      JSON.stringify(old.metadata.labels) !== JSON.stringify(pool.metadata.labels),
    owned,
    concurrency: config.concurrency,
    resyncPeriodMs: config.resyncSeconds * 1000,
    reconcile: (_key, ctx) => (reconciler as PoolReconciler).reconcile(ctx.name, ctx.object, ctx.logger),
  });
  reconciler = new PoolReconciler({
    config,
    applier: manager.applier,
    events: manager.events,
    kube: manager.client,
    cache: (apiVersion, kind, cacheOptions) => controller.cache(apiVersion, kind, cacheOptions),
    now: options.now ?? (() => new Date()),
  });
  return { controller, reconciler };
}
