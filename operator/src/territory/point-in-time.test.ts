import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RestoreSpec, restoreRequestId, TerritoryStatusSchema } from '../api/territory.ts';
import type { DatabaseBootstrap } from '../builders/context.ts';
import {
  decidePointInTime,
  type PointInTimeCluster,
  type PointInTimeDecision,
  type PointInTimeInput,
  RECOVERY_DEADLINE_SECONDS,
  recoverySourceServer,
} from './point-in-time.ts';
import type { RestoreStatus } from './restore.ts';

const T = '2026-11-01T03:00:00Z';
const NOW = new Date('2026-11-02T10:00:00Z');
const spec: RestoreSpec = { from: 'PointInTime', targetTime: T };
const confirmed: RestoreSpec = { ...spec, replaceExistingData: 'rennes' };
const request = restoreRequestId(spec);
const confirmedRequest = restoreRequestId(confirmed);
const WINDOW = { first: '2026-10-01T02:00:00Z', last: '2026-11-02T02:00:00Z' };
const EARLIER: DatabaseBootstrap = {
  request: 'abcdef0123',
  targetTime: '2026-10-15T12:00:00Z',
  sourceServer: 'db',
};

const input = (over: Partial<PointInTimeInput> = {}): PointInTimeInput => ({
  territory: 'rennes',
  namespace: 'rennes',
  spec,
  previous: undefined,
  cluster: undefined,
  physicalOn: true,
  recoveryWindow: WINDOW,
  now: NOW,
  ...over,
});
const cluster = (over: Partial<PointInTimeCluster> = {}): PointInTimeCluster => ({
  deleting: false,
  ready: true,
  phase: 'Cluster in healthy state',
  createdAt: '2026-01-01T00:00:00Z',
  ...over,
});
const ours = (req: string, sourceServer = 'db'): DatabaseBootstrap => ({
  request: req,
  targetTime: T,
  sourceServer,
});
const running = (req: string, startedAt: string, sourceServer = 'db'): RestoreStatus => ({
  request: req,
  phase: 'Running',
  targetTime: T,
  sourceServer,
  startedAt,
  message: 'recovering',
});
const hoursBefore = (h: number) => new Date(NOW.getTime() - h * 3600_000).toISOString();

describe('decidePointInTime: refusals, before anything is changed', () => {
  it('refuses while physical backups are off, keeping the live Cluster as it was made', () => {
    const d = decidePointInTime(input({ physicalOn: false, cluster: cluster({ bootstrap: EARLIER }) }));
    expect(d).toMatchObject({ action: 'none', bootstrap: EARLIER, status: { request, phase: 'Refused' } });
    expect(d.outcome).toMatchObject({
      type: 'Restored',
      status: 'False',
      reason: 'PhysicalBackupsOff',
      progressing: false,
    });
    expect(d.status.message).toContain('nothing was changed');
  });

  it('refuses a target time in the future', () => {
    const d = decidePointInTime(input({ spec: { ...spec, targetTime: '2026-11-02T10:00:01Z' } }));
    expect(d.action).toBe('none');
    expect(d.outcome.reason).toBe('TargetTimeInFuture');
    expect(d.status.phase).toBe('Refused');
  });

  it('refuses a target time before the first point the ObjectStore says can be recovered, naming it', () => {
    const d = decidePointInTime(
      input({ recoveryWindow: { first: '2026-11-01T03:00:01Z' }, cluster: cluster() }),
    );
    expect(d.action).toBe('none');
    expect(d.outcome.reason).toBe('BeforeFirstRecoveryPoint');
    expect(d.status.message).toContain('2026-11-01T03:00:01Z');
    expect(d.status.message).toContain('server db');
  });

  it('refuses to replace an existing Cluster without the confirmation, saying how to give it', () => {
    for (const live of [cluster(), cluster({ bootstrap: EARLIER }), cluster({ ready: false })]) {
      const d = decidePointInTime(input({ cluster: live }));
      expect(d.action).toBe('none');
      expect(d.outcome.reason).toBe('DatabaseNotEmpty');
      expect(d.status).toMatchObject({
        phase: 'Refused',
        sourceServer: live.bootstrap ? 'db-abcdef0123' : 'db',
      });
      expect(d.status.message).toContain('re-creates the whole database');
      expect(d.status.message).toContain('spec.restore.replaceExistingData to "rennes"');
      expect(d.status.message).toContain(
        `territoryctl restore rennes --to-time ${T} --replace-existing-data`,
      );
    }
  });

  it('waits for the recovery window before replacing an existing Cluster, but not to create an absent one', () => {
    for (const recoveryWindow of [undefined, { last: '2026-11-02T02:00:00Z' }]) {
      const replace = decidePointInTime(input({ spec: confirmed, cluster: cluster(), recoveryWindow }));
      expect(replace.action).toBe('none');
      expect(replace.outcome).toMatchObject({ reason: 'WaitingForRecoveryWindow', progressing: true });
      expect(replace.status.phase).toBe('Pending');
      expect(replace.status.message).toContain(
        'the ObjectStore does not say yet which times can be recovered',
      );
      const fresh = decidePointInTime(input({ recoveryWindow }));
      expect(fresh.action).toBe('create-cluster');
    }
  });
});

describe('decidePointInTime: replacing the database', () => {
  it('deletes the live Cluster once confirmed, recording the folder it will recover from', () => {
    const d = decidePointInTime(input({ spec: confirmed, cluster: cluster() }));
    expect(d.action).toBe('delete-cluster');
    expect(d.bootstrap).toBeUndefined(); // the live initdb Cluster is built as it was until it is gone
    expect(d.status).toEqual({
      request: confirmedRequest,
      targetTime: T,
      sourceServer: 'db',
      phase: 'Running',
      startedAt: NOW.toISOString(),
      replacedExistingData: true,
      message: `replacing the database: deleting its Cluster, then recovering to ${T}`,
    });
    expect(d.outcome).toMatchObject({ reason: 'RestoreRunning', progressing: true });
  });

  it('recovers from the folder of a Cluster that was itself recovered', () => {
    const d = decidePointInTime(input({ spec: confirmed, cluster: cluster({ bootstrap: EARLIER }) }));
    expect(d).toMatchObject({ action: 'delete-cluster', bootstrap: EARLIER });
    expect(d.status.sourceServer).toBe('db-abcdef0123');
  });

  it('waits while the Cluster is being deleted, then creates it recovered from the recorded folder', () => {
    const deleting = decidePointInTime(
      input({
        spec: confirmed,
        previous: running(confirmedRequest, hoursBefore(1), 'db-abcdef0123'),
        cluster: cluster({ bootstrap: EARLIER, deleting: true }),
      }),
    );
    expect(deleting.action).toBe('none');
    expect(deleting.status).toMatchObject({ phase: 'Running', startedAt: hoursBefore(1) });
    expect(deleting.status.message).toContain('waiting for the Cluster db to be deleted');
    const gone = decidePointInTime(
      input({
        spec: confirmed,
        previous: { ...deleting.status, replacedExistingData: true },
        // The window of the source may be unknown by now: the request has started, it goes on.
        recoveryWindow: undefined,
      }),
    );
    expect(gone.action).toBe('create-cluster');
    expect(gone.bootstrap).toEqual({
      request: confirmedRequest,
      targetTime: T,
      sourceServer: 'db-abcdef0123',
    });
    expect(gone.status).toMatchObject({
      phase: 'Running',
      startedAt: hoursBefore(1),
      replacedExistingData: true,
    });
  });

  it('creates the Cluster of a new Territory recovered from db, with no confirmation needed', () => {
    const d = decidePointInTime(input());
    expect(d).toMatchObject({
      action: 'create-cluster',
      bootstrap: { request, targetTime: T, sourceServer: 'db' },
      status: { request, phase: 'Running', sourceServer: 'db', startedAt: NOW.toISOString() },
    });
    expect(d.status.replacedExistingData).toBeUndefined();
  });

  it('does not refuse once it has deleted the Cluster: only the recovery brings the database back', () => {
    const previous = running(confirmedRequest, hoursBefore(1));
    const late = decidePointInTime(
      input({ spec: confirmed, previous, recoveryWindow: { first: '2026-11-01T04:00:00Z' } }),
    );
    expect(late.action).toBe('create-cluster');
    const off = decidePointInTime(input({ spec: confirmed, previous, physicalOn: false }));
    expect(off).toMatchObject({ action: 'none', status: { phase: 'Pending', startedAt: hoursBefore(1) } });
    expect(off.bootstrap).toBeUndefined();
    expect(off.outcome).toMatchObject({ reason: 'PhysicalBackupsOff', progressing: true });
  });
});

describe("decidePointInTime: the request's own Cluster", () => {
  it('reports it recovering, then recovered, and never deletes it', () => {
    const previous = running(request, hoursBefore(2));
    const recovering = decidePointInTime(
      input({
        previous,
        cluster: cluster({ bootstrap: ours(request), ready: false, phase: 'Setting up primary' }),
      }),
    );
    expect(recovering).toMatchObject({ action: 'none', bootstrap: ours(request) });
    expect(recovering.status).toMatchObject({ phase: 'Running', startedAt: hoursBefore(2) });
    expect(recovering.status.message).toBe(
      `recovering to ${T} from the physical backups of server db; kubectl -n rennes get cluster db shows it`,
    );
    const done = decidePointInTime(input({ previous, cluster: cluster({ bootstrap: ours(request) }) }));
    expect(done.action).toBe('none');
    expect(done.status).toMatchObject({
      phase: 'Succeeded',
      startedAt: hoursBefore(2),
      completedAt: NOW.toISOString(),
      durationSeconds: 7200,
    });
    expect(done.status.message).toContain('archived under db-');
    expect(done.outcome).toMatchObject({ status: 'True', reason: 'RestoreSucceeded' });
  });

  it('is recognised by its annotation even when status was lost, timed from its creation', () => {
    const d = decidePointInTime(
      input({ cluster: cluster({ bootstrap: ours(request), ready: false, createdAt: hoursBefore(1) }) }),
    );
    expect(d.status).toMatchObject({ phase: 'Running', startedAt: hoursBefore(1) });
  });

  it('is reported Failed 6 h after the start, and run again when a person deletes it', () => {
    const previous = running(request, hoursBefore(RECOVERY_DEADLINE_SECONDS / 3600 + 0.1));
    const stuck = cluster({ bootstrap: ours(request), ready: false, phase: 'Setting up primary' });
    const failed = decidePointInTime(input({ previous, cluster: stuck }));
    expect(failed.action).toBe('none');
    expect(failed.status).toMatchObject({ phase: 'Failed', completedAt: NOW.toISOString() });
    expect(failed.outcome).toMatchObject({ reason: 'RecoveryDeadlineExceeded', progressing: false });
    expect(failed.status.message).toContain('kubectl -n rennes get cluster db');
    expect(failed.status.message).toContain('kubectl -n rennes logs job/db-1-full-recovery');
    // Failed stays Failed (its end kept) while the Cluster stays as it is.
    const later = new Date(NOW.getTime() + 60_000);
    const again = decidePointInTime(input({ previous: failed.status, cluster: stuck, now: later }));
    expect(again.status).toEqual(failed.status);
    // Deleted by a person: a new start, not an immediate second failure.
    const deleting = decidePointInTime(
      input({ previous: failed.status, cluster: { ...stuck, deleting: true }, now: later }),
    );
    expect(deleting.status).toMatchObject({ phase: 'Running', startedAt: later.toISOString() });
    const recreated = decidePointInTime(input({ previous: deleting.status, now: later }));
    expect(recreated).toMatchObject({ action: 'create-cluster', status: { startedAt: later.toISOString() } });
  });
});

describe('decidePointInTime: done once, done for good', () => {
  it('keeps a request that Succeeded, whatever changed since, building the Cluster as it was made', () => {
    const succeeded: RestoreStatus = {
      request,
      phase: 'Succeeded',
      targetTime: T,
      sourceServer: 'db',
      completedAt: hoursBefore(1),
      message: 'recovered',
    };
    for (const over of [
      { physicalOn: false },
      { recoveryWindow: { first: '2026-11-02T00:00:00Z' } },
      { cluster: cluster({ bootstrap: ours(request), ready: false }) },
    ]) {
      const d = decidePointInTime(
        input({ previous: succeeded, cluster: cluster({ bootstrap: ours(request) }), ...over }),
      );
      expect(d.status).toBe(succeeded);
      expect(d.action).toBe('none');
      expect(d.outcome).toMatchObject({ status: 'True', reason: 'RestoreSucceeded' });
      expect(d.bootstrap).toEqual(ours(request));
    }
  });
});

describe('decidePointInTime: a whole replacement, step by step', () => {
  it('deletes, waits, creates, recovers: the bootstrap created is the one the Cluster then carries', () => {
    let previous: RestoreStatus | undefined;
    const step = (c: PointInTimeCluster | undefined, now = NOW): PointInTimeDecision => {
      const d = decidePointInTime(input({ spec: confirmed, previous, cluster: c, now }));
      previous = d.status;
      return d;
    };
    expect(step(cluster()).action).toBe('delete-cluster');
    expect(step(cluster({ deleting: true })).action).toBe('none');
    const created = step(undefined);
    expect(created.action).toBe('create-cluster');
    const annotation = created.bootstrap as DatabaseBootstrap;
    expect(step(cluster({ bootstrap: annotation, ready: false })).status.phase).toBe('Running');
    const done = step(cluster({ bootstrap: annotation }), new Date(NOW.getTime() + 600_000));
    expect(done.status).toMatchObject({
      phase: 'Succeeded',
      durationSeconds: 600,
      replacedExistingData: true,
    });
    expect(step(cluster({ bootstrap: annotation })).status).toBe(done.status);
  });
});

describe('recoverySourceServer', () => {
  it("names the folder whose window decides: the live Cluster's, then the one recorded, else db", () => {
    expect(recoverySourceServer({ spec, previous: undefined, cluster: undefined })).toBe('db');
    expect(
      recoverySourceServer({ spec, previous: undefined, cluster: cluster({ bootstrap: EARLIER }) }),
    ).toBe('db-abcdef0123');
    expect(
      recoverySourceServer({
        spec,
        previous: undefined,
        cluster: cluster({ bootstrap: ours(request, 'db-x1') }),
      }),
    ).toBe('db-x1');
    expect(
      recoverySourceServer({
        spec,
        previous: running(request, hoursBefore(1), 'db-abcdef0123'),
        cluster: undefined,
      }),
    ).toBe('db-abcdef0123');
  });
});

describe('decidePointInTime on generated situations (property)', () => {
  const bootstrapArb = fc.oneof(
    fc.constant(undefined),
    fc.constant(EARLIER),
    fc.constantFrom(request, confirmedRequest).map((r) => ours(r)),
  );
  const clusterArb = fc.option(
    fc.record({
      bootstrap: bootstrapArb,
      deleting: fc.boolean(),
      ready: fc.boolean(),
      phase: fc.constantFrom('Cluster in healthy state', 'Setting up primary'),
      createdAt: fc.constantFrom(hoursBefore(10), hoursBefore(1)),
    }),
    { nil: undefined },
  );
  const previousArb = fc.option(
    fc.record(
      {
        request: fc.constantFrom(request, confirmedRequest, 'abcdef0123'),
        phase: fc.constantFrom('Pending', 'Running', 'Succeeded', 'Failed', 'Refused' as const),
        targetTime: fc.constant(T),
        sourceServer: fc.constantFrom('db', 'db-abcdef0123'),
        startedAt: fc.constantFrom(hoursBefore(10), hoursBefore(1)),
        completedAt: fc.constant(hoursBefore(0.5)),
        replacedExistingData: fc.boolean(),
        message: fc.constant('earlier'),
      },
      { requiredKeys: ['request', 'phase'] },
    ),
    { nil: undefined },
  );
  const inputArb = fc
    .record({
      spec: fc.constantFrom(spec, confirmed, { ...spec, targetTime: '2026-11-03T00:00:00Z' }),
      previous: previousArb,
      cluster: clusterArb,
      physicalOn: fc.boolean(),
      recoveryWindow: fc.constantFrom(undefined, WINDOW, { first: '2026-11-01T04:00:00Z' }),
    })
    .map((over) => input(over as Partial<PointInTimeInput>));

  it('never deletes a Cluster without the confirmation, nor the Cluster it created itself', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const d = decidePointInTime(i);
        if (d.action !== 'delete-cluster') return;
        expect(i.spec.replaceExistingData).toBe('rennes');
        expect(i.cluster).toBeDefined();
        expect(i.cluster?.deleting).toBe(false);
        expect(i.cluster?.bootstrap?.request).not.toBe(d.request);
      }),
    );
  });

  it('creates only an absent Cluster, recovering from another folder than the one it will archive into', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const d = decidePointInTime(i);
        if (d.action !== 'create-cluster') return;
        expect(i.cluster).toBeUndefined();
        expect(d.bootstrap?.request).toBe(d.request);
        expect(d.bootstrap?.sourceServer).not.toBe(`db-${d.request}`);
      }),
    );
  });

  it('changes nothing when it refuses, and writes a status the API accepts', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const d = decidePointInTime(i);
        if (d.status.phase === 'Refused') expect(d.action).toBe('none');
        // The live Cluster is always built as it was made.
        if (i.cluster?.bootstrap && d.action !== 'create-cluster')
          expect(d.bootstrap).toEqual(i.cluster.bootstrap);
        const parsed = TerritoryStatusSchema.safeParse({ restore: d.status });
        expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
        expect(d.outcome.type).toBe('Restored');
      }),
    );
  });
});
