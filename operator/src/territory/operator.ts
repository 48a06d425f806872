// The composition root: the generic runtime (manager, informers, queue, applier, events, leader
// election, health, metrics) wired to the Territory reconciler. `cli/manager.ts` (in a cluster) and
// `cli/start.ts` (npm start) both call it.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { Gauge } from 'prom-client';
import { POOL_API_VERSION, POOL_KIND } from '../api/pool.ts';
import { API_VERSION, KIND } from '../api/territory.ts';
import { LABELS, MANAGED_BY } from '../builders/context.ts';
import { DATABASE_ACCESS_COMPONENT } from '../builders/database-access.ts';
import { RESTORE_COMPONENT } from '../builders/restore.ts';
import { RESTORE_DRILL_COMPONENT } from '../builders/restore-drill.ts';
import type { OperatorConfig } from '../config/operator-config.ts';
import { addPoolController } from '../pool/controller.ts';
import type { ClusterAccess } from '../runtime/cluster-access.ts';
import { Manager } from '../runtime/manager.ts';
import type { KubeObject, Logger, OwnedResource } from '../runtime/types.ts';
import { API_SERVER_SLICES } from './api-server.ts';
import { identityForCache, jobForCache, nodeForCache, poolForCache, slimForCache } from './cache-shape.ts';
import { OWNED_KINDS, OWNED_SELECTOR, territoryOf } from './owned-kinds.ts';
import type { TerritoryPorts } from './ports.ts';
import { TerritoryReconciler } from './reconciler.ts';
import { concernedByPool, type DatabaseTier, databaseTierOf } from './tier-facts.ts';

export const OPERATOR_NAME = 'territory-operator';

/** The Jobs the operator reads: every Territory's restore drills, declarative restores and database-access Jobs. */
export const JOB_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.component} in (${RESTORE_DRILL_COMPONENT},${RESTORE_COMPONENT},${DATABASE_ACCESS_COMPONENT})`;

export interface OperatorOptions {
  kubeConfig: ClusterAccess | KubeConfig;
  config: OperatorConfig;
  logger: Logger;
  healthPort?: number;
  /** Run several replicas, one active: a Lease in this namespace. */
  leaderElection?: { namespace: string; identity?: string };
}

export interface RunningOperator {
  manager: Manager;
  /** What the controller calls with each Territory from its cache (tests hand it a stale copy, as a lagging watch would). */
  reconciler: TerritoryReconciler;
  /** Resolves when the operator has stopped (signal or stop()). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createOperator(opts: OperatorOptions): RunningOperator {
  const { config } = opts;
  const manager = new Manager({
    kubeConfig: opts.kubeConfig,
    name: OPERATOR_NAME,
    logger: opts.logger,
    ...(opts.healthPort !== undefined ? { healthPort: opts.healthPort } : {}),
    ...(opts.leaderElection
      ? {
          leaderElection: {
            namespace: opts.leaderElection.namespace,
            leaseName: OPERATOR_NAME,
            ...(opts.leaderElection.identity ? { identity: opts.leaderElection.identity } : {}),
          },
        }
      : {}),
  });

  // Where each Territory's database is, as its status says (tier, pool): which Territories a pool concerns.
  const databaseOf = new Map<string, DatabaseTier>();

  // Owned objects map back to their Territory by label: it survives orphaning, unlike owner references.
  const byLabel = (obj: KubeObject) => {
    const name = territoryOf(obj);
    return name ? [name] : [];
  };
  const owned: OwnedResource[] = OWNED_KINDS.map((k) => ({
    apiVersion: k.apiVersion,
    kind: k.kind,
    labelSelector: OWNED_SELECTOR,
    mapToPrimary: byLabel,
    transform: slimForCache(OPERATOR_NAME, k.statusRead === true),
    quietWhenUnchanged: true,
  }));
  // The restore drills' Jobs and the declarative restores' Jobs, by their labels (reserved: a tenant's Job
  // cannot carry them): a drill's or a restore's end wakes its Territory, including a drill run by hand,
  // which the CronJob's status never records when it fails. Drill Jobs are made by the CronJob
  // controller; restore Jobs by the reconciler, once per request (POST, never applied or pruned).
  owned.push({
    apiVersion: 'batch/v1',
    kind: 'Job',
    labelSelector: JOB_SELECTOR,
    mapToPrimary: byLabel,
    transform: jobForCache,
    quietWhenUnchanged: true,
  });
  // A node joining, leaving or changing region re-evaluates every Territory's sovereignty.
  // The authority's own Secrets (customer key, backup credentials): metadata only, mapped to the
  // Territory of their namespace, so creating or rotating one is acted on at once.
  owned.push({
    apiVersion: 'v1',
    kind: 'Secret',
    metadataOnly: true,
    // Our own Secrets are watched (in full) as owned objects already.
    labelSelector: OWNED_SELECTOR.replace('=', '!='),
    transform: identityForCache,
    mapToPrimary: (secret) => {
      const ns = controller.cache('v1', 'Namespace')?.get(secret.metadata.namespace ?? '');
      const name = ns ? territoryOf(ns) : undefined;
      return name ? [name] : [];
    },
  });
  owned.push({
    apiVersion: 'v1',
    kind: 'Node',
    mapToPrimary: () => controller.primaryKeys(),
    transform: nodeForCache,
    quietWhenUnchanged: true,
  });

  // Where the API server is (its `kubernetes` Service's endpoints): database Pods must reach it.
  owned.push({
    ...API_SERVER_SLICES,
    mapToPrimary: () => controller.primaryKeys(),
    quietWhenUnchanged: true,
  });

  // The DatabasePools: a pool appearing, becoming ready or changing what it serves wakes the Territories it
  // may concern: its tenants, and those whose database has no tier yet (waiting for a pool). A Territory
  // with a cluster of its own never moves by itself, so it is not woken (the periodic resync covers anything
  // status did not say yet). The pool's tenant count is read from its Database objects: its churn is dropped.
  owned.push({
    apiVersion: POOL_API_VERSION,
    kind: POOL_KIND,
    // From a small index kept from the Territories' events (below), never by decoding every cached
    // Territory: at startup each pool's first event would decode thousands of them at once.
    mapToPrimary: (pool) =>
      [...databaseOf]
        .filter(([, database]) => concernedByPool(database, pool.metadata.name ?? ''))
        .map(([name]) => name),
    transform: poolForCache,
    quietWhenUnchanged: true,
  });

  let reconciler: TerritoryReconciler | undefined;
  const controller = manager.addController({
    name: 'territory',
    primary: {
      apiVersion: API_VERSION,
      kind: KIND,
      transform: slimForCache(OPERATOR_NAME, true),
      quietWhenUnchanged: true,
      ...(config.shardSelector ? { labelSelector: config.shardSelector } : {}),
    },
    // Its own status and finalizer writes do not wake a Territory again; spec, labels, annotations and
    // deletion do. A status edited by hand is rewritten at the next resync.
    reconcilePrimaryUpdate: (old, t) =>
      old.metadata.generation !== t.metadata.generation ||
      old.metadata.deletionTimestamp !== t.metadata.deletionTimestamp ||
      JSON.stringify(old.metadata.labels) !== JSON.stringify(t.metadata.labels) ||
      JSON.stringify(old.metadata.annotations) !== JSON.stringify(t.metadata.annotations),
    owned,
    concurrency: config.concurrency,
    resyncPeriodMs: config.resyncSeconds * 1000,
    reconcile: (_key, ctx) => (reconciler as TerritoryReconciler).reconcile(ctx.name, ctx.object, ctx.logger),
  });

  const ports: TerritoryPorts = {
    config,
    applier: manager.applier,
    events: manager.events,
    kube: manager.client,
    cache: (apiVersion, kind, options) => controller.cache(apiVersion, kind, options),
    now: () => new Date(),
    randomBytes: (size) => randomBytes(size),
  };
  reconciler = new TerritoryReconciler(ports);
  addPoolController(manager, config);

  // Territories by condition, from the informer's events (what the API server holds): no extra work per
  // reconcile, and a scrape reads a small map instead of decoding every cached Territory.
  const conditionsOf = new Map<string, { type: string; status: string }[]>();
  const backupsOf = new Map<string, { kind: string; state: string }[]>();
  const track = (t: KubeObject) => {
    databaseOf.set(t.metadata.name ?? '', databaseTierOf(t));
    const status = t.status as TrackedStatus | undefined;
    const name = t.metadata.name ?? '';
    conditionsOf.set(
      name,
      (status?.conditions ?? []).map(({ type, status }) => ({ type, status })),
    );
    backupsOf.set(name, [
      ...(['logical', 'physical'] as const).flatMap((kind) => {
        const state = status?.backup?.[kind]?.state;
        return state ? [{ kind, state }] : [];
      }),
      ...(status?.backup?.lastRestoreTest?.state
        ? [{ kind: 'restore-drill', state: status.backup.lastRestoreTest.state }]
        : []),
    ]);
  };
  controller.informers()[0]?.on({
    add: track,
    update: (_old, t) => track(t),
    delete: (t) => {
      conditionsOf.delete(t.metadata.name ?? '');
      backupsOf.delete(t.metadata.name ?? '');
      databaseOf.delete(t.metadata.name ?? '');
    },
  });
  new Gauge({
    name: 'territory_backups',
    help:
      'Territories by backup kind (logical: encrypted with the authority keys; physical; restore-drill: the last ' +
      'restore test of the logical backups) and state (Succeeded, Pending, Failing, Overdue)',
    labelNames: ['kind', 'state'],
    registers: [manager.metrics.registry],
    collect() {
      this.reset();
      for (const kinds of backupsOf.values()) {
        for (const b of kinds) this.inc({ kind: b.kind, state: b.state });
      }
    },
  });
  new Gauge({
    name: 'territory_conditions',
    help: 'Territories by condition type (Ready, each part, Reconciling, Stalled) and status',
    labelNames: ['type', 'status'],
    registers: [manager.metrics.registry],
    collect() {
      this.reset();
      for (const conditions of conditionsOf.values()) {
        for (const c of conditions) this.inc({ type: c.type, status: c.status });
      }
    },
  });

  return { manager, reconciler, start: () => manager.start(), stop: () => manager.stop() };
}

type TrackedStatus = {
  conditions?: { type: string; status: string }[];
  backup?: {
    logical?: { state?: string };
    physical?: { state?: string };
    lastRestoreTest?: { state?: string };
  };
};
