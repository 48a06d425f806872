// Reading the real health of the parts the operator does not run itself: CloudNativePG's Cluster (and,
// while it is not healthy, its Pods), the logical-backup CronJob, and the restore drill's CronJob and
// Jobs. Pure: objects in, part outcomes out. kstatus cannot judge a CNPG Cluster (it has no observedGeneration), so we read CNPG's own phase,
// Ready condition and instance counts.
import type { RESTORE_TEST_FAILURES, RESTORE_TEST_RESULTS } from '../api/status.ts';
import { DRILL_DEADLINE_SECONDS, RESTORE_DRILL_CRONJOB } from '../builders/restore-drill.ts';
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

export type RestoreTestResult = (typeof RESTORE_TEST_RESULTS)[number];
export type RestoreTestFailure = (typeof RESTORE_TEST_FAILURES)[number];

/** The restore drill's health: a backup kind's, plus what the last drill said. */
export interface RestoreTestHealth extends BackupKindHealth {
  result?: RestoreTestResult;
  /** When the last drill ended (for one known only from its CronJob's status: when it was scheduled). */
  time?: string;
  durationSeconds?: number;
  failure?: RestoreTestFailure;
  job?: string;
}

interface JobCondition {
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

/** A drill Job as the operator caches it: its name, and its status. */
export interface DrillJob {
  metadata?: { name?: string; creationTimestamp?: string };
  status?: { startTime?: string; completionTime?: string; conditions?: JobCondition[] };
}

/** One drill that ended: from its Job, or (its Job gone) from the CronJob's status. */
interface Ended {
  result: RestoreTestResult;
  time: string;
  start?: string;
  job?: string;
  failure?: RestoreTestFailure;
  exitCode?: number;
  /** A drill that found no backup to restore (exit 6): only a failure once backups have succeeded. */
  noBackup?: boolean;
  why?: string;
  fromJob: boolean;
}

const DRILL_EXIT_NO_BACKUP = 6;

/** What a drill's exit code says (territory-backup drill: 4, 5, 6, 2, else 1 or a signal). */
function exitFailure(code: number): { failure: RestoreTestFailure; why: string } {
  switch (code) {
    case 4:
      return {
        failure: 'DataDiffers',
        why: 'the restored data does not match what the backup recorded (exit 4)',
      };
    case 5:
      return {
        failure: 'DoesNotRestore',
        why: 'the backup does not restore: it fails verification, or pg_restore refuses it (exit 5)',
      };
    case 2:
      return { failure: 'BadConfiguration', why: 'the drill is misconfigured (exit 2)' };
    case 137:
      return {
        failure: 'CouldNotRun',
        why:
          'the drill was killed (exit 137): out of memory, or its scratch disk (spec.backup.restoreDrill.scratchSize) ' +
          'was full',
      };
    default:
      return { failure: 'CouldNotRun', why: `the drill could not reach a verdict (exit ${code})` };
  }
}

/** How a finished drill Job ended, or undefined while it runs. */
function endedJob(job: DrillJob): Ended | undefined {
  const conditions = job.status?.conditions ?? [];
  const name = job.metadata?.name;
  const start = job.status?.startTime ?? job.metadata?.creationTimestamp;
  const complete = conditions.find((c) => c.type === 'Complete' && c.status === 'True');
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  const base = { fromJob: true, ...(name ? { job: name } : {}), ...(start ? { start } : {}) };
  if (complete) {
    const time = job.status?.completionTime ?? complete.lastTransitionTime;
    return time ? { ...base, result: 'Passed', time } : undefined;
  }
  if (!failed?.lastTransitionTime) return undefined;
  const time = failed.lastTransitionTime;
  if (failed.reason === 'DeadlineExceeded') {
    return {
      ...base,
      result: 'Failed',
      time,
      failure: 'DeadlineExceeded',
      why:
        `the drill did not finish within ${DRILL_DEADLINE_SECONDS / 3600} h: its Pod never started (kubectl describe ` +
        'the Job: quota, a node with enough disk for scratchSize) or the restore takes longer',
    };
  }
  // The pod failure policy fails the Job at the drill's exit, and its message names the exit code.
  const code = /exit code (\d+)/.exec(failed.message ?? '')?.[1];
  if (code !== undefined) {
    const exitCode = Number(code);
    if (exitCode === DRILL_EXIT_NO_BACKUP) {
      return { ...base, result: 'Failed', time, exitCode, noBackup: true, failure: 'CouldNotRun' };
    }
    return { ...base, result: 'Failed', time, exitCode, ...exitFailure(exitCode) };
  }
  return {
    ...base,
    result: 'Failed',
    time,
    failure: 'CouldNotRun',
    why: `the drill failed (${[failed.reason, failed.message].filter(Boolean).join(': ') || 'no reason given'})`,
  };
}

const later = (a: string, b: string) => Date.parse(a) > Date.parse(b);

/**
 * The restore drill, from its Jobs (the drill's own and those run by hand with `kubectl create job
 * --from=cronjob/restore-drill`: the CronJob's status never records a failed one of those) and, for a
 * drill whose Job is gone, its CronJob's status, read like the logical backup's: a run scheduled after
 * the last success and no longer active has failed. The last drill to end decides Passed or Failed.
 *
 * A drill that found no backup to restore (exit 6) is a failure only when a logical backup had
 * succeeded before it (`lastBackupSuccess`, the backup CronJob's): otherwise a new Territory's first
 * drill simply came before its first backup, which is not worth a Warning.
 */
export function restoreDrillHealth(
  cronJob: Obj,
  jobs: readonly DrillJob[],
  opts: { periodDays: number; now: Date; namespace: string; lastBackupSuccess: string | undefined },
): RestoreTestHealth {
  const s = (cronJob?.status ?? {}) as CronJobStatus;
  const ended: Ended[] = jobs.map(endedJob).filter((e): e is Ended => e !== undefined);
  const tooEarly = (e: Ended) =>
    e.noBackup === true && !(opts.lastBackupSuccess && later(e.time, opts.lastBackupSuccess));
  if (s.lastSuccessfulTime) {
    const start =
      s.lastScheduleTime && !later(s.lastScheduleTime, s.lastSuccessfulTime) ? s.lastScheduleTime : undefined;
    ended.push({ result: 'Passed', time: s.lastSuccessfulTime, ...(start ? { start } : {}), fromJob: false });
  }
  const active = (s.active?.length ?? 0) > 0;
  if (
    !active &&
    s.lastScheduleTime &&
    (!s.lastSuccessfulTime || later(s.lastScheduleTime, s.lastSuccessfulTime))
  ) {
    // The name the CronJob controller gave that run's Job; when the Job is still there, it says more.
    const job = `${RESTORE_DRILL_CRONJOB}-${Math.floor(Date.parse(s.lastScheduleTime) / 60_000)}`;
    if (!jobs.some((j) => j.metadata?.name === job)) {
      ended.push({ result: 'Failed', time: s.lastScheduleTime, job, fromJob: false });
    }
  }
  const runningNote = active || jobs.some((j) => !endedJob(j)) ? '; a drill is running now' : '';
  // Newest first; at the same instant, what a Job says beats what the CronJob's status suggests.
  ended.sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || Number(b.fromJob) - Number(a.fromJob));
  const counted = ended.filter((e) => !tooEarly(e));
  const lastSuccessful = counted.find((e) => e.result === 'Passed')?.time;
  const lastFailed = counted.find((e) => e.result === 'Failed')?.time;
  const base = {
    ...(lastSuccessful ? { lastSuccessful } : {}),
    ...(lastFailed ? { lastFailed } : {}),
  };
  const shown = (e: Ended) => ({
    result: e.result,
    time: e.time,
    ...(e.start && !later(e.start, e.time)
      ? { durationSeconds: Math.round((Date.parse(e.time) - Date.parse(e.start)) / 1000) }
      : {}),
    ...(e.failure ? { failure: e.failure } : {}),
    ...(e.job ? { job: e.job } : {}),
  });
  const last = counted[0];
  if (last?.result === 'Failed') {
    const why = last.noBackup
      ? `it found no backup to restore (exit 6), though a logical backup succeeded at ${opts.lastBackupSuccess}: ` +
        'were the backups deleted from the bucket, or did the destination change?'
      : (last.why ?? 'its Job is gone, and with it the reason');
    return {
      ...base,
      ...shown(last),
      state: 'Failing',
      detail:
        `the drill that ended ${last.time} failed: ${why}${lastSuccessful ? ` (last passed ${lastSuccessful})` : ''}; ` +
        `kubectl -n ${opts.namespace} logs job/${last.job ?? '<its Job>'} shows why${runningNote}`,
    };
  }
  const late = overdue(
    lastSuccessful ?? cronJob?.metadata?.creationTimestamp,
    lastSuccessful,
    opts.periodDays,
    opts.now,
  );
  if (late) {
    return {
      ...base,
      ...(last ? shown(last) : {}),
      state: 'Overdue',
      detail: `no drill passed within two drill periods: ${late}${runningNote}`,
    };
  }
  if (last) {
    const seconds = shown(last).durationSeconds;
    return {
      ...base,
      ...shown(last),
      state: 'Succeeded',
      detail: `the last drill passed at ${last.time}${seconds !== undefined ? ` in ${seconds} s` : ''}${runningNote}`,
    };
  }
  const early = ended.find(tooEarly);
  return {
    state: 'Pending',
    detail: early
      ? `scheduled; the drill of ${early.time} came before the first backup, so there was nothing to restore yet${runningNote}`
      : `scheduled; none has run yet${runningNote}`,
  };
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
  const conditions = ((cluster?.status ?? {}) as CnpgStatus).conditions as JobCondition[] | undefined;
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
 * BackupReady: every kind the Territory asked for is healthy, and so is its restore drill. Each kind is
 * judged on its own, so a fresh physical backup can never hide failing encrypted ones (nor the
 * reverse), and backups that are taken but do not restore are not Ready either.
 */
export function backupOutcome(opts: {
  cronJob: Obj;
  logical: BackupKindHealth;
  physical: BackupKindHealth | undefined;
  /** The restore drill, when spec.backup.restoreDrill.enabled. */
  drill?: RestoreTestHealth | undefined;
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
  const { logical, physical, drill } = opts;
  const said = [
    `logical (encrypted with the authority's keys): ${logical.detail}`,
    ...(physical ? [`physical (readable by the storage provider): ${physical.detail}`] : []),
    ...(drill ? [`restore drill: ${drill.detail}`] : []),
  ].join('; ');
  // Backups first: a drill can only test backups that are taken.
  const unhealthy = [logical, ...(physical ? [physical] : [])].find((h) => !isHealthy(h));
  if (unhealthy) {
    return {
      ...base,
      status: 'False',
      reason: unhealthy.state === 'Failing' ? 'BackupFailing' : 'BackupOverdue',
      message: said,
    };
  }
  if (drill && !isHealthy(drill)) {
    return {
      ...base,
      status: 'False',
      reason: drill.state === 'Failing' ? 'RestoreDrillFailing' : 'RestoreDrillOverdue',
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
