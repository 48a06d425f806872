// DatabaseReady for a database in a pool (the Shared tier): what CloudNativePG says of the Territory's
// Database and DatabaseRole objects (status.applied, status.message), and of the pool itself. Pure.
import type { KubeObject } from '../runtime/types.ts';
import type { PartOutcome } from './conditions.ts';

type Obj = KubeObject | undefined;

interface AppliedStatus {
  applied?: boolean;
  message?: string;
  observedGeneration?: number;
}

/** Whether CloudNativePG applied this very version of the object, and what it said if not. */
function appliedState(object: Obj): { applied: boolean; message?: string } {
  const s = (object?.status ?? {}) as AppliedStatus;
  const current = s.observedGeneration === undefined || s.observedGeneration === object?.metadata.generation;
  return { applied: s.applied === true && current, ...(s.message ? { message: s.message } : {}) };
}

const NOT_CREATED = 'not created yet';

export function sharedDatabaseOutcome(opts: {
  pool: string;
  poolReady: boolean;
  /** The Territory's Database object in the pool's namespace, as cached. */
  database: Obj;
  /** Its DatabaseRole objects there, as cached (those not created yet are absent). */
  roles: readonly { name: string; object: Obj }[];
  /** Territory Secrets its roles' passwords wait for (pool-credentials.ts). */
  waitingFor: readonly string[];
}): PartOutcome {
  const base = { type: 'DatabaseReady' as const };
  const waiting = (reason: string, message: string): PartOutcome => ({
    ...base,
    status: 'False',
    reason,
    message,
    progressing: true,
  });
  if (opts.waitingFor.length > 0) {
    return waiting('CredentialsPending', `the roles wait for Secrets ${opts.waitingFor.join(', ')}`);
  }
  const failing = [
    ...opts.roles.map((r) => ({ what: `role ${r.name}`, object: r.object })),
    { what: 'the database', object: opts.database },
  ].flatMap(({ what, object }) => {
    if (!object) return [{ what, message: NOT_CREATED }];
    const state = appliedState(object);
    return state.applied ? [] : [{ what, message: state.message ?? 'not applied by CloudNativePG yet' }];
  });
  const missing = failing.filter((f) => f.message === NOT_CREATED);
  if (missing.length > 0) {
    return waiting(
      'DatabaseCreating',
      `pool ${opts.pool}: creating ${missing.map((f) => f.what).join(', ')}`,
    );
  }
  if (failing.length > 0) {
    // A message from CloudNativePG is a refusal by PostgreSQL (a name taken, a role missing), which a
    // retry may or may not fix: it is shown as it is, and the part stays progressing.
    const detail = failing
      .slice(0, 3)
      .map((f) => `${f.what}: ${f.message}`)
      .join('; ');
    return waiting(
      opts.poolReady ? 'DatabaseProvisioning' : 'PoolNotReady',
      `pool ${opts.pool}${opts.poolReady ? '' : ' (not ready)'}: ${detail}${failing.length > 3 ? `; and ${failing.length - 3} more` : ''}`,
    );
  }
  if (!opts.poolReady) {
    return {
      ...base,
      status: 'False',
      reason: 'PoolNotReady',
      message: `the database exists in pool ${opts.pool}, which is not ready (see the DatabasePool's conditions)`,
      progressing: true,
    };
  }
  return {
    ...base,
    status: 'True',
    reason: 'Healthy',
    message: `database and ${opts.roles.length} roles in pool ${opts.pool}`,
  };
}

interface JobStatus {
  conditions?: { type: string; status: string; message?: string }[];
}

/**
 * DatabaseReady while the database-access Job (builders/database-access.ts) runs or once it ended: the
 * database is not ready for the Territory until only its own roles may connect to it.
 */
export function databaseAccessOutcome(job: Obj, jobName: string): PartOutcome {
  const conditions = (job?.status as JobStatus | undefined)?.conditions ?? [];
  const isTrue = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  if (isTrue('Complete')) {
    return {
      type: 'DatabaseReady',
      status: 'True',
      reason: 'Healthy',
      message: "the database accepts the Territory's own roles only",
    };
  }
  const failed = isTrue('Failed');
  if (failed) {
    return {
      type: 'DatabaseReady',
      status: 'False',
      reason: 'DatabaseAccessFailed',
      message: `Job ${jobName} could not restrict who may connect to the database${failed.message ? `: ${failed.message}` : ''}; see its Pods' logs, then delete the Job to run it again`,
    };
  }
  return {
    type: 'DatabaseReady',
    status: 'False',
    reason: 'RestrictingAccess',
    message: `Job ${jobName} restricts who may connect to the database to the Territory's own roles`,
    progressing: true,
  };
}
