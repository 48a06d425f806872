// Reading the real health of the parts the operator does not run itself: CloudNativePG's Cluster (and,
// while it is not healthy, its Pods) and the logical-backup CronJob. Pure: objects in, part outcomes
// out. kstatus cannot judge a CNPG Cluster (it has no observedGeneration), so we read CNPG's own phase,
// Ready condition and instance counts.
import { REGION_LABEL } from '../builders/sovereignty.ts';
import type { PartOutcome } from './conditions.ts';

type Obj = { metadata?: { generation?: number }; spec?: unknown; status?: unknown } | undefined;

interface CnpgStatus {
  phase?: string;
  phaseReason?: string;
  instances?: number;
  readyInstances?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
  lastSuccessfulBackup?: string;
  lastFailedBackup?: string;
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

export function lastSuccessfulBackup(cronJob: Obj, cluster: Obj): string | undefined {
  const logical = (cronJob?.status as { lastSuccessfulTime?: string } | undefined)?.lastSuccessfulTime;
  const physical = (cluster?.status as CnpgStatus | undefined)?.lastSuccessfulBackup;
  return [logical, physical]
    .filter((x): x is string => !!x)
    .sort()
    .at(-1);
}

/**
 * Backups are ready once scheduled toward a sovereign destination, and stay ready while the last
 * success is recent. Overdue: no success within two schedule periods after one was due.
 */
export function backupOutcome(opts: {
  cronJob: Obj;
  lastSuccessful: string | undefined;
  periodDays: number;
  now: Date;
  createdAt: string | undefined;
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
  const graceMs = 2 * opts.periodDays * 86_400_000;
  const since = opts.lastSuccessful ?? opts.createdAt;
  if (since && opts.now.getTime() - Date.parse(since) > graceMs) {
    return {
      ...base,
      status: 'False',
      reason: 'BackupOverdue',
      message: opts.lastSuccessful
        ? `no successful backup since ${opts.lastSuccessful}`
        : `no successful backup since the schedule was created (${opts.createdAt})`,
    };
  }
  return {
    ...base,
    status: 'True',
    reason: opts.lastSuccessful ? 'BackupSucceeded' : 'BackupScheduled',
    message: opts.lastSuccessful
      ? `last successful backup at ${opts.lastSuccessful}`
      : 'scheduled; no backup has run yet',
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
