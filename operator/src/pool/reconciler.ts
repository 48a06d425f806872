// The DatabasePool reconciler: a pool becomes its namespace, the namespace's NetworkPolicies and a
// CloudNativePG Cluster (builders/pool.ts), behind the same gates as a Territory (valid spec, namespace
// that is its own, sovereignty), and one status that says whether it takes tenants. Level-based and
// idempotent: a second run in a row writes nothing.
//
// Its data is every tenant's, so nothing here deletes it but the pool's own deletion, and only once no
// Territory has a database left in it (the finalizer). Drift never removes the Cluster.

import { type DatabasePool, POOL_API_VERSION, POOL_KIND, parseDatabasePool } from '../api/pool.ts';
import type { Condition } from '../api/territory.ts';
import type { Owned } from '../builders/context.ts';
import { LABELS } from '../builders/context.ts';
import { poolCaSecretName, poolClusterName } from '../builders/database-names.ts';
import { liveStorageOf } from '../builders/database-sizing.ts';
import { buildPool, type PoolBuildContext } from '../builders/pool.ts';
import { evaluateSovereignty } from '../builders/sovereignty.ts';
import { ensureFinalizer } from '../runtime/finalizers.ts';
import type { KubeObject, Logger, ObjectRef, ReconcileResult } from '../runtime/types.ts';
import { API_SERVER_SLICES, apiServerFacts } from '../territory/api-server.ts';
import { nodeRegions } from '../territory/cache-shape.ts';
import { cacheKey } from '../territory/owned-kinds.ts';
import type { TerritoryPorts } from '../territory/ports.ts';
import { readyTransitionEvent } from '../territory/ready-transition.ts';
import { describeRefusal, ObjectRefusedError, REFUSED_REASON, refusalOf } from '../territory/refusals.ts';
import {
  isPoolNamespace,
  namespaceTerminating,
  poolNamespaceConflict,
  reservedPoolNamespace,
} from './namespace.ts';
import {
  clusterInstancesReady,
  POOL_READY_REASONS,
  type PoolOutcome,
  poolConditions,
  servingOutcome,
} from './status.ts';
import { deletionBlocked, type Tenants, tenantsOf } from './tenants.ts';

/** What the pool reconciler needs from the outside world: the Territory's ports, less key material. */
export type PoolPorts = Omit<TerritoryPorts, 'randomBytes'>;

export const POOL_FINALIZER = 'sovereign.dev/pool-protection';

export const CNPG_API_VERSION = 'postgresql.cnpg.io/v1';

/**
 * How soon to look again when what the pool waits for wakes nothing: CloudNativePG's CA Secret (not
 * watched: one GET while the Cluster is up and the CA is not there yet), a deleted Cluster going away.
 */
const POLL_MS = 5_000;

type PoolStatus = { conditions?: Condition[] };

/** The namespace the pool's spec names, read as it is: a pool whose spec does not parse is still deleted. */
function namespaceNamed(object: KubeObject): string | undefined {
  const ns = (object.spec as { namespace?: unknown } | undefined)?.namespace;
  return typeof ns === 'string' && ns !== '' ? ns : undefined;
}

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class PoolReconciler {
  private readonly ports: PoolPorts;

  constructor(ports: PoolPorts) {
    this.ports = ports;
  }

  async reconcile(name: string, object: KubeObject | undefined, logger: Logger): Promise<ReconcileResult> {
    if (!object) return; // gone: its finalizer, earlier, decided what went with it
    const log = logger.child({ pool: name });
    // Before parsing: a pool must be deletable whatever its spec says.
    if (object.metadata.deletionTimestamp) return this.finalize(object, log);
    const parsed = parseDatabasePool(object);
    if (!parsed.ok) {
      const ns = namespaceNamed(object);
      await this.writeStatus(
        object,
        {
          ready: false,
          reason: POOL_READY_REASONS.invalidSpec,
          message: `the spec is invalid: ${parsed.errors.slice(0, 10).join('; ')}`,
        },
        ns ? this.tenants(object.metadata.name ?? '', ns).count : undefined,
      );
      return;
    }
    await ensureFinalizer(
      this.ports.applier,
      { apiVersion: POOL_API_VERSION, kind: POOL_KIND },
      object,
      POOL_FINALIZER,
    );
    try {
      return await this.reconcileLive(parsed.pool, object, log);
    } catch (error) {
      if (!(error instanceof ObjectRefusedError)) throw error;
      // The same request would be refused again: status says which object and why, and the reconcile
      // fails so that the controller retries with backoff (a policy or a quota can be lifted).
      await this.writeStatus(
        object,
        { ready: false, reason: REFUSED_REASON, message: describeRefusal(error.refusal) },
        this.tenants(parsed.pool.metadata.name, parsed.pool.spec.namespace).count,
      );
      throw error;
    }
  }

  private async reconcileLive(pool: DatabasePool, object: KubeObject, log: Logger): Promise<ReconcileResult> {
    const { ports } = this;
    const name = pool.metadata.name;
    const ns = pool.spec.namespace;
    // Counted, not decoded: a pool reconciles at each tenant's arrival, and holds up to 2,000 of them.
    const tenants = this.ports.cache(CNPG_API_VERSION, 'Database')?.countInNamespace(ns) ?? 0;
    const done = async (outcome: PoolOutcome, result?: ReconcileResult) => {
      await this.writeStatus(object, outcome, tenants);
      return result;
    };

    const reserved = reservedPoolNamespace(ns, ports.config);
    if (reserved) return done(reserved);

    // The pool's own hosting goes through the Territory's gate, fail closed.
    const nodes = nodeRegions(ports.cache('v1', 'Node')?.list() ?? []);
    const verdict = evaluateSovereignty(
      { level: pool.spec.hosting.level, regions: pool.spec.hosting.regions ?? [] },
      ports.config.cluster,
      ports.config.providers,
      nodes,
    );
    const liveCluster = this.cachedCluster(name, ns);
    const pctx: PoolBuildContext = {
      pool,
      config: ports.config,
      allowedRegions: verdict.compliant ? verdict.allowedRegions : [],
      ...apiServerFacts(ports.cache(API_SERVER_SLICES.apiVersion, API_SERVER_SLICES.kind)?.list() ?? []),
    };
    // Volumes never shrink: maxTenants lowered or spec.storage.size removed keep the live size.
    const liveStorage = liveStorageOf(liveCluster);
    if (liveStorage) pctx.liveStorage = liveStorage;
    const desired = buildPool(pctx);

    // Isolation first, and even before the gate opens: it holds no data.
    const claim = await this.claimNamespace(name, desired.namespace, log);
    if (claim) return done(claim);
    for (const policy of desired.network) await this.apply(policy);
    await this.prunePolicies(name, ns, new Set(desired.network.map((p) => p.metadata?.name ?? '')));

    if (!verdict.compliant) {
      return done({
        ready: false,
        reason: verdict.reason,
        message: liveCluster
          ? `${verdict.message}; the pool's Cluster is kept as it is, no longer updated`
          : `${verdict.message}; no PostgreSQL cluster is created until it is met`,
      });
    }
    if (!(await ports.kube.serves(CNPG_API_VERSION, 'Cluster'))) {
      return done({
        ready: false,
        reason: POOL_READY_REASONS.cloudNativePGNotInstalled,
        message:
          'CloudNativePG’s CRDs are not installed on this cluster: install CloudNativePG, the pool’s cluster will follow',
      });
    }
    await this.apply(desired.cluster);

    const instances = (desired.cluster.spec as { instances: number }).instances;
    const cluster = this.cachedCluster(name, ns);
    const instancesReady = clusterInstancesReady(cluster, instances);
    const caIssued = instancesReady && (await this.caIssued(name, ns));
    const outcome = servingOutcome({ pool: name, namespace: ns, cluster, instances, caIssued });
    // The CA Secret is not watched: look again soon rather than at the next resync.
    return done(outcome, instancesReady && !caIssued ? { requeueAfterMs: POLL_MS } : undefined);
  }

  /**
   * Undefined once the namespace is this pool's (created now, or already); otherwise why it cannot be.
   * Created with POST, never applied: an apply would also "succeed" on a namespace that is someone
   * else's, or that another pool created a moment ago. Only one create can succeed; a 409 is judged.
   */
  private async claimNamespace(pool: string, desired: Owned, log: Logger): Promise<PoolOutcome | undefined> {
    const name = desired.metadata?.name ?? '';
    const ref = { apiVersion: 'v1', kind: 'Namespace', name };
    // The cache holds pools' namespaces only: a synced cache without it leaves the create to settle it.
    const namespaces = this.ports.cache('v1', 'Namespace');
    let live = namespaces?.hasSynced() ? namespaces.get(name) : await this.ports.kube.get(ref);
    if (!live) {
      try {
        await this.naming(desired as KubeObject, () => this.ports.kube.create(desired as KubeObject));
        log.info({ namespace: name }, 'pool namespace created');
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 409) throw error;
        live = await this.ports.kube.get(ref);
        // Deleted again since: the next attempt creates it.
        if (!live) throw error;
      }
    }
    if (live) {
      const conflict = poolNamespaceConflict(live, pool);
      if (conflict) return conflict;
      if (live.metadata.deletionTimestamp) return namespaceTerminating(name);
    }
    await this.apply(desired);
    return undefined;
  }

  /** Deletes the pool's NetworkPolicies that are no longer desired (never anything else). */
  private async prunePolicies(pool: string, ns: string, keep: Set<string>): Promise<void> {
    const cache = this.ports.cache('networking.k8s.io/v1', 'NetworkPolicy');
    for (const live of cache?.listInNamespace(ns) ?? []) {
      if (live.metadata.labels?.[LABELS.pool] !== pool) continue;
      if (keep.has(live.metadata.name ?? '')) continue;
      await this.ports.applier.deleteIfExists({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        name: live.metadata.name ?? '',
        namespace: ns,
      });
    }
  }

  /** Whether CloudNativePG has issued the pool's CA (a certificate in `ca.crt`). Its content is never logged. */
  private async caIssued(pool: string, ns: string): Promise<boolean> {
    const secret = await this.ports.kube.get({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: ns,
      name: poolCaSecretName({ name: pool }),
    });
    return Boolean((secret?.data as Record<string, string> | undefined)?.['ca.crt']);
  }

  /** The pool's tenants, from the cache: what its status counts. */
  private tenants(pool: string, ns: string): Tenants {
    const databases = this.ports.cache(CNPG_API_VERSION, 'Database')?.listInNamespace(ns) ?? [];
    return tenantsOf(databases, pool);
  }

  private cachedCluster(pool: string, ns: string): KubeObject | undefined {
    const cluster = this.ports
      .cache(CNPG_API_VERSION, 'Cluster')
      ?.get(cacheKey(ns, poolClusterName({ name: pool })));
    return cluster?.metadata.labels?.[LABELS.pool] === pool ? cluster : undefined;
  }

  /**
   * A deleted pool: kept (finalizer) while any Territory's database is in it; otherwise its Cluster, then
   * its namespace, then the finalizer. Decided on objects read now, not on the caches: deleting a Cluster
   * takes every database in it, so a tenant that arrived a moment ago must be seen.
   */
  private async finalize(object: KubeObject, log: Logger): Promise<ReconcileResult> {
    if (!object.metadata.finalizers?.includes(POOL_FINALIZER)) return;
    const pool = object.metadata.name ?? '';
    const ns = namespaceNamed(object);
    if (ns) {
      const tenants = await this.readTenants(pool, ns);
      if (tenants.count > 0) {
        log.info({ tenants: tenants.count }, 'pool deletion waits for its tenants to leave');
        await this.writeStatus(object, deletionBlocked(pool, ns, tenants), tenants.count);
        return;
      }
      const waiting = await this.deleteCluster(pool, ns, log);
      if (waiting) {
        await this.writeStatus(object, waiting, 0);
        return { requeueAfterMs: POLL_MS };
      }
      const namespace = await this.ports.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: ns });
      // Only a namespace that is this pool's: one it was refused is someone else's, with their data.
      if (namespace && isPoolNamespace(namespace, pool) && !namespace.metadata.deletionTimestamp) {
        await this.ports.applier.deleteIfExists({ apiVersion: 'v1', kind: 'Namespace', name: ns });
        log.info({ namespace: ns }, 'pool namespace deleted');
        this.ports.events.record(object, {
          type: 'Normal',
          reason: 'Deleted',
          message: `DatabasePool ${pool} had no tenant left: its Cluster is deleted, and namespace ${ns} with everything in it`,
          action: 'Delete',
        });
      }
    }
    // Releasing our finalizer (an apply that no longer lists it) lets the API server finish the deletion.
    await this.ports.applier.apply(
      { apiVersion: POOL_API_VERSION, kind: POOL_KIND, metadata: { name: pool, finalizers: [] } },
      { alwaysSend: true },
    );
  }

  private async readTenants(pool: string, ns: string): Promise<Tenants> {
    if (!(await this.ports.kube.serves(CNPG_API_VERSION, 'Database'))) return { count: 0, territories: [] };
    const { items } = await this.ports.kube.list({
      apiVersion: CNPG_API_VERSION,
      kind: 'Database',
      namespace: ns,
      labelSelector: `${LABELS.pool}=${pool}`,
    });
    return tenantsOf(items, pool);
  }

  /** Deletes the pool's Cluster; the outcome to report while it is still there, undefined once gone. */
  private async deleteCluster(pool: string, ns: string, log: Logger): Promise<PoolOutcome | undefined> {
    if (!(await this.ports.kube.serves(CNPG_API_VERSION, 'Cluster'))) return undefined;
    const ref: ObjectRef = {
      apiVersion: CNPG_API_VERSION,
      kind: 'Cluster',
      namespace: ns,
      name: poolClusterName({ name: pool }),
    };
    const cluster = await this.ports.kube.get(ref);
    // Only the pool's own Cluster (by its label): a Cluster of that name it did not make is not its to delete.
    if (!cluster || cluster.metadata.labels?.[LABELS.pool] !== pool) return undefined;
    if (!cluster.metadata.deletionTimestamp) {
      await this.ports.applier.deleteIfExists(ref, {
        ...(cluster.metadata.uid ? { preconditionUid: cluster.metadata.uid } : {}),
      });
      log.info({ cluster: ref.name }, 'pool Cluster deleted: the pool has no tenant left');
    }
    return {
      ready: false,
      reason: POOL_READY_REASONS.deleting,
      message: `DatabasePool ${pool} has no tenant left: its Cluster ${ns}/${ref.name} is being deleted, then its namespace`,
      progressing: true,
    };
  }

  /** SSA with force: these objects are the pool's, a field someone else changed is drift to repair. */
  private async apply(o: Owned): Promise<void> {
    const cache = this.ports.cache(o.apiVersion ?? '', o.kind ?? '');
    const live = cache?.get(cacheKey(o.metadata?.namespace ?? undefined, o.metadata?.name ?? '')) ?? null;
    await this.naming(o as KubeObject, () =>
      this.ports.applier.apply(o as KubeObject, {
        force: true,
        ...(cache?.hasSynced() ? { live } : {}),
      }),
    );
  }

  /** Runs one write of `object`; a refusal by the API server comes out as an ObjectRefusedError naming it. */
  private async naming<R>(object: KubeObject, write: () => Promise<R>): Promise<R> {
    try {
      return await write();
    } catch (error) {
      const refusal = refusalOf(error, object);
      throw refusal ? new ObjectRefusedError(refusal) : error;
    }
  }

  /**
   * Status through its subresource: observedGeneration, tenants and the conditions. Unchanged conditions
   * keep their times, so an idle reconcile sends nothing (the applier compares with the cached pool).
   */
  private async writeStatus(object: KubeObject, outcome: PoolOutcome, tenants?: number): Promise<void> {
    const previous = (object.status as PoolStatus | undefined)?.conditions ?? [];
    const generation = object.metadata.generation;
    const conditions = poolConditions(previous, outcome, rfc3339(this.ports.now()), generation);
    await this.ports.applier.applyStatus(
      {
        apiVersion: POOL_API_VERSION,
        kind: POOL_KIND,
        metadata: { name: object.metadata.name },
        status: {
          ...(generation !== undefined ? { observedGeneration: generation } : {}),
          ...(tenants !== undefined ? { tenants } : {}),
          conditions,
        },
      },
      { live: object },
    );
    const event = readyTransitionEvent(previous, conditions);
    if (event) this.ports.events.record(object, event);
  }
}
