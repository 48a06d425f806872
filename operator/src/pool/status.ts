// A DatabasePool's conditions: `Ready` says whether the pool takes tenants and, when it does not, why
// (its reason is the contract the Territory side reads); beside it the kstatus pair that tells GitOps
// tools how to read a pool that is not ready: Reconciling=True while it converges on its own,
// Stalled=True when a person must act (fix the spec, the configuration, the cluster). Pure.
import type { Condition } from '../api/territory.ts';
import { poolCaSecretName, poolClusterName } from '../builders/database-names.ts';
import type { KubeObject } from '../runtime/types.ts';
import { setCondition } from '../territory/conditions.ts';

/** The reasons of the pool's Ready condition that are the pool's own (the sovereignty gate adds its verdict's). */
export const POOL_READY_REASONS = {
  /** True: every instance is ready and CloudNativePG has issued the CA Territories verify the pool with. */
  serving: 'Serving',
  /** Progressing: the Cluster is being created or is not ready yet (CloudNativePG is at work). */
  clusterNotReady: 'ClusterNotReady',
  cloudNativePGNotInstalled: 'CloudNativePGNotInstalled',
  invalidSpec: 'InvalidSpec',
  reservedNamespace: 'ReservedNamespace',
  namespaceConflict: 'NamespaceConflict',
  /** Progressing: the pool's namespace is being deleted, and will be created again once gone. */
  namespaceTerminating: 'NamespaceTerminating',
  /** The DatabasePool is deleted but still holds tenants' databases. */
  deletionBlocked: 'DeletionBlocked',
  /** Progressing: the DatabasePool is deleted and has no tenant; its Cluster and namespace are going. */
  deleting: 'Deleting',
} as const;

/** What one reconcile concluded about the pool. */
export interface PoolOutcome {
  ready: boolean;
  reason: string;
  message: string;
  /** Not ready yet, but expected to become so without anyone's help (CloudNativePG starting the cluster). */
  progressing?: boolean;
}

interface ClusterStatus {
  phase?: string;
  readyInstances?: number;
}

const statusOf = (cluster: KubeObject | undefined) => (cluster?.status ?? {}) as ClusterStatus;

/**
 * Whether the Cluster has as many ready instances as the pool asks for (more, while CloudNativePG scales
 * down, is still serving). Only then is the CA Secret worth a read.
 */
export function clusterInstancesReady(cluster: KubeObject | undefined, instances: number): boolean {
  return (
    cluster !== undefined &&
    cluster.metadata.deletionTimestamp === undefined &&
    (statusOf(cluster).readyInstances ?? 0) >= instances
  );
}

/** Whether the pool serves, from its live Cluster and whether its CA Secret holds a certificate. */
export function servingOutcome(facts: {
  pool: string;
  namespace: string;
  cluster: KubeObject | undefined;
  instances: number;
  caIssued: boolean;
}): PoolOutcome {
  const { cluster, instances } = facts;
  const clusterName = `${facts.namespace}/${poolClusterName({ name: facts.pool })}`;
  const notReady = (message: string): PoolOutcome => ({
    ready: false,
    reason: POOL_READY_REASONS.clusterNotReady,
    message,
    progressing: true,
  });
  if (!cluster) return notReady(`the PostgreSQL cluster ${clusterName} is being created`);
  if (cluster.metadata.deletionTimestamp) {
    return notReady(`the PostgreSQL cluster ${clusterName} is being deleted; it is created again once gone`);
  }
  const { phase, readyInstances } = statusOf(cluster);
  if (readyInstances === undefined && !phase) {
    return notReady(
      `CloudNativePG has not reported on the cluster ${clusterName} yet (is its operator running?)`,
    );
  }
  const counts = `${readyInstances ?? 0}/${instances} instances ready`;
  if (!clusterInstancesReady(cluster, instances)) {
    return notReady(`CloudNativePG: ${phase ? `${phase} (${counts})` : counts}`);
  }
  const ca = `${facts.namespace}/${poolCaSecretName({ name: facts.pool })}`;
  if (!facts.caIssued) {
    return notReady(
      `${counts}, but CloudNativePG has not issued the CA Secret ${ca} yet: Territories could not verify the pool`,
    );
  }
  return {
    ready: true,
    reason: POOL_READY_REASONS.serving,
    message: `${counts}, CA Secret ${ca} issued: the pool takes tenants`,
  };
}

/**
 * Ready, Reconciling and Stalled from one outcome, in that order. Unchanged conditions keep their
 * transition times (setCondition), so a reconcile that observes nothing new writes nothing.
 */
export function poolConditions(
  existing: Condition[],
  outcome: PoolOutcome,
  now: string,
  generation: number | undefined,
): Condition[] {
  const { reason, message } = outcome;
  const serving = { status: 'False' as const, reason: 'Ready', message: 'the pool is serving' };
  const reconciling = outcome.ready
    ? serving
    : outcome.progressing
      ? { status: 'True' as const, reason, message }
      : { status: 'False' as const, reason: 'Stalled', message: 'cannot progress until Stalled is fixed' };
  const stalled = outcome.ready
    ? serving
    : outcome.progressing
      ? { status: 'False' as const, reason: 'Progressing', message: 'converging without intervention' }
      : { status: 'True' as const, reason, message };
  let conditions = setCondition(
    existing,
    { type: 'Ready', status: outcome.ready ? 'True' : 'False', reason, message },
    now,
    generation,
  );
  conditions = setCondition(conditions, { type: 'Reconciling', ...reconciling }, now, generation);
  conditions = setCondition(conditions, { type: 'Stalled', ...stalled }, now, generation);
  const order = ['Ready', 'Reconciling', 'Stalled'];
  return conditions
    .filter((c) => order.includes(c.type))
    .sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}
