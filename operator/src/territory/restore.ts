// A declarative restore (spec.restore), read: the request, its Job (as the operator caches it) and what
// the Job's container left in its termination message in, status.restore, the Restored condition and
// whether to create the Job out. Pure: the reconciler reads and writes, this decides.
//
// The rules:
// - a request is spec.restore's fields, named by restoreRequestId; its Job is restore-<request>;
// - it runs once: a request that Succeeded is never run again, even if its Job is deleted
//   (status.restore.request says it is done);
// - a request that Failed or was Refused is run again only when its Job is deleted (by a person, who
//   has read why, e.g. after dropping the tables or fixing the store): the Job is the lock;
// - the Job is created only once the database is ready and backups may be read;
// - spec.restore removed: status.restore stays as a record, and no Restored condition is reported.
import type { RestoreSpec, TerritoryStatus } from '../api/territory.ts';
import { restoreRequestId } from '../api/territory.ts';
import { RESTORE_DEADLINE_SECONDS, restoreJobName } from '../builders/restore.ts';
import type { PartOutcome } from './conditions.ts';

export type RestoreStatus = NonNullable<TerritoryStatus['restore']>;
export type RestorePhase = RestoreStatus['phase'];

interface JobCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** A restore Job as the operator caches it (cache-shape.ts: jobForCache). */
export interface RestoreJob {
  metadata?: { name?: string; creationTimestamp?: string };
  status?: {
    startTime?: string;
    completionTime?: string;
    active?: number;
    conditions?: JobCondition[];
  };
}

/** What `territory-backup restore-into` leaves in its termination message (restore-into.ts). */
export interface RestoreTermination {
  result?: string;
  backup?: string;
  takenAt?: string;
  source?: string;
  tables?: number;
  rows?: number;
  mismatches?: number;
  untouched?: number;
  replaced?: boolean;
}

/** The termination message of a restore Pod, if it is one; anything else is ignored, never trusted. */
export function parseTermination(text: string | undefined): RestoreTermination | undefined {
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const str = (k: string, max: number) =>
    typeof v[k] === 'string' && (v[k] as string).length <= max ? (v[k] as string) : undefined;
  const count = (k: string) =>
    Number.isSafeInteger(v[k]) && (v[k] as number) >= 0 ? (v[k] as number) : undefined;
  const out: RestoreTermination = {};
  for (const [k, max] of [
    ['result', 32],
    ['backup', 64],
    ['takenAt', 64],
    ['source', 63],
  ] as const) {
    const s = str(k, max);
    if (s !== undefined) out[k] = s;
  }
  for (const k of ['tables', 'rows', 'mismatches', 'untouched'] as const) {
    const n = count(k);
    if (n !== undefined) out[k] = n;
  }
  if (typeof v.replaced === 'boolean') out.replaced = v.replaced;
  return out;
}

export interface RestoreInput {
  territory: string;
  namespace: string;
  spec: RestoreSpec | undefined;
  previous: RestoreStatus | undefined;
  /** The Job restore-<request> of the current request, when the cache holds it. */
  job: RestoreJob | undefined;
  /** Its Pod's termination message, read once the Job has ended. */
  termination: RestoreTermination | undefined;
  /** Whether the Job may be created now: the database is ready and backups may be read; else why not. */
  prerequisites: { met: true } | { met: false; why: string };
}

export interface RestoreDecision {
  request?: string;
  /** status.restore to write: the current request's, or the previous record kept as it is. */
  status: RestoreStatus | undefined;
  /** The Restored condition, while spec.restore is set. */
  outcome: PartOutcome | undefined;
  /** Create the Job restore-<request> now. */
  create: boolean;
}

/** Why a Job failed, from its Failed condition: the pod failure policy's message names the exit code. */
function failureOf(
  failed: JobCondition,
  territory: string,
): { phase: 'Failed' | 'Refused'; reason: string; message: string } {
  if (failed.reason === 'DeadlineExceeded') {
    return {
      phase: 'Failed',
      reason: 'RestoreDeadlineExceeded',
      message: `the restore did not finish within ${RESTORE_DEADLINE_SECONDS / 3600} h and was stopped; its transaction was rolled back, nothing was changed`,
    };
  }
  const code = /exit code (\d+)/.exec(failed.message ?? '')?.[1];
  switch (code === undefined ? undefined : Number(code)) {
    case 7:
      return {
        phase: 'Refused',
        reason: 'DatabaseNotEmpty',
        message:
          'the database already holds tables, views or sequences, so the restore was refused and nothing was changed. ' +
          `To replace them with the backup, set spec.restore.replaceExistingData to "${territory}" ` +
          `(territoryctl restore ${territory} --replace-existing-data)`,
      };
    case 6:
      return {
        phase: 'Failed',
        reason: 'NoBackupToRestore',
        message:
          'no backup fits the request (none yet, no such name, or none taken at or before that time); nothing was changed',
      };
    case 5:
      return {
        phase: 'Failed',
        reason: 'BackupDoesNotRestore',
        message:
          'the backup does not restore: it fails verification (corrupted, or not openable with this keyring) or pg_restore refused it; ' +
          'its transaction was rolled back, nothing was changed',
      };
    case 4:
      return {
        phase: 'Failed',
        reason: 'RestoredDataDiffers',
        message:
          'the restore committed, but the restored data does not match what the backup recorded in some tables: ' +
          'the database now holds the restored data; compare before using it',
      };
    case 2:
      return {
        phase: 'Failed',
        reason: 'RestoreMisconfigured',
        message: 'the restore Job is misconfigured (exit 2)',
      };
    case undefined:
      return {
        phase: 'Failed',
        reason: 'RestoreFailed',
        message: `the restore Job failed (${[failed.reason, failed.message].filter(Boolean).join(': ') || 'no reason given'})`,
      };
    default:
      return {
        phase: 'Failed',
        reason: 'RestoreFailed',
        message: `the restore stopped before it ended (exit ${code}): the store or the database was unreachable, or it was killed; its transaction was rolled back`,
      };
  }
}

const seconds = (from: string | undefined, to: string | undefined) =>
  from && to && Date.parse(to) >= Date.parse(from)
    ? Math.round((Date.parse(to) - Date.parse(from)) / 1000)
    : undefined;

function details(t: RestoreTermination | undefined): Partial<RestoreStatus> {
  if (!t) return {};
  return {
    ...(t.backup ? { backup: t.backup } : {}),
    ...(t.tables !== undefined ? { tables: t.tables } : {}),
    ...(t.rows !== undefined ? { rows: t.rows } : {}),
    ...(t.replaced !== undefined ? { replacedExistingData: t.replaced } : {}),
  };
}

/** The Restored condition for a restore's status (point-in-time.ts reports its own the same way). */
export function conditionOf(status: RestoreStatus, reason: string): PartOutcome {
  const done = status.phase === 'Succeeded';
  return {
    type: 'Restored',
    status: done ? 'True' : 'False',
    reason,
    message: status.message ?? status.phase,
    // Pending and Running converge on their own; Failed and Refused wait for a person.
    progressing: status.phase === 'Pending' || status.phase === 'Running',
  };
}

export function decideRestore(input: RestoreInput): RestoreDecision {
  const { spec, previous, job, termination, namespace, territory } = input;
  // A point-in-time recovery is no logical restore: never a restore Job for it (point-in-time.ts decides it).
  if (spec?.from !== 'LogicalBackup') return { status: previous, outcome: undefined, create: false };
  const request = restoreRequestId(spec);
  const jobName = restoreJobName(request);
  const base = {
    request,
    job: jobName,
    ...(spec.backup ? { backup: spec.backup } : {}),
    ...(spec.sourceTerritory ? { sourceTerritory: spec.sourceTerritory } : {}),
  };
  const same = previous?.request === request ? previous : undefined;
  const logs = `kubectl -n ${namespace} logs job/${jobName}`;

  // Done once, done for good.
  if (same?.phase === 'Succeeded') {
    return { request, status: same, outcome: conditionOf(same, 'RestoreSucceeded'), create: false };
  }

  if (job) {
    const conditions = job.status?.conditions ?? [];
    const startedAt = job.status?.startTime;
    const complete = conditions.find((c) => c.type === 'Complete' && c.status === 'True');
    const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    // Ended and already recorded (its termination message read once): the record stands.
    const recorded = same?.completedAt !== undefined && same.phase !== 'Pending' && same.phase !== 'Running';
    if ((complete || failed) && recorded && !termination) {
      const reason = complete ? 'RestoreSucceeded' : failureOf(failed as JobCondition, territory).reason;
      return { request, status: same, outcome: conditionOf(same, reason), create: false };
    }
    if (complete && termination?.result === 'already-restored') {
      const completedAt = job.status?.completionTime ?? complete.lastTransitionTime;
      const status: RestoreStatus = {
        ...base,
        ...(termination.backup ? { backup: termination.backup } : {}),
        phase: 'Succeeded',
        ...(startedAt ? { startedAt } : {}),
        ...(completedAt ? { completedAt } : {}),
        message:
          `the database records that this request was served already (${termination.backup ?? 'its backup'} restored): ` +
          'nothing was changed. To restore again, name the backup (spec.restore.backup) or a time (spec.restore.before)',
      };
      return { request, status, outcome: conditionOf(status, 'RestoreSucceeded'), create: false };
    }
    if (complete) {
      const completedAt = job.status?.completionTime ?? complete.lastTransitionTime;
      const d = { ...details(termination) };
      const compared = termination?.result !== 'not-compared';
      const untouched = termination?.untouched
        ? `; ${termination.untouched} table(s) the backup does not hold were left as they were`
        : '';
      const status: RestoreStatus = {
        ...base,
        ...d,
        phase: 'Succeeded',
        ...(startedAt ? { startedAt } : {}),
        ...(completedAt ? { completedAt } : {}),
        ...(seconds(startedAt, completedAt) !== undefined
          ? { durationSeconds: seconds(startedAt, completedAt) }
          : {}),
        message:
          `restored ${d.backup ?? 'the backup'}${spec.sourceTerritory ? ` of ${spec.sourceTerritory}` : ''}` +
          `${d.tables !== undefined ? `: ${d.tables} table(s), ${d.rows ?? 0} row(s)` : ''}` +
          (compared
            ? ', every table matching what the backup recorded'
            : ' (the backup has no manifest: it restored, but its tables could not be compared)') +
          `${d.replacedExistingData ? ', replacing the data the database held' : ''}${untouched}`,
      };
      return { request, status, outcome: conditionOf(status, 'RestoreSucceeded'), create: false };
    }
    if (failed) {
      const completedAt = failed.lastTransitionTime;
      const why = failureOf(failed, territory);
      const status: RestoreStatus = {
        ...base,
        ...details(termination),
        phase: why.phase,
        ...(startedAt ? { startedAt } : {}),
        ...(completedAt ? { completedAt } : {}),
        ...(seconds(startedAt, completedAt) !== undefined
          ? { durationSeconds: seconds(startedAt, completedAt) }
          : {}),
        message: `${why.message}. ${logs} shows more; to run this request again, delete the Job`,
      };
      return { request, status, outcome: conditionOf(status, why.reason), create: false };
    }
    const running = (job.status?.active ?? 0) > 0 || startedAt !== undefined;
    const status: RestoreStatus = {
      ...base,
      phase: running ? 'Running' : 'Pending',
      ...(startedAt ? { startedAt } : {}),
      message: running
        ? `restoring; ${logs} follows it`
        : `the restore Job ${jobName} is waiting for its Pod to start`,
    };
    return { request, status, outcome: conditionOf(status, 'RestoreRunning'), create: false };
  }

  // No Job for this request (never created, or deleted: after a failure, that asks for another run).
  if (!input.prerequisites.met) {
    const status: RestoreStatus = {
      ...base,
      phase: 'Pending',
      message: `waiting: ${input.prerequisites.why}`,
    };
    return { request, status, outcome: conditionOf(status, 'RestorePending'), create: false };
  }
  const status: RestoreStatus = {
    ...base,
    phase: 'Pending',
    message: `the restore Job ${jobName} is being created`,
  };
  return { request, status, outcome: conditionOf(status, 'RestorePending'), create: true };
}

/**
 * Whether the reconciler should read the Job's Pod for its termination message: the Job has ended and
 * status does not record that end yet. Once recorded, it is never read again.
 */
export function terminationWanted(
  spec: RestoreSpec | undefined,
  previous: RestoreStatus | undefined,
  job: RestoreJob | undefined,
): boolean {
  if (!spec || !job) return false;
  const ended = (job.status?.conditions ?? []).some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  if (!ended) return false;
  const same = previous?.request === restoreRequestId(spec) ? previous : undefined;
  return !(same?.completedAt !== undefined && same.phase !== 'Pending' && same.phase !== 'Running');
}

/** An Event for a phase this request has just reached, or undefined. */
export function restoreEvent(
  previous: RestoreStatus | undefined,
  next: RestoreStatus | undefined,
): { type: 'Normal' | 'Warning'; reason: string; message: string } | undefined {
  if (!next) return undefined;
  if (previous?.request === next.request && previous.phase === next.phase) return undefined;
  const what = `restore ${next.job ?? next.request}`;
  switch (next.phase) {
    case 'Running':
      return { type: 'Normal', reason: 'RestoreStarted', message: `${what}: ${next.message ?? 'running'}` };
    case 'Succeeded':
      return {
        type: 'Normal',
        reason: 'RestoreSucceeded',
        message: `${what}: ${next.message ?? 'succeeded'}`,
      };
    case 'Failed':
      return { type: 'Warning', reason: 'RestoreFailed', message: `${what}: ${next.message ?? 'failed'}` };
    case 'Refused':
      return { type: 'Warning', reason: 'RestoreRefused', message: `${what}: ${next.message ?? 'refused'}` };
    default:
      return undefined;
  }
}
