// Reading the real health of the parts the operator does not run itself: CloudNativePG's Cluster and
// the logical-backup CronJob. Pure: objects in, part outcomes out. kstatus cannot judge a CNPG Cluster
// (it has no observedGeneration), so we read CNPG's own phase, Ready condition and instance counts.
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
  // CNPG reports unrecoverable states in its phase; everything else is on its way.
  const failed = /fail|error|unrecoverable|cannot/i.test(s.phase);
  return {
    ...base,
    status: 'False',
    reason: failed ? 'DatabaseUnhealthy' : 'DatabaseProvisioning',
    message: `CloudNativePG: ${detail} (${counts})`,
    progressing: !failed,
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
