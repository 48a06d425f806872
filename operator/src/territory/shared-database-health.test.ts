import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../runtime/types.ts';
import { databaseAccessOutcome, sharedDatabaseOutcome } from './shared-database-health.ts';

const applied = (generation = 1, status: Record<string, unknown> = { applied: true }): KubeObject =>
  ({
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'DatabaseRole',
    metadata: { name: 'x', generation },
    status: { observedGeneration: generation, ...status },
  }) as KubeObject;

const base = {
  pool: 'pool-35',
  poolReady: true,
  database: applied(),
  roles: [
    { name: 't_acigne', object: applied() },
    { name: 't_acigne__owner', object: applied() },
  ],
  waitingFor: [] as string[],
};

describe('sharedDatabaseOutcome', () => {
  it('is Healthy once CloudNativePG applied this version of the database and of every role, in a ready pool', () => {
    expect(sharedDatabaseOutcome(base)).toMatchObject({ status: 'True', reason: 'Healthy' });
  });

  it('waits for the credentials, then for the objects to be created, then for CloudNativePG', () => {
    expect(sharedDatabaseOutcome({ ...base, waitingFor: ['db-owner'] })).toMatchObject({
      reason: 'CredentialsPending',
      progressing: true,
    });
    const creating = sharedDatabaseOutcome({ ...base, database: undefined });
    expect(creating).toMatchObject({ status: 'False', reason: 'DatabaseCreating', progressing: true });
    expect(creating.message).toContain('the database');
    const refused = sharedDatabaseOutcome({
      ...base,
      roles: [
        { name: 't_acigne', object: applied(1, { applied: false, message: 'role "t_x" does not exist' }) },
      ],
    });
    expect(refused).toMatchObject({ reason: 'DatabaseProvisioning', progressing: true });
    expect(refused.message).toContain('role t_acigne: role "t_x" does not exist');
  });

  it('does not count an older version as applied', () => {
    const stale = { ...applied(2), status: { applied: true, observedGeneration: 1 } };
    expect(sharedDatabaseOutcome({ ...base, database: stale })).toMatchObject({
      reason: 'DatabaseProvisioning',
    });
  });

  it('says when the pool is not ready, even with everything applied', () => {
    expect(sharedDatabaseOutcome({ ...base, poolReady: false })).toMatchObject({
      status: 'False',
      reason: 'PoolNotReady',
    });
  });
});

describe('databaseAccessOutcome', () => {
  const job = (type?: string, message?: string) =>
    ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'database-access-1' },
      status: type ? { conditions: [{ type, status: 'True', ...(message ? { message } : {}) }] } : {},
    }) as KubeObject;

  it('is Healthy once the Job completed, failed with its message, and restricting meanwhile', () => {
    expect(databaseAccessOutcome(job('Complete'), 'database-access-1')).toMatchObject({ status: 'True' });
    const failed = databaseAccessOutcome(job('Failed', 'BackoffLimitExceeded'), 'database-access-1');
    expect(failed).toMatchObject({ status: 'False', reason: 'DatabaseAccessFailed' });
    expect(failed.message).toContain('BackoffLimitExceeded');
    expect(databaseAccessOutcome(undefined, 'database-access-1')).toMatchObject({
      reason: 'RestrictingAccess',
      progressing: true,
    });
  });
});
