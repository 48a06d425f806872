// The kinds a Territory owns: watched (so drift is repaired within seconds), read from cache (so a
// steady-state reconcile makes no API read), and pruned when no longer desired.
import { LABELS, MANAGED_BY } from '../builders/context.ts';
import type { KubeObject } from '../runtime/types.ts';

export interface OwnedKind {
  apiVersion: string;
  kind: string;
  namespaced: boolean;
  /** Removed when it is no longer desired. Data-bearing kinds never are: a database is never deleted by drift. */
  prune: boolean;
  /**
   * Served only when a CloudNativePG CRD is installed: CloudNativePG's own, or its Barman Cloud plugin's
   * (ObjectStore). Listing an unserved kind finds nothing rather than failing.
   */
  cnpg?: boolean;
  /** The reconciler reads this kind's status (health of the database and of backups); others drop it from cache. */
  statusRead?: boolean;
}

export const OWNED_KINDS: OwnedKind[] = [
  { apiVersion: 'v1', kind: 'Namespace', namespaced: false, prune: false },
  { apiVersion: 'v1', kind: 'ResourceQuota', namespaced: true, prune: true },
  { apiVersion: 'v1', kind: 'LimitRange', namespaced: true, prune: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespaced: true, prune: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', namespaced: true, prune: true },
  { apiVersion: 'v1', kind: 'Secret', namespaced: true, prune: false },
  { apiVersion: 'batch/v1', kind: 'CronJob', namespaced: true, prune: true, statusRead: true },
  {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    namespaced: true,
    prune: false,
    cnpg: true,
    statusRead: true,
  },
  { apiVersion: 'postgresql.cnpg.io/v1', kind: 'ScheduledBackup', namespaced: true, prune: true, cnpg: true },
  // Physical backups' destination (builders/object-store.ts): no data of its own, pruned once the Cluster
  // no longer archives into it; its status carries the last base backups (health.ts).
  {
    apiVersion: 'barmancloud.cnpg.io/v1',
    kind: 'ObjectStore',
    namespaced: true,
    prune: true,
    cnpg: true,
    statusRead: true,
  },
  // A database in a pool (the Shared tier): the Territory's Database and DatabaseRoles live in the pool's
  // namespace (shared-database.ts), found by their labels. Data-bearing: never pruned, deleted only by the
  // finalizer (deletionPolicy Delete); their status says whether CloudNativePG applied them.
  {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Database',
    namespaced: true,
    prune: false,
    cnpg: true,
    statusRead: true,
  },
  {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'DatabaseRole',
    namespaced: true,
    prune: false,
    cnpg: true,
    statusRead: true,
  },
];

/** Every owned object carries this label, so one selector finds them all, orphaned or not. */
export const OWNED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

/** The Territory an owned object belongs to: by label, which survives orphaning (unlike owner references). */
export function territoryOf(obj: KubeObject): string | undefined {
  return obj.metadata.labels?.[LABELS.territory];
}

export function cacheKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
