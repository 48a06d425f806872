// Territory spec + facts -> every Kubernetes object it should own, grouped by part so the reconciler
// can apply them in order and report each part's health. Pure: no I/O, no clock, no randomness.
import { buildLogicalBackupCronJob, buildScheduledBackup } from './backup.ts';
import type { BuildContext, Owned } from './context.ts';
import { buildDatabaseCluster } from './database.ts';
import { buildNamespace } from './namespace.ts';
import { buildNetworkPolicies } from './network.ts';
import { buildBackupRegionSecret, buildObjectStore, physicalBackupsOn } from './object-store.ts';
import { buildLimitRange, buildResourceQuota } from './quota.ts';
import { buildRbac } from './rbac.ts';
import { buildRestoreDrillCronJob } from './restore-drill.ts';
import { buildPoolCaSecret, buildSharedDatabase } from './shared-database.ts';

export interface DesiredState {
  /** The isolation boundary, created first. */
  namespace: Owned;
  /** Quota, limits, network policies and roles: no data, safe before the sovereignty gate opens. */
  tenancy: Owned[];
  /**
   * Dedicated: the CloudNativePG Cluster (after its Secrets exist), preceded by the ObjectStore it archives
   * WAL into (and its region Secret) when physical backups are on. Shared: the Territory's db-ca (its pool's
   * CA, once read), then its DatabaseRoles and Database in the pool's namespace (shared-database.ts; their
   * password Secrets are planned, as the Territory's own: territory/pool-credentials.ts). Data-bearing: only
   * when sovereignty is met.
   */
  database: Owned[];
  /**
   * Physical and logical backups, and the restore drill. Data-bearing, and only toward a sovereign
   * destination.
   */
  backup: Owned[];
}

export function buildDesiredState(ctx: BuildContext): DesiredState {
  const backup: Owned[] = [];
  if (physicalBackupsOn(ctx)) backup.push(buildScheduledBackup(ctx));
  if (ctx.backupAllowed) {
    backup.push(buildLogicalBackupCronJob(ctx));
    if (ctx.territory.spec.backup.restoreDrill.enabled) backup.push(buildRestoreDrillCronJob(ctx));
  }
  return {
    namespace: buildNamespace(ctx),
    tenancy: [buildResourceQuota(ctx), buildLimitRange(ctx), ...buildNetworkPolicies(ctx), ...buildRbac(ctx)],
    database: (ctx.databasePool
      ? [buildPoolCaSecret(ctx), ...buildSharedDatabase(ctx)]
      : [buildBackupRegionSecret(ctx), buildObjectStore(ctx), buildDatabaseCluster(ctx)]
    ).filter((o): o is Owned => !!o),
    backup,
  };
}

export type { BuildContext, Owned } from './context.ts';
