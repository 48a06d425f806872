// A point-in-time recovery (spec.restore from PointInTime), read: the request, the database Cluster as the
// operator caches it and the ObjectStore's recovery window in; status.restore, the Restored condition,
// what to do with the Cluster and the bootstrap to build it with out. Pure: the reconciler reads and
// writes, this decides.
//
// The database is recovered by re-creating its Cluster from the physical backups (CloudNativePG's
// bootstrap.recovery: builders/database.ts). The recovered Cluster carries the request in its annotation
// sovereign.dev/bootstrap and archives under db-<request>, never into the folder it recovers from.
//
// The rules:
// - done once, done for good: a request that Succeeded is kept as it is;
// - the request's own Cluster (its annotation names the request) is never deleted by it: it is recovering,
//   recovered, or, 6 h after the start, Failed (deleting it by hand runs the recovery again);
// - before anything is changed, the request is refused when physical backups are off, when targetTime is
//   in the future, or before the first point the ObjectStore says can be recovered; once it has deleted
//   the Cluster, it goes on (the database is gone: only the recovery brings it back);
// - an existing Cluster is deleted only with the confirmation (replaceExistingData), and only once the
//   ObjectStore says which times can be recovered;
// - an absent Cluster is created recovered, from the folder recorded when this request deleted the
//   Cluster, or from db (a new Territory recovering from the bucket, e.g. on another cluster).
import type { RestoreSpec } from '../api/territory.ts';
import { restoreRequestId } from '../api/territory.ts';
import type { DatabaseBootstrap } from '../builders/context.ts';
import {
  BOOTSTRAP_ANNOTATION,
  CLUSTER_NAME,
  parseDatabaseBootstrap,
  serverNameFor,
} from '../builders/database.ts';
import type { PartOutcome } from './conditions.ts';
import { conditionOf, type RestoreStatus } from './restore.ts';

/** A recovery whose Cluster is not ready this long after it started is reported Failed. */
export const RECOVERY_DEADLINE_SECONDS = 6 * 3600;

/** The database Cluster as the operator caches it. */
export interface PointInTimeCluster {
  /** Its annotation sovereign.dev/bootstrap, parsed (parseDatabaseBootstrap): how it was made. */
  bootstrap?: DatabaseBootstrap | undefined;
  /** It has a deletionTimestamp. */
  deleting: boolean;
  /** CloudNativePG says it is ready (its Ready condition). */
  ready: boolean;
  phase?: string | undefined;
  /** Its metadata.creationTimestamp. */
  createdAt?: string | undefined;
}

/**
 * What the ObjectStore's status.serverRecoveryWindow says of the source server: the first point that can
 * be recovered (firstRecoverabilityPoint) and the last base backup (lastSuccessfulBackupTime). A time
 * after the last base backup is recovered from the WAL archive.
 */
export interface RecoveryWindow {
  first?: string | undefined;
  last?: string | undefined;
}

export interface PointInTimeInput {
  territory: string;
  namespace: string;
  /** spec.restore, from PointInTime. */
  spec: RestoreSpec;
  previous: RestoreStatus | undefined;
  cluster: PointInTimeCluster | undefined;
  /** Physical backups are on: asked for, allowed and possible (builders/object-store.ts physicalBackupsOn). */
  physicalOn: boolean;
  /** The window of the source server (recoverySourceServer), when the ObjectStore says it. */
  recoveryWindow?: RecoveryWindow | undefined;
  now: Date;
}

/**
 * none: leave the Cluster as it is (and, while spec.restore is PointInTime, do not create an absent one:
 * an initdb Cluster would archive into the folder being recovered from). delete-cluster: delete it, this
 * request replaces it. create-cluster: create it, recovered as `bootstrap` says.
 */
export type PointInTimeAction = 'none' | 'delete-cluster' | 'create-cluster';

export interface PointInTimeDecision {
  request: string;
  /** status.restore to write. */
  status: RestoreStatus;
  /** The Restored condition. */
  outcome: PartOutcome;
  action: PointInTimeAction;
  /** What the builder must use (BuildContext.databaseBootstrap) when creating or keeping the Cluster. */
  bootstrap?: DatabaseBootstrap;
}

/**
 * The server whose physical backups the request recovers from, so the reconciler reads its recovery
 * window: the request's own Cluster's source; the live Cluster's folder while the request has not
 * started; else the folder recorded when it started, or db.
 */
export function recoverySourceServer(input: Pick<PointInTimeInput, 'spec' | 'previous' | 'cluster'>): string {
  const request = restoreRequestId(input.spec);
  const same = input.previous?.request === request ? input.previous : undefined;
  const { cluster } = input;
  if (cluster?.bootstrap?.request === request) return cluster.bootstrap.sourceServer;
  if (cluster && same?.startedAt === undefined) return serverNameFor(cluster.bootstrap);
  return same?.sourceServer ?? CLUSTER_NAME;
}

const seconds = (from: string, to: string) =>
  Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));

export function decidePointInTime(input: PointInTimeInput): PointInTimeDecision {
  const { spec, previous, cluster, namespace, territory } = input;
  const request = restoreRequestId(spec);
  const now = input.now.toISOString();
  const same = previous?.request === request ? previous : undefined;
  const ours = cluster?.bootstrap?.request === request ? cluster.bootstrap : undefined;
  const started = same?.startedAt !== undefined;
  const sourceServer = recoverySourceServer(input);
  const targetTime = spec.targetTime;
  // The live Cluster is built the way it was made, whatever is decided about it.
  const keep = cluster?.bootstrap ? { bootstrap: cluster.bootstrap } : {};
  const base = {
    request,
    ...(targetTime ? { targetTime } : {}),
    sourceServer,
    ...(same?.replacedExistingData ? { replacedExistingData: true } : {}),
  };
  const decide = (
    status: RestoreStatus,
    reason: string,
    action: PointInTimeAction,
    bootstrap: { bootstrap?: DatabaseBootstrap },
  ): PointInTimeDecision => ({ request, status, outcome: conditionOf(status, reason), action, ...bootstrap });
  const refuse = (reason: string, message: string) =>
    decide({ ...base, phase: 'Refused', message }, reason, 'none', keep);
  // A new start, or a retry after a Failed recovery whose Cluster a person deleted.
  const startedAt = same?.startedAt !== undefined && same.phase !== 'Failed' ? same.startedAt : now;
  const cnpg = `kubectl -n ${namespace} get cluster ${CLUSTER_NAME}`;

  // Done once, done for good.
  if (same?.phase === 'Succeeded') return decide(same, 'RestoreSucceeded', 'none', keep);

  if (targetTime === undefined) {
    // The API refuses it (from: PointInTime needs targetTime): said here rather than guessed.
    return refuse(
      'TargetTimeMissing',
      'spec.restore.targetTime is required with from: PointInTime; nothing was changed',
    );
  }
  const recovering = { request, targetTime, sourceServer };

  // This request's own Cluster: recovering or recovered, never deleted by it.
  if (ours && !cluster?.deleting) {
    const since = same?.startedAt ?? cluster?.createdAt ?? now;
    const timed = { ...base, startedAt: since };
    if (cluster?.ready) {
      const status: RestoreStatus = {
        ...timed,
        phase: 'Succeeded',
        completedAt: now,
        durationSeconds: seconds(since, now),
        message:
          `recovered to ${targetTime} from the physical backups of server ${ours.sourceServer}` +
          `${base.replacedExistingData ? ', replacing the database it held' : ''}; ` +
          `its WAL is now archived under ${serverNameFor(ours)}`,
      };
      return decide(status, 'RestoreSucceeded', 'none', keep);
    }
    if (seconds(since, now) > RECOVERY_DEADLINE_SECONDS) {
      const status: RestoreStatus = {
        ...timed,
        phase: 'Failed',
        completedAt: same?.phase === 'Failed' && same.completedAt ? same.completedAt : now,
        message:
          `the recovery to ${targetTime} is not done ${RECOVERY_DEADLINE_SECONDS / 3600} h after it started ` +
          `(Cluster phase: ${cluster?.phase ?? 'unknown'}). ${cnpg} and the recovery Pod's logs ` +
          `(kubectl -n ${namespace} logs job/${CLUSTER_NAME}-1-full-recovery) say why; to run it again, ` +
          `delete the Cluster (kubectl -n ${namespace} delete cluster ${CLUSTER_NAME})`,
      };
      return decide(status, 'RecoveryDeadlineExceeded', 'none', keep);
    }
    const status: RestoreStatus = {
      ...timed,
      phase: 'Running',
      message: `recovering to ${targetTime} from the physical backups of server ${ours.sourceServer}; ${cnpg} shows it`,
    };
    return decide(status, 'RestoreRunning', 'none', keep);
  }

  // Nothing changed yet: refuse what cannot be recovered.
  if (!started && !ours) {
    if (!input.physicalOn) {
      return refuse(
        'PhysicalBackupsOff',
        'a point-in-time recovery reads the physical backups, and they are off (spec.backup.physical.enabled, ' +
          'the Barman Cloud plugin, and a sovereign destination with its credentials are all needed); nothing was changed',
      );
    }
    if (Date.parse(targetTime) > input.now.getTime()) {
      return refuse(
        'TargetTimeInFuture',
        `${targetTime} is in the future: there is nothing to recover up to it yet; nothing was changed`,
      );
    }
    const first = input.recoveryWindow?.first;
    if (first !== undefined && Date.parse(targetTime) < Date.parse(first)) {
      const last = input.recoveryWindow?.last;
      return refuse(
        'BeforeFirstRecoveryPoint',
        `${targetTime} is before ${first}, the first point the physical backups of server ${sourceServer} can ` +
          `be recovered to${last ? ` (last base backup: ${last})` : ''}; nothing was changed`,
      );
    }
  } else if (!input.physicalOn && !cluster) {
    const status: RestoreStatus = {
      ...base,
      phase: 'Pending',
      startedAt,
      message:
        `waiting for the physical backups to be on again: the database Cluster was deleted for this recovery, ` +
        `and is re-created recovered to ${targetTime} from the physical backups of server ${sourceServer} once they are`,
    };
    return decide(status, 'PhysicalBackupsOff', 'none', {});
  }

  // A Cluster being deleted (by this request or anyone): wait for it to go.
  if (cluster?.deleting) {
    const status: RestoreStatus = {
      ...base,
      phase: 'Running',
      startedAt,
      message: `waiting for the Cluster ${CLUSTER_NAME} to be deleted, then recovering to ${targetTime} from the physical backups of server ${sourceServer}`,
    };
    return decide(status, 'RestoreRunning', 'none', keep);
  }

  // Another Cluster (initdb, or another recovery's): replaced only as confirmed.
  if (cluster) {
    if (spec.replaceExistingData === undefined) {
      return refuse(
        'DatabaseNotEmpty',
        'a point-in-time recovery re-creates the whole database from the physical backups, so it was refused over ' +
          `the existing one and nothing was changed. To replace the database with its state at ${targetTime}, set ` +
          `spec.restore.replaceExistingData to "${territory}" ` +
          `(territoryctl restore ${territory} --to-time ${targetTime} --replace-existing-data)`,
      );
    }
    if (!started && input.recoveryWindow?.first === undefined) {
      const status: RestoreStatus = {
        ...base,
        phase: 'Pending',
        message:
          `waiting: the ObjectStore does not say yet which times can be recovered (status.serverRecoveryWindow of ` +
          `server ${sourceServer}); the database is replaced only once it does`,
      };
      return decide(status, 'WaitingForRecoveryWindow', 'none', keep);
    }
    const status: RestoreStatus = {
      ...base,
      phase: 'Running',
      startedAt,
      replacedExistingData: true,
      message: `replacing the database: deleting its Cluster, then recovering to ${targetTime}`,
    };
    return decide(status, 'RestoreRunning', 'delete-cluster', keep);
  }

  // No Cluster: create it recovered.
  const status: RestoreStatus = {
    ...base,
    phase: 'Running',
    startedAt,
    message: `recovering to ${targetTime} from the physical backups of server ${sourceServer}: creating the Cluster ${CLUSTER_NAME}`,
  };
  return decide(status, 'RestoreRunning', 'create-cluster', { bootstrap: recovering });
}

/** A live CloudNativePG Cluster as the cache holds it, read for the decision above. */
export function pointInTimeClusterOf(
  cluster:
    | {
        metadata: {
          annotations?: Record<string, string>;
          deletionTimestamp?: string;
          creationTimestamp?: string;
        };
        status?: unknown;
      }
    | undefined,
): PointInTimeCluster | undefined {
  if (!cluster) return undefined;
  const status = (cluster.status ?? {}) as {
    phase?: string;
    conditions?: { type: string; status: string }[];
  };
  return {
    bootstrap: parseDatabaseBootstrap(cluster.metadata.annotations?.[BOOTSTRAP_ANNOTATION]),
    deleting: cluster.metadata.deletionTimestamp !== undefined,
    ready: status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    ...(status.phase ? { phase: status.phase } : {}),
    ...(cluster.metadata.creationTimestamp ? { createdAt: cluster.metadata.creationTimestamp } : {}),
  };
}

/** The ObjectStore's recovery window for one server (status.serverRecoveryWindow, written by the plugin). */
export function recoveryWindowOf(
  objectStore: { status?: unknown } | undefined,
  server: string,
): RecoveryWindow | undefined {
  const windows = (
    objectStore?.status as
      | {
          serverRecoveryWindow?: Record<
            string,
            { firstRecoverabilityPoint?: string; lastSuccessfulBackupTime?: string }
          >;
        }
      | undefined
  )?.serverRecoveryWindow;
  const w = windows?.[server];
  if (!w) return undefined;
  return {
    ...(w.firstRecoverabilityPoint ? { first: w.firstRecoverabilityPoint } : {}),
    ...(w.lastSuccessfulBackupTime ? { last: w.lastSuccessfulBackupTime } : {}),
  };
}
