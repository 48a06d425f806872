import { describe, expect, it } from 'vitest';
import { type RestoreSpec, restoreRequestId } from '../api/territory.ts';
import {
  decideRestore,
  parseTermination,
  type RestoreInput,
  type RestoreJob,
  restoreEvent,
  terminationWanted,
} from './restore.ts';

const spec: RestoreSpec = { from: 'LogicalBackup' };
const request = restoreRequestId(spec);
const job = `restore-${request}`;
const T1 = '2026-11-02T10:00:00Z';
const T2 = '2026-11-02T10:03:20Z';

const input = (over: Partial<RestoreInput> = {}): RestoreInput => ({
  territory: 'rennes',
  namespace: 'rennes',
  spec,
  previous: undefined,
  job: undefined,
  termination: undefined,
  prerequisites: { met: true },
  ...over,
});

const failedJob = (message: string, reason = 'PodFailurePolicy'): RestoreJob => ({
  metadata: { name: job },
  status: {
    startTime: T1,
    conditions: [{ type: 'Failed', status: 'True', reason, message, lastTransitionTime: T2 }],
  },
});
const completeJob: RestoreJob = {
  metadata: { name: job },
  status: {
    startTime: T1,
    completionTime: T2,
    conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: T2 }],
  },
};
const exit = (code: number) =>
  `Container restore for pod rennes/${job}-x failed with exit code ${code} matching FailJob rule at index 1`;

describe('decideRestore', () => {
  it('does nothing without spec.restore, keeping the last record as history', () => {
    const previous = { request: 'old', phase: 'Succeeded' as const, message: 'restored' };
    expect(decideRestore(input({ spec: undefined, previous }))).toEqual({
      status: previous,
      outcome: undefined,
      create: false,
    });
  });

  it('never creates a restore Job for a point-in-time recovery, which is not a logical restore', () => {
    const previous = { request: 'old', phase: 'Succeeded' as const, message: 'restored' };
    const recovery: RestoreSpec = {
      from: 'PointInTime',
      targetTime: '2026-11-01T03:00:00Z',
      replaceExistingData: 'rennes',
    };
    expect(decideRestore(input({ spec: recovery, previous }))).toEqual({
      status: previous,
      outcome: undefined,
      create: false,
    });
  });

  it('waits for the database before creating the Job, and says so', () => {
    const d = decideRestore(input({ prerequisites: { met: false, why: 'the database is not ready' } }));
    expect(d.create).toBe(false);
    expect(d.status).toMatchObject({
      request,
      job,
      phase: 'Pending',
      message: 'waiting: the database is not ready',
    });
    expect(d.outcome).toMatchObject({
      type: 'Restored',
      status: 'False',
      reason: 'RestorePending',
      progressing: true,
    });
  });

  it('creates the Job once the database is ready', () => {
    const d = decideRestore(input());
    expect(d.create).toBe(true);
    expect(d.status?.phase).toBe('Pending');
  });

  it('reports a Job whose Pod has not started as Pending, then Running', () => {
    const pending = decideRestore(input({ job: { metadata: { name: job }, status: {} } }));
    expect(pending).toMatchObject({ create: false, status: { phase: 'Pending' } });
    const running = decideRestore(
      input({ job: { metadata: { name: job }, status: { startTime: T1, active: 1 } } }),
    );
    expect(running).toMatchObject({
      create: false,
      status: { phase: 'Running', startedAt: T1 },
      outcome: { status: 'False', reason: 'RestoreRunning', progressing: true },
    });
  });

  it('reports success with what the container said: backup, tables, rows, duration', () => {
    const d = decideRestore(
      input({
        job: completeJob,
        termination: {
          result: 'restored',
          backup: '20261101T020000.000Z.pgdump.enc',
          tables: 12,
          rows: 3400,
          replaced: false,
        },
      }),
    );
    expect(d.status).toEqual({
      request,
      job,
      phase: 'Succeeded',
      backup: '20261101T020000.000Z.pgdump.enc',
      tables: 12,
      rows: 3400,
      replacedExistingData: false,
      startedAt: T1,
      completedAt: T2,
      durationSeconds: 200,
      message:
        'restored 20261101T020000.000Z.pgdump.enc: 12 table(s), 3400 row(s), every table matching what the backup recorded',
    });
    expect(d.outcome).toMatchObject({ status: 'True', reason: 'RestoreSucceeded' });
  });

  it('reads a request the database had served already as Succeeded, saying nothing was changed', () => {
    const d = decideRestore(
      input({
        job: completeJob,
        termination: { result: 'already-restored', backup: 'b.pgdump.enc', source: 'rennes' },
      }),
    );
    expect(d.create).toBe(false);
    expect(d.status).toMatchObject({ phase: 'Succeeded', backup: 'b.pgdump.enc', completedAt: T2 });
    expect(d.status?.message).toMatch(/served already.*nothing was changed.*spec\.restore\.backup/);
    expect(d.status).not.toHaveProperty('rows');
    expect(d.outcome).toMatchObject({ type: 'Restored', status: 'True', reason: 'RestoreSucceeded' });
  });

  it('never runs a request that Succeeded again, even when its Job is gone', () => {
    const done = decideRestore(
      input({ job: completeJob, termination: { result: 'restored', tables: 1, rows: 1 } }),
    );
    const later = decideRestore(input({ previous: done.status, job: undefined }));
    expect(later.create).toBe(false);
    expect(later.status).toEqual(done.status);
    expect(later.outcome).toMatchObject({ status: 'True', reason: 'RestoreSucceeded' });
  });

  it('keeps the recorded end once the termination message was read, without reading it again', () => {
    const first = decideRestore(
      input({ job: failedJob(exit(7)), termination: { result: 'refused', backup: 'b' } }),
    );
    expect(terminationWanted(spec, first.status, failedJob(exit(7)))).toBe(false);
    expect(terminationWanted(spec, undefined, failedJob(exit(7)))).toBe(true);
    const again = decideRestore(input({ previous: first.status, job: failedJob(exit(7)) }));
    expect(again.status).toEqual(first.status);
    expect(again.outcome?.reason).toBe('DatabaseNotEmpty');
  });

  it('refuses a database holding data (exit 7), saying how to confirm', () => {
    const d = decideRestore(input({ job: failedJob(exit(7)) }));
    expect(d.status?.phase).toBe('Refused');
    expect(d.outcome).toMatchObject({ status: 'False', reason: 'DatabaseNotEmpty', progressing: false });
    expect(d.status?.message).toContain('set spec.restore.replaceExistingData to "rennes"');
    expect(d.status?.message).toContain('nothing was changed');
  });

  it.each([
    [4, 'RestoredDataDiffers', 'committed'],
    [5, 'BackupDoesNotRestore', 'nothing was changed'],
    [6, 'NoBackupToRestore', 'nothing was changed'],
    [2, 'RestoreMisconfigured', 'misconfigured'],
    [1, 'RestoreFailed', 'rolled back'],
  ])('reads exit %i as %s', (code, reason, says) => {
    const d = decideRestore(input({ job: failedJob(exit(code)) }));
    expect(d.status?.phase).toBe('Failed');
    expect(d.outcome).toMatchObject({ reason, progressing: false });
    expect(d.status?.message).toContain(says);
    expect(d.status?.message).toContain(`kubectl -n rennes logs job/${job}`);
  });

  it('reads a deadline as a failure that changed nothing', () => {
    const d = decideRestore(
      input({ job: failedJob('Job was active longer than specified deadline', 'DeadlineExceeded') }),
    );
    expect(d.outcome?.reason).toBe('RestoreDeadlineExceeded');
  });

  it('runs a failed request again once its Job is deleted, and a changed request at once', () => {
    const failed = decideRestore(input({ job: failedJob(exit(5)) })).status;
    expect(decideRestore(input({ previous: failed, job: undefined })).create).toBe(true);
    const changed = { ...spec, replaceExistingData: 'rennes' };
    const next = decideRestore(input({ spec: changed, previous: failed }));
    expect(next.create).toBe(true);
    expect(next.request).toBe(restoreRequestId(changed));
    expect(next.request).not.toBe(request);
  });
});

describe('parseTermination', () => {
  it('keeps what it knows, bounded, and ignores anything else', () => {
    expect(
      parseTermination('{"result":"restored","tables":3,"rows":10,"replaced":true,"extra":"x"}'),
    ).toEqual({
      result: 'restored',
      tables: 3,
      rows: 10,
      replaced: true,
    });
    expect(parseTermination(`{"tables":-1,"backup":{"a":1},"source":"${'x'.repeat(100)}"}`)).toEqual({});
    expect(parseTermination('not json')).toBeUndefined();
    expect(parseTermination(undefined)).toBeUndefined();
  });
});

describe('restoreEvent', () => {
  it('says each phase reached, once', () => {
    const running = { request, job, phase: 'Running' as const, message: 'restoring' };
    expect(restoreEvent(undefined, running)).toMatchObject({ type: 'Normal', reason: 'RestoreStarted' });
    expect(restoreEvent(running, running)).toBeUndefined();
    expect(restoreEvent(running, { ...running, phase: 'Refused' })).toMatchObject({
      type: 'Warning',
      reason: 'RestoreRefused',
    });
    expect(restoreEvent(running, { ...running, phase: 'Failed' })).toMatchObject({
      type: 'Warning',
      reason: 'RestoreFailed',
    });
    expect(restoreEvent(running, { ...running, phase: 'Succeeded' })).toMatchObject({
      reason: 'RestoreSucceeded',
    });
    expect(restoreEvent(running, { ...running, phase: 'Pending' })).toBeUndefined();
  });
});
