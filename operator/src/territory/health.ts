// Reading the real health of the parts the operator does not run itself: CloudNativePG's Cluster (and,
// while it is not healthy, its Pods) and the logical-backup CronJob. Pure: objects in, part outcomes
// out. kstatus cannot judge a CNPG Cluster (it has no observedGeneration), so we read CNPG's own phase,
// Ready condition and instance counts.
import { REGION_LABEL } from '../builders/sovereignty.ts';
import type { PartOutcome } from './conditions.ts';

type Obj =
  | { metadata?: { generation?: number; creationTimestamp?: string }; spec?: unknown; status?: unknown }
  | undefined;

interface CnpgStatus {
  phase?: string;
  phaseReason?: string;
  instances?: number;
  readyInstances?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

const CNPG_HEALTHY_PHASE = 'Cluster in healthy state';
const CNPG_RECOVERING_PHASE = /^Failing over/i;

export function databaseOutcome(cluster: Obj, wantedInstances: number): PartOutcome {
  const base = { type: 'DatabaseReady' as const };
  if (!cluster) {
    return {
      ...base,
      status: 'False',
      reason: 'DatabaseCreating',
      message: 'the PostgreSQL cluster is being created',
      progressing: true,
    };
  }
  const s = (cluster.status ?? {}) as CnpgStatus;
  const ready = s.conditions?.find((c) => c.type === 'Ready');
  const counts = `${s.readyInstances ?? 0}/${wantedInstances} instances ready`;
  if (
    s.phase === CNPG_HEALTHY_PHASE &&
    (s.readyInstances ?? 0) >= wantedInstances &&
    ready?.status !== 'False'
  ) {
    return { ...base, status: 'True', reason: 'Healthy', message: `CloudNativePG: ${s.phase} (${counts})` };
  }
  if (!s.phase) {
    return {
      ...base,
      status: 'False',
      reason: 'WaitingForCloudNativePG',
      message: 'CloudNativePG has not reported on the cluster yet (is its operator running?)',
      progressing: true,
    };
  }
  const detail = [s.phase, s.phaseReason, ready?.message].filter(Boolean).join(': ');
  // CNPG reports unrecoverable states in its phase; everything else is on its way. "Failing over" is
  // CloudNativePG promoting a replica on its own: degraded, not stuck (seen on a real node).
  const failed = /fail|error|unrecoverable|cannot/i.test(s.phase) && !CNPG_RECOVERING_PHASE.test(s.phase);
  return {
    ...base,
    status: 'False',
    reason: failed ? 'DatabaseUnhealthy' : 'DatabaseProvisioning',
    message: `CloudNativePG: ${detail} (${counts})`,
    progressing: !failed,
  };
}

const TRANSIENT_UNSCHEDULABLE = /persistentvolumeclaim "[^"]*" not found/i;

interface PodLike {
  metadata?: { name?: string; namespace?: string; deletionTimestamp?: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * A database that is not healthy because one of its Pods cannot be placed on any node says so, with
 * the scheduler's own words. CloudNativePG only reports its phase ("Setting up primary") however long
 * its Pods stay Pending, so without this a user waits for ever. `pods` are the Pods of the Cluster
 * (label `cnpg.io/cluster`), its initdb/join Job Pods included; a healthy database ignores them.
 *
 * Not `progressing`, so the Territory reads Stalled=True rather than Reconciling=True: the scheduler has
 * already tried every node and none fits, and it will only place the Pod once something outside the
 * operator changes (a node in an allowed region joins or is labelled, capacity is freed, or
 * spec.hosting.regions is changed). kstatus calls that Stalled: a human (or the platform) must act, and
 * GitOps tools should stop waiting. Where a cluster autoscaler is already adding a fitting node, the
 * condition clears at the next reconcile after the Pod is placed (CloudNativePG's Cluster status moves).
 */
export function withUnschedulablePods(
  outcome: PartOutcome,
  pods: readonly PodLike[],
  allowedRegions: readonly string[],
): PartOutcome {
  if (outcome.status === 'True') return outcome;
  const stuck = pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((pod) => ({
      pod,
      scheduled: pod.status?.conditions?.find((c) => c.type === 'PodScheduled'),
    }))
    .filter(
      ({ scheduled }) =>
        scheduled?.status === 'False' &&
        scheduled.reason === 'Unschedulable' &&
        // CloudNativePG creates an instance's claim and its Pod together: the scheduler may see the Pod
        // first and say so for a moment. That is not a Pod stuck for want of a node.
        !TRANSIENT_UNSCHEDULABLE.test(scheduled.message ?? ''),
    )
    .sort((a, b) => (a.pod.metadata?.name ?? '').localeCompare(b.pod.metadata?.name ?? ''));
  const first = stuck[0];
  if (!first) return outcome;
  const { namespace, name } = first.pod.metadata ?? {};
  const others = stuck.length > 1 ? ` (and ${stuck.length - 1} more of its Pods)` : '';
  const said = first.scheduled?.message?.trim() || 'no reason given';
  const regions = allowedRegions.length > 0 ? allowedRegions.join(', ') : 'none';
  const placement =
    `the database may only run on nodes whose ${REGION_LABEL} label is one of the Territory's allowed regions ` +
    `(${regions}): compare its spec.hosting.regions with the nodes' labels ` +
    `(kubectl get nodes -L ${REGION_LABEL})`;
  // An affinity mismatch is the region question itself; otherwise the scheduler names what is lacking.
  const check = /affinity|selector/i.test(said)
    ? placement
    : `${placement}, and the capacity, taints and volumes the scheduler names`;
  return {
    type: 'DatabaseReady',
    status: 'False',
    reason: 'DatabaseUnschedulable',
    message: `Pod ${namespace ? `${namespace}/` : ''}${name ?? '?'}${others} cannot be scheduled: "${said}"; ${check}. ${outcome.message}`,
    progressing: false,
  };
}

/** How one kind of backup is doing. Succeeded and Pending are healthy; Failing and Overdue are not. */
export type BackupState = 'Succeeded' | 'Pending' | 'Failing' | 'Overdue';

export interface BackupKindHealth {
  state: BackupState;
  lastSuccessful?: string;
  lastFailed?: string;
  /** What a person reads in the condition: what happened and, when it failed, where to look. */
  detail: string;
}

const HEALTHY: readonly BackupState[] = ['Succeeded', 'Pending'];
export const isHealthy = (h: BackupKindHealth) => HEALTHY.includes(h.state);

/** Overdue: no success within two schedule periods after one was due (or since the schedule began). */
function overdue(
  since: string | undefined,
  lastSuccessful: string | undefined,
  periodDays: number,
  now: Date,
): string | undefined {
  if (!since || now.getTime() - Date.parse(since) <= 2 * periodDays * 86_400_000) return undefined;
  return lastSuccessful
    ? `no success since ${lastSuccessful}`
    : `no success since the schedule was created (${since})`;
}

interface CronJobStatus {
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
  active?: unknown[];
}

/**
 * The encrypted logical backups, from their CronJob: a run scheduled after the last success that is no
 * longer active has failed (its Job gave up after its retries).
 */
export function logicalBackupHealth(
  cronJob: Obj,
  opts: { periodDays: number; now: Date; namespace: string },
): BackupKindHealth {
  const s = (cronJob?.status ?? {}) as CronJobStatus;
  const created = cronJob?.metadata?.creationTimestamp;
  const last = s.lastSuccessfulTime;
  const base = last ? { lastSuccessful: last } : {};
  const running = (s.active?.length ?? 0) > 0;
  const failedRun =
    !running && s.lastScheduleTime && (!last || Date.parse(s.lastScheduleTime) > Date.parse(last))
      ? s.lastScheduleTime
      : undefined;
  if (failedRun) {
    return {
      ...base,
      state: 'Failing',
      lastFailed: failedRun,
      detail:
        `the run scheduled at ${failedRun} failed${last ? ` (last success ${last})` : ''}: ` +
        `kubectl -n ${opts.namespace} logs job/<its Job> shows why`,
    };
  }
  const late = overdue(last ?? created, last, opts.periodDays, opts.now);
  if (late) return { ...base, state: 'Overdue', detail: late };
  return last
    ? { ...base, state: 'Succeeded', detail: `last success ${last}` }
    : { state: 'Pending', detail: 'scheduled; none has run yet' };
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** The ObjectStore's status, written by the plugin's sidecar (api/v1/objectstore_types.go, v0.14.0). */
interface ObjectStoreStatus {
  serverRecoveryWindow?: Record<
    string,
    { firstRecoverabilityPoint?: string; lastSuccessfulBackupTime?: string; lastFailedBackupTime?: string }
  >;
}

/** The later of two RFC 3339 times, either possibly missing. */
function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (!a || !b) return a ?? b;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/**
 * Physical backups (WAL archive and base backups through the Barman Cloud plugin). Where CloudNativePG
 * v1.30.0 and the plugin v0.14.0 report them:
 * - WAL archiving: the Cluster's ContinuousArchiving condition, set by the instance manager after each
 *   archive attempt, whichever archiver (the plugin's included); False carries barman-cloud's error.
 * - The last base backups: the ObjectStore's status.serverRecoveryWindow[<server>] (server: the Cluster's
 *   name), lastSuccessfulBackupTime from the bucket's own catalog (refreshed after each backup and by the
 *   retention loop), lastFailedBackupTime when barman-cloud-backup failed.
 * - The last backup's outcome, whatever failed (the plugin unreachable, the instance gone too): the
 *   Cluster's LastBackupSucceeded condition. False with reason LastBackupFailed until a later backup
 *   succeeds; False with reason BackupStarted while one runs. Its lastTransitionTime is when it became
 *   True (that success) or False (the start of the backup that failed).
 * The Cluster's status.lastSuccessfulBackup is "not set for backup plugins" (CloudNativePG's API) and
 * status.lastFailedBackup is deprecated with it: neither is read.
 */
export function physicalBackupHealth(
  cluster: Obj,
  objectStore: Obj,
  opts: { periodDays: number; now: Date; serverName: string },
): BackupKindHealth {
  const conditions = ((cluster?.status ?? {}) as CnpgStatus).conditions as Condition[] | undefined;
  const window = ((objectStore?.status ?? {}) as ObjectStoreStatus).serverRecoveryWindow?.[opts.serverName];
  const archiving = conditions?.find((c) => c.type === 'ContinuousArchiving');
  const lastBackup = conditions?.find((c) => c.type === 'LastBackupSucceeded');
  const lastFailedBackup =
    lastBackup?.status === 'False' && lastBackup.reason === 'LastBackupFailed' ? lastBackup : undefined;
  const last = latest(
    window?.lastSuccessfulBackupTime,
    lastBackup?.status === 'True' ? lastBackup.lastTransitionTime : undefined,
  );
  const failed = latest(window?.lastFailedBackupTime, lastFailedBackup?.lastTransitionTime);
  const base = { ...(last ? { lastSuccessful: last } : {}), ...(failed ? { lastFailed: failed } : {}) };
  if (archiving?.status === 'False') {
    return {
      ...base,
      state: 'Failing',
      detail: `WAL archiving is failing${archiving.message ? `: ${archiving.message}` : ''}`,
    };
  }
  if (lastFailedBackup || (failed && (!last || Date.parse(failed) > Date.parse(last)))) {
    const why = lastFailedBackup?.message ? `: ${lastFailedBackup.message}` : '';
    return {
      ...base,
      state: 'Failing',
      detail: `the base backup${failed ? ` of ${failed}` : ''} failed${why}`,
    };
  }
  // Due since the ObjectStore exists (physical backups were turned on), not since the database does; an
  // ObjectStore just applied and not seen yet is not late.
  const since = objectStore?.metadata?.creationTimestamp;
  const late = overdue(last ?? since, last, opts.periodDays, opts.now);
  if (late) return { ...base, state: 'Overdue', detail: late };
  return last
    ? { ...base, state: 'Succeeded', detail: `last base backup ${last}` }
    : { ...base, state: 'Pending', detail: 'scheduled; no base backup yet' };
}

/**
 * Physical backups are asked for, but the Barman Cloud plugin is not installed (its ObjectStore kind is
 * not served): the database runs without them (CloudNativePG refuses a Cluster naming an unknown plugin),
 * and a person must install the plugin. Not progressing: Stalled until then.
 */
export function barmanCloudPluginMissing(opts: {
  cnpgNamespace: string;
  release: string;
  logical: BackupKindHealth;
}): PartOutcome {
  return {
    type: 'BackupReady',
    status: 'False',
    reason: 'BarmanCloudPluginNotInstalled',
    message:
      'spec.backup.physical.enabled is true, but CloudNativePG’s Barman Cloud plugin is not installed on this ' +
      `cluster (the API server does not serve barmancloud.cnpg.io/v1 ObjectStore): install ${opts.release} in ` +
      `CloudNativePG’s namespace (${opts.cnpgNamespace}) with its TLS certificates (cert-manager, or your own), ` +
      'and physical backups will follow. Meanwhile the database runs without WAL archiving or base backups. ' +
      `Logical (encrypted with the authority's keys): ${opts.logical.detail}`,
  };
}

/**
 * BackupReady: every kind the Territory asked for is healthy. Each kind is judged on its own, so a
 * fresh physical backup can never hide failing encrypted ones (nor the reverse).
 */
export function backupOutcome(opts: {
  cronJob: Obj;
  logical: BackupKindHealth;
  physical: BackupKindHealth | undefined;
}): PartOutcome {
  const base = { type: 'BackupReady' as const };
  if (!opts.cronJob) {
    return {
      ...base,
      status: 'False',
      reason: 'BackupScheduling',
      message: 'the backup schedule is being created',
      progressing: true,
    };
  }
  const { logical, physical } = opts;
  const said = [
    `logical (encrypted with the authority's keys): ${logical.detail}`,
    ...(physical ? [`physical (readable by the storage provider): ${physical.detail}`] : []),
  ].join('; ');
  const unhealthy = [logical, ...(physical ? [physical] : [])].find((h) => !isHealthy(h));
  if (unhealthy) {
    return {
      ...base,
      status: 'False',
      reason: unhealthy.state === 'Failing' ? 'BackupFailing' : 'BackupOverdue',
      message: said,
    };
  }
  return {
    ...base,
    status: 'True',
    reason: logical.state === 'Succeeded' ? 'BackupSucceeded' : 'BackupScheduled',
    message: said,
  };
}

/**
 * Backups scheduled toward a host no NetworkPolicy lets them reach cannot succeed: the namespace
 * denies all egress but what the operator opens, and it opens the backup destination only to the
 * CIDRs the platform team configured for its host. Said at once, not after two missed backups.
 */
export function withoutBackupEgress(outcome: PartOutcome, host: string, cidrs: string[]): PartOutcome {
  if (outcome.status !== 'True' || cidrs.length > 0) return outcome;
  return {
    type: 'BackupReady',
    status: 'False',
    reason: 'BackupEgressNotAllowed',
    message:
      `backups cannot reach ${host}: the operator configuration gives no backupEgress CIDRs for this host, ` +
      'and the namespace denies every other egress',
  };
}
