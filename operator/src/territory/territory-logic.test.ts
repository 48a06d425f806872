import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { context, territory } from '../builders/fixtures.test-helpers.ts';
import { ROTATED_AT } from '../builders/keys.ts';
import { parseKeyring } from '../keys/keyring.ts';
import type { KubeObject } from '../runtime/types.ts';
import { jobForCache } from './cache-shape.ts';
import { aggregateHealth, buildConditions, type PartOutcome, setCondition } from './conditions.ts';
import {
  backupOutcome,
  barmanCloudPluginMissing,
  databaseOutcome,
  logicalBackupHealth,
  physicalBackupHealth,
  restoreDrillHealth,
  withoutBackupEgress,
  withUnschedulablePods,
} from './health.ts';
import { ACCEPT_NEW_KEYRING, planCredentials, planKeyring, type SecretWrite } from './secrets.ts';

const ok = (type: PartOutcome['type']): PartOutcome => ({
  type,
  status: 'True',
  reason: 'Ok',
  message: 'ok',
});
const allOk = () =>
  (
    [
      'AuthorityVerified',
      'SovereigntyCompliant',
      'NamespaceReady',
      'KeysReady',
      'DatabaseReady',
      'BackupReady',
    ] as const
  ).map(ok);

describe('conditions', () => {
  it('keeps lastTransitionTime while the status does not change', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 't1', 1);
    const same = setCondition(first, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 't2', 2);
    expect(same[0]).toMatchObject({ lastTransitionTime: 't1', reason: 'B', observedGeneration: 2 });
    const flipped = setCondition(
      same,
      { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' },
      't3',
      2,
    );
    expect(flipped[0]?.lastTransitionTime).toBe('t3');
  });

  it('is Ready only when every part is, and then neither Reconciling nor Stalled', () => {
    const h = aggregateHealth(allOk());
    expect([h.ready.status, h.reconciling.status, h.stalled.status]).toEqual(['True', 'False', 'False']);
  });

  it('reads a progressing part as Reconciling and a blocked part as Stalled, naming the first failing part', () => {
    const starting = allOk().map((p) =>
      p.type === 'DatabaseReady'
        ? { ...p, status: 'False' as const, reason: 'DatabaseProvisioning', progressing: true }
        : p,
    );
    const h1 = aggregateHealth(starting);
    expect(h1.ready).toMatchObject({ status: 'False', reason: 'DatabaseProvisioning' });
    expect([h1.reconciling.status, h1.stalled.status]).toEqual(['True', 'False']);

    const blocked = starting.map((p) =>
      p.type === 'SovereigntyCompliant' ? { ...p, status: 'False' as const, reason: 'RegionNotEligible' } : p,
    );
    const h2 = aggregateHealth(blocked);
    expect(h2.ready.reason).toBe('RegionNotEligible');
    expect(h2.stalled).toMatchObject({ status: 'True', reason: 'RegionNotEligible' });
    expect(h2.reconciling.status).toBe('False');
  });

  it('orders conditions Ready first and drops parts no longer reported', () => {
    const full = buildConditions([], allOk(), 'now', 3);
    expect(full.map((c) => c.type)).toEqual([
      'Ready',
      'AuthorityVerified',
      'SovereigntyCompliant',
      'NamespaceReady',
      'KeysReady',
      'DatabaseReady',
      'BackupReady',
      'Reconciling',
      'Stalled',
    ]);
    const fewer = buildConditions(
      full,
      [{ ...ok('AuthorityVerified'), status: 'False', reason: 'UnknownAuthority' }],
      'later',
      4,
    );
    expect(fewer.map((c) => c.type)).toEqual(['Ready', 'AuthorityVerified', 'Reconciling', 'Stalled']);
  });
});

describe('database and backup health', () => {
  it('reports CloudNativePG’s real state', () => {
    expect(databaseOutcome(undefined, 2)).toMatchObject({
      status: 'False',
      reason: 'DatabaseCreating',
      progressing: true,
    });
    expect(databaseOutcome({ status: {} }, 2)).toMatchObject({ reason: 'WaitingForCloudNativePG' });
    expect(
      databaseOutcome({ status: { phase: 'Setting up primary', instances: 2, readyInstances: 0 } }, 2),
    ).toMatchObject({ reason: 'DatabaseProvisioning', progressing: true });
    expect(
      databaseOutcome({ status: { phase: 'Cluster in healthy state', instances: 2, readyInstances: 2 } }, 2),
    ).toMatchObject({ status: 'True', reason: 'Healthy' });
    expect(
      databaseOutcome({ status: { phase: 'Cluster in healthy state', readyInstances: 1 } }, 2).status,
    ).toBe('False');
    expect(databaseOutcome({ status: { phase: 'Failed to create PVC' } }, 2)).toMatchObject({
      reason: 'DatabaseUnhealthy',
      progressing: false,
    });
  });

  describe('a database Pod the scheduler cannot place', () => {
    const affinityMessage =
      "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. " +
      'preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.';
    const pod = (
      name: string,
      scheduled: { status: string; reason?: string; message?: string } | undefined,
      extra: object = {},
    ) => ({
      metadata: { name, namespace: 'rennes-metropole', ...extra },
      status: {
        phase: 'Pending',
        ...(scheduled ? { conditions: [{ type: 'PodScheduled', ...scheduled }] } : {}),
      },
    });
    const unschedulable = (name: string, message = affinityMessage) =>
      pod(name, { status: 'False', reason: 'Unschedulable', message });
    const provisioning = databaseOutcome(
      { status: { phase: 'Setting up primary', instances: 2, readyInstances: 0 } },
      2,
    );
    const regions = ['cloudgouv-eu-west-1'];

    it('reads a failover as on its way (Reconciling), a failure as stuck', () => {
      const failingOver = databaseOutcome(
        {
          status: { phase: 'Failing over', phaseReason: 'Failing over from db-1 to db-2', readyInstances: 1 },
        },
        2,
      );
      expect(failingOver).toMatchObject({ reason: 'DatabaseProvisioning', progressing: true });
      expect(failingOver.message).toContain('Failing over from db-1 to db-2');
      expect(databaseOutcome({ status: { phase: 'Failed to create PVC' } }, 2)).toMatchObject({
        reason: 'DatabaseUnhealthy',
        progressing: false,
      });
    });

    it('leaves a healthy database alone, whatever its Pods say', () => {
      const healthy = databaseOutcome(
        { status: { phase: 'Cluster in healthy state', instances: 2, readyInstances: 2 } },
        2,
      );
      expect(withUnschedulablePods(healthy, [unschedulable('db-3')], regions)).toBe(healthy);
    });

    it('names the Pod, quotes the scheduler and says which regions to compare, as Stalled', () => {
      const outcome = withUnschedulablePods(provisioning, [unschedulable('db-1-initdb-x7k2p')], regions);
      expect(outcome).toMatchObject({
        type: 'DatabaseReady',
        status: 'False',
        reason: 'DatabaseUnschedulable',
        progressing: false,
      });
      expect(outcome.message).toContain('Pod rennes-metropole/db-1-initdb-x7k2p cannot be scheduled');
      expect(outcome.message).toContain(`"${affinityMessage}"`);
      expect(outcome.message).toContain('spec.hosting.regions');
      expect(outcome.message).toContain('topology.kubernetes.io/region');
      expect(outcome.message).toContain('cloudgouv-eu-west-1');
      expect(outcome.message).not.toContain('capacity'); // an affinity mismatch is the region question
      expect(outcome.message).toContain(provisioning.message); // CloudNativePG's phase is kept
      const parts = allOk().map((p) => (p.type === 'DatabaseReady' ? outcome : p));
      const health = aggregateHealth(parts);
      expect(health.ready).toMatchObject({ status: 'False', reason: 'DatabaseUnschedulable' });
      expect([health.reconciling.status, health.stalled.status]).toEqual(['False', 'True']);
      expect(health.stalled.reason).toBe('DatabaseUnschedulable');
    });

    it('stays DatabaseProvisioning while the Pods are scheduled, pending their turn, gated or going away', () => {
      const pods = [
        pod('db-1', { status: 'True' }),
        pod('db-2', undefined),
        pod('db-3', { status: 'False', reason: 'SchedulingGated', message: 'waiting for gates' }),
        pod(
          'db-4',
          { status: 'False', reason: 'Unschedulable', message: affinityMessage },
          { deletionTimestamp: '2026-01-01T00:00:00Z' },
        ),
      ];
      // The moment between CloudNativePG creating an instance's Pod and its claim reaching the scheduler.
      pods.push(unschedulable('db-5', '0/1 nodes are available: persistentvolumeclaim "db-5" not found.'));
      const outcome = withUnschedulablePods(provisioning, pods, regions);
      expect(outcome).toBe(provisioning);
      expect(outcome).toMatchObject({ reason: 'DatabaseProvisioning', progressing: true });
      expect(withUnschedulablePods(provisioning, [], regions)).toBe(provisioning);
    });

    it('overrides a failure CloudNativePG reports, and counts the other stuck Pods', () => {
      const failed = databaseOutcome({ status: { phase: 'Failed to create PVC' } }, 2);
      const outcome = withUnschedulablePods(
        failed,
        [unschedulable('db-2', '0/3 nodes are available: 3 Insufficient memory.'), unschedulable('db-1')],
        regions,
      );
      expect(outcome.reason).toBe('DatabaseUnschedulable');
      expect(outcome.message).toMatch(
        /^Pod rennes-metropole\/db-1 \(and 1 more of its Pods\) cannot be scheduled/,
      );
      const memory = withUnschedulablePods(
        failed,
        [unschedulable('db-2', '0/3 nodes are available: 3 Insufficient memory.')],
        regions,
      );
      expect(memory.message).toContain('Insufficient memory');
      expect(memory.message).toContain('capacity, taints and volumes');
    });
  });

  it('says at once that backups cannot leave when no egress is configured for their host', () => {
    const scheduled = {
      type: 'BackupReady' as const,
      status: 'True' as const,
      reason: 'BackupScheduled',
      message: 'scheduled',
    };
    expect(withoutBackupEgress(scheduled, 's3.example.fr', [])).toMatchObject({
      status: 'False',
      reason: 'BackupEgressNotAllowed',
      message: expect.stringContaining('s3.example.fr'),
    });
    expect(withoutBackupEgress(scheduled, 's3.example.fr', ['198.51.100.0/24'])).toBe(scheduled);
    const overdue = { ...scheduled, status: 'False' as const, reason: 'BackupOverdue' };
    expect(withoutBackupEgress(overdue, 's3.example.fr', [])).toBe(overdue);
  });

  describe('backup health, each kind on its own', () => {
    const now = new Date('2026-11-28T12:00:00Z');
    const opts = { periodDays: 1, now, namespace: 'rennes' };
    const cronJob = (status: Record<string, unknown>, created = '2026-01-01T00:00:00Z') => ({
      metadata: { creationTimestamp: created },
      status,
    });
    // The shapes CloudNativePG v1.30.0 and the Barman Cloud plugin v0.14.0 write (metav1.Condition on the
    // Cluster, set by the instance manager; the ObjectStore's serverRecoveryWindow, set by the sidecar).
    const condition = (
      type: 'ContinuousArchiving' | 'LastBackupSucceeded',
      status: 'True' | 'False',
      reason: string,
      message: string,
      lastTransitionTime: string,
    ) => ({ type, status, reason, message, lastTransitionTime, observedGeneration: 1 });
    const archivingOk = condition(
      'ContinuousArchiving',
      'True',
      'ContinuousArchivingSuccess',
      'Continuous archiving is working',
      '2026-11-20T10:00:05Z',
    );
    const cluster = (...conditions: ReturnType<typeof condition>[]) => ({
      metadata: { creationTimestamp: '2026-01-01T00:00:00Z' },
      status: {
        phase: 'Cluster in healthy state',
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'ClusterIsReady',
            message: 'Cluster is Ready',
            lastTransitionTime: '2026-11-20T10:00:00Z',
          },
          ...conditions,
        ],
      },
    });
    const objectStore = (
      window: Record<string, string> | undefined,
      created = '2026-11-20T09:59:00Z',
      server = 'db',
    ) => ({
      metadata: { creationTimestamp: created },
      ...(window ? { status: { serverRecoveryWindow: { [server]: window } } } : {}),
    });
    const physicalOpts = { periodDays: 1, now, serverName: 'db' };

    it('reads the logical CronJob: succeeded, pending, failing, overdue', () => {
      const ok = { lastScheduleTime: '2026-11-28T02:00:00Z', lastSuccessfulTime: '2026-11-28T02:00:40Z' };
      expect(logicalBackupHealth(cronJob(ok), opts)).toMatchObject({
        state: 'Succeeded',
        lastSuccessful: '2026-11-28T02:00:40Z',
      });
      expect(logicalBackupHealth(cronJob({}, '2026-11-28T10:00:00Z'), opts).state).toBe('Pending');
      // Scheduled after the last success and no longer running: that run failed.
      const failed = { lastScheduleTime: '2026-11-28T02:00:00Z', lastSuccessfulTime: '2026-11-27T02:00:40Z' };
      expect(logicalBackupHealth(cronJob(failed), opts)).toMatchObject({
        state: 'Failing',
        lastFailed: '2026-11-28T02:00:00Z',
        detail: expect.stringContaining('kubectl -n rennes logs'),
      });
      // Still running (retrying): not failed yet.
      expect(logicalBackupHealth(cronJob({ ...failed, active: [{ name: 'j' }] }), opts).state).toBe(
        'Succeeded',
      );
      expect(logicalBackupHealth(cronJob({ lastSuccessfulTime: '2026-11-25T02:00:40Z' }), opts).state).toBe(
        'Overdue',
      );
    });

    it('reads WAL archiving from the Cluster and base backups from the ObjectStore and LastBackupSucceeded', () => {
      const succeeded = condition(
        'LastBackupSucceeded',
        'True',
        'LastBackupSucceeded',
        'Backup was successful',
        '2026-11-28T02:01:10Z',
      );
      const store = objectStore({
        firstRecoverabilityPoint: '2026-11-21T02:00:30Z',
        lastSuccessfulBackupTime: '2026-11-28T02:01:05Z',
      });
      expect(physicalBackupHealth(cluster(archivingOk, succeeded), store, physicalOpts)).toMatchObject({
        state: 'Succeeded',
        lastSuccessful: '2026-11-28T02:01:10Z',
      });
      // A backup running after a success: still the success, not a failure.
      const started = condition(
        'LastBackupSucceeded',
        'False',
        'BackupStarted',
        'New Backup starting up',
        '2026-11-28T11:58:00Z',
      );
      expect(physicalBackupHealth(cluster(archivingOk, started), store, physicalOpts)).toMatchObject({
        state: 'Succeeded',
        lastSuccessful: '2026-11-28T02:01:05Z',
      });
      // The bucket's catalog alone (the condition lost to a Cluster recreated from its backups).
      expect(physicalBackupHealth(cluster(archivingOk), store, physicalOpts).state).toBe('Succeeded');
      // Only this Cluster's server counts.
      const other = objectStore(
        { lastSuccessfulBackupTime: '2026-11-28T02:01:05Z' },
        '2026-11-28T00:00:00Z',
        'elsewhere',
      );
      expect(physicalBackupHealth(cluster(archivingOk), other, physicalOpts).state).toBe('Pending');
    });

    it('says the WAL archive fails, with barman-cloud’s error', () => {
      const failing = condition(
        'ContinuousArchiving',
        'False',
        'ContinuousArchivingFailing',
        'unexpected failure invoking barman-cloud-wal-archive: exit status 4',
        '2026-11-28T11:00:00Z',
      );
      expect(physicalBackupHealth(cluster(failing), objectStore(undefined), physicalOpts)).toMatchObject({
        state: 'Failing',
        detail: expect.stringContaining('barman-cloud-wal-archive'),
      });
    });

    it('says the last base backup failed, whether barman-cloud or CloudNativePG saw it', () => {
      const failed = condition(
        'LastBackupSucceeded',
        'False',
        'LastBackupFailed',
        'rpc error: code = Unknown desc = unexpected failure invoking barman-cloud-backup: exit status 4',
        '2026-11-28T02:00:00Z',
      );
      const store = objectStore({
        lastSuccessfulBackupTime: '2026-11-27T02:01:05Z',
        lastFailedBackupTime: '2026-11-28T02:00:40Z',
      });
      expect(physicalBackupHealth(cluster(archivingOk, failed), store, physicalOpts)).toMatchObject({
        state: 'Failing',
        lastSuccessful: '2026-11-27T02:01:05Z',
        lastFailed: '2026-11-28T02:00:40Z',
        detail: expect.stringContaining('barman-cloud-backup: exit status 4'),
      });
      // A failure before barman-cloud ran (the plugin unreachable): only the Cluster's condition says it.
      const unreachable = condition(
        'LastBackupSucceeded',
        'False',
        'LastBackupFailed',
        'requested plugin is not available: barman-cloud.cloudnative-pg.io',
        '2026-11-28T02:00:00Z',
      );
      const catalogOnly = objectStore({ lastSuccessfulBackupTime: '2026-11-27T02:01:05Z' });
      expect(
        physicalBackupHealth(cluster(archivingOk, unreachable), catalogOnly, physicalOpts),
      ).toMatchObject({ state: 'Failing', lastFailed: '2026-11-28T02:00:00Z' });
      // A failure the ObjectStore recorded, then a backup running: still failing until one succeeds.
      const running = condition(
        'LastBackupSucceeded',
        'False',
        'BackupStarted',
        'New Backup starting up',
        '2026-11-28T11:58:00Z',
      );
      expect(physicalBackupHealth(cluster(archivingOk, running), store, physicalOpts).state).toBe('Failing');
    });

    it('is pending until the first base backup is due, overdue after, counted from the ObjectStore', () => {
      const fresh = objectStore(undefined, '2026-11-28T00:00:00Z');
      expect(physicalBackupHealth(cluster(archivingOk), fresh, physicalOpts).state).toBe('Pending');
      const old = objectStore(undefined, '2026-11-20T00:00:00Z');
      expect(physicalBackupHealth(cluster(archivingOk), old, physicalOpts).state).toBe('Overdue');
      // The Cluster's deprecated lastSuccessfulBackup is not set for plugins, and not read.
      const legacy = {
        ...cluster(archivingOk),
        status: { ...cluster(archivingOk).status, lastSuccessfulBackup: '2026-11-28T02:01:00Z' },
      };
      expect(physicalBackupHealth(legacy, old, physicalOpts).state).toBe('Overdue');
      // Just applied, not in the cache yet: not late, whatever the database's age.
      expect(physicalBackupHealth(cluster(archivingOk), undefined, physicalOpts).state).toBe('Pending');
    });

    it('says, Stalled, that physical backups need the Barman Cloud plugin, and how logical ones do', () => {
      const logical = logicalBackupHealth(
        cronJob({ lastScheduleTime: '2026-11-28T02:00:00Z', lastSuccessfulTime: '2026-11-28T02:00:40Z' }),
        opts,
      );
      const missing = barmanCloudPluginMissing({
        cnpgNamespace: 'cnpg-system',
        release: 'plugin-barman-cloud v0.14.0 or later',
        logical,
      });
      expect(missing).toMatchObject({
        type: 'BackupReady',
        status: 'False',
        reason: 'BarmanCloudPluginNotInstalled',
      });
      expect(missing.message).toContain('barmancloud.cnpg.io/v1 ObjectStore');
      expect(missing.message).toContain('plugin-barman-cloud v0.14.0 or later');
      expect(missing.message).toContain('cnpg-system');
      expect(missing.message).toContain('last success 2026-11-28T02:00:40Z');
      const health = aggregateHealth(allOk().map((p) => (p.type === 'BackupReady' ? missing : p)));
      expect(health.ready.reason).toBe('BarmanCloudPluginNotInstalled');
      expect(health.stalled.status).toBe('True');
    });

    it('is not Ready while the encrypted backups fail, however fresh the physical ones', () => {
      const failing = logicalBackupHealth(
        cronJob({ lastScheduleTime: '2026-11-28T02:00:00Z', lastSuccessfulTime: '2026-11-26T02:00:40Z' }),
        opts,
      );
      const fresh = physicalBackupHealth(
        cluster(archivingOk),
        objectStore({ lastSuccessfulBackupTime: '2026-11-28T11:59:00Z' }),
        physicalOpts,
      );
      const outcome = backupOutcome({ cronJob: cronJob({}), logical: failing, physical: fresh });
      expect(outcome).toMatchObject({ status: 'False', reason: 'BackupFailing' });
      expect(outcome.message).toContain('logical (encrypted');
      expect(outcome.message).toContain('physical (readable by the storage provider)');
      // And a failing physical side is not hidden by healthy logical backups either.
      const ok = logicalBackupHealth(
        cronJob({ lastScheduleTime: '2026-11-28T02:00:00Z', lastSuccessfulTime: '2026-11-28T02:00:40Z' }),
        opts,
      );
      const walFailing = physicalBackupHealth(
        cluster(
          condition('ContinuousArchiving', 'False', 'ContinuousArchivingFailing', '', '2026-11-28T11:00:00Z'),
        ),
        objectStore(undefined),
        physicalOpts,
      );
      expect(backupOutcome({ cronJob: cronJob({}), logical: ok, physical: walFailing })).toMatchObject({
        status: 'False',
        reason: 'BackupFailing',
      });
      expect(backupOutcome({ cronJob: cronJob({}), logical: ok, physical: undefined })).toMatchObject({
        status: 'True',
        reason: 'BackupSucceeded',
      });
      expect(backupOutcome({ cronJob: undefined, logical: ok, physical: undefined })).toMatchObject({
        status: 'False',
        reason: 'BackupScheduling',
      });
    });
  });
});

describe('restore drill health', () => {
  const now = new Date('2026-11-29T12:00:00Z');
  const opts = { periodDays: 7, now, namespace: 'rennes', lastBackupSuccess: '2026-11-29T02:00:40Z' };
  const cron = (status: Record<string, unknown> = {}, created = '2026-01-01T00:00:00Z') => ({
    metadata: { creationTimestamp: created },
    status,
  });
  const job = (name: string, start: string, end: { complete?: string; failed?: Record<string, string> }) => ({
    metadata: { name, creationTimestamp: start },
    status: {
      startTime: start,
      ...(end.complete ? { completionTime: end.complete } : {}),
      conditions: [
        ...(end.complete
          ? [
              { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: end.complete },
              { type: 'Complete', status: 'True', lastTransitionTime: end.complete },
            ]
          : []),
        ...(end.failed
          ? [
              { type: 'FailureTarget', status: 'True', ...end.failed },
              { type: 'Failed', status: 'True', ...end.failed },
            ]
          : []),
      ],
    },
  });
  /** What the Job controller writes when the pod failure policy fails the Job at the drill's exit. */
  const exited = (code: number, at: string) => ({
    reason: 'PodFailurePolicy',
    message: `Container drill for pod rennes/restore-drill-x-abcde failed with exit code ${code} matching FailJob rule at index 1`,
    lastTransitionTime: at,
  });

  it('passes from a completed Job: time, duration and Job, and BackupReady stays True', () => {
    const passed = job('restore-drill-29404560', '2026-11-29T04:00:02Z', {
      complete: '2026-11-29T04:03:12Z',
    });
    const h = restoreDrillHealth(cron({ lastSuccessfulTime: '2026-11-29T04:03:12Z' }), [passed], opts);
    expect(h).toMatchObject({
      state: 'Succeeded',
      result: 'Passed',
      time: '2026-11-29T04:03:12Z',
      durationSeconds: 190,
      job: 'restore-drill-29404560',
      lastSuccessful: '2026-11-29T04:03:12Z',
    });
    expect(h.failure).toBeUndefined();
    const logical = logicalBackupHealth(cron({ lastSuccessfulTime: '2026-11-29T02:00:40Z' }), {
      periodDays: 1,
      now,
      namespace: 'rennes',
    });
    expect(backupOutcome({ cronJob: cron(), logical, physical: undefined, drill: h })).toMatchObject({
      status: 'True',
      reason: 'BackupSucceeded',
      message: expect.stringContaining(
        'restore drill: the last drill passed at 2026-11-29T04:03:12Z in 190 s',
      ),
    });
  });

  it.each([
    [4, 'DataDiffers', 'does not match what the backup recorded'],
    [5, 'DoesNotRestore', 'the backup does not restore'],
    [2, 'BadConfiguration', 'misconfigured'],
    [1, 'CouldNotRun', 'could not reach a verdict (exit 1)'],
    [137, 'CouldNotRun', 'scratchSize'],
  ] as const)('fails with exit code %i as %s, naming the Job to read', (code, failure, words) => {
    const failed = job('e2e-drill', '2026-11-29T10:00:00Z', { failed: exited(code, '2026-11-29T10:01:00Z') });
    // Run by hand: the CronJob's status still shows last week's scheduled success only.
    const h = restoreDrillHealth(cron({ lastSuccessfulTime: '2026-11-22T04:03:00Z' }), [failed], opts);
    expect(h).toMatchObject({
      state: 'Failing',
      result: 'Failed',
      failure,
      job: 'e2e-drill',
      time: '2026-11-29T10:01:00Z',
      durationSeconds: 60,
      lastSuccessful: '2026-11-22T04:03:00Z',
      lastFailed: '2026-11-29T10:01:00Z',
    });
    expect(h.detail).toContain(words);
    expect(h.detail).toContain('kubectl -n rennes logs job/e2e-drill');
  });

  it('fails on its deadline, saying where to look', () => {
    const late = job('restore-drill-1', '2026-11-29T04:00:00Z', {
      failed: {
        reason: 'DeadlineExceeded',
        message: 'Job was active longer than specified deadline',
        lastTransitionTime: '2026-11-29T10:00:00Z',
      },
    });
    expect(restoreDrillHealth(cron(), [late], opts)).toMatchObject({
      state: 'Failing',
      failure: 'DeadlineExceeded',
      detail: expect.stringContaining('did not finish within 6 h'),
    });
  });

  it('is judged by the drill that ended last: a pass after a failure heals it, a failure after a pass does not', () => {
    const failed = job('restore-drill-a', '2026-11-22T04:00:00Z', {
      failed: exited(5, '2026-11-22T04:01:00Z'),
    });
    const passed = job('restore-drill-b', '2026-11-29T04:00:00Z', { complete: '2026-11-29T04:02:00Z' });
    expect(restoreDrillHealth(cron(), [failed, passed], opts)).toMatchObject({
      state: 'Succeeded',
      result: 'Passed',
      lastFailed: '2026-11-22T04:01:00Z',
    });
    const failedAgain = job('restore-drill-c', '2026-11-29T09:00:00Z', {
      failed: exited(4, '2026-11-29T09:05:00Z'),
    });
    expect(restoreDrillHealth(cron(), [passed, failedAgain], opts)).toMatchObject({
      state: 'Failing',
      failure: 'DataDiffers',
      lastSuccessful: '2026-11-29T04:02:00Z',
    });
  });

  it('reads the CronJob status when the Jobs are gone, like the logical backup, and names the Job it had', () => {
    const h = restoreDrillHealth(
      cron({ lastScheduleTime: '2026-11-29T04:00:00Z', lastSuccessfulTime: '2026-11-22T04:02:30Z' }),
      [],
      opts,
    );
    expect(h).toMatchObject({
      state: 'Failing',
      result: 'Failed',
      time: '2026-11-29T04:00:00Z',
      job: `restore-drill-${Date.parse('2026-11-29T04:00:00Z') / 60_000}`,
    });
    expect(h.failure).toBeUndefined();
    // Still running: not failed yet.
    expect(
      restoreDrillHealth(
        cron({
          lastScheduleTime: '2026-11-29T04:00:00Z',
          lastSuccessfulTime: '2026-11-22T04:02:30Z',
          active: [{ name: 'restore-drill-x' }],
        }),
        [],
        opts,
      ),
    ).toMatchObject({ state: 'Succeeded', result: 'Passed', time: '2026-11-22T04:02:30Z' });
    // A scheduled success: its duration from the schedule time.
    expect(
      restoreDrillHealth(
        cron({ lastScheduleTime: '2026-11-29T04:00:00Z', lastSuccessfulTime: '2026-11-29T04:02:30Z' }),
        [],
        opts,
      ),
    ).toMatchObject({ state: 'Succeeded', durationSeconds: 150 });
  });

  it('is pending until a first drill, and overdue after two drill periods without a pass', () => {
    expect(restoreDrillHealth(cron({}, '2026-11-27T00:00:00Z'), [], opts)).toEqual({
      state: 'Pending',
      detail: 'scheduled; none has run yet',
    });
    expect(restoreDrillHealth(undefined, [], opts).state).toBe('Pending');
    const overdue = restoreDrillHealth(cron({ lastSuccessfulTime: '2026-11-14T04:02:00Z' }), [], opts);
    expect(overdue).toMatchObject({
      state: 'Overdue',
      result: 'Passed',
      lastSuccessful: '2026-11-14T04:02:00Z',
    });
    expect(restoreDrillHealth(cron({}, '2026-11-10T00:00:00Z'), [], opts).state).toBe('Overdue');
    const logical = logicalBackupHealth(cron({ lastSuccessfulTime: '2026-11-29T02:00:40Z' }), {
      periodDays: 1,
      now,
      namespace: 'rennes',
    });
    expect(backupOutcome({ cronJob: cron(), logical, physical: undefined, drill: overdue })).toMatchObject({
      status: 'False',
      reason: 'RestoreDrillOverdue',
    });
  });

  it('does not hold a first drill that came before the first backup against the Territory (exit 6)', () => {
    const early = job('restore-drill-1', '2026-11-29T01:00:00Z', {
      failed: exited(6, '2026-11-29T01:00:09Z'),
    });
    // The first backup succeeded after that drill: nothing was there to restore yet.
    expect(restoreDrillHealth(cron({}, '2026-11-28T20:00:00Z'), [early], opts)).toMatchObject({
      state: 'Pending',
      detail: expect.stringContaining('came before the first backup'),
    });
    expect(
      restoreDrillHealth(cron({}, '2026-11-28T20:00:00Z'), [early], { ...opts, lastBackupSuccess: undefined })
        .state,
    ).toBe('Pending');
    // After a successful backup, finding none is a failure: backups were deleted, or the destination moved.
    const gone = job('restore-drill-2', '2026-11-29T05:00:00Z', {
      failed: exited(6, '2026-11-29T05:00:09Z'),
    });
    expect(restoreDrillHealth(cron(), [gone], opts)).toMatchObject({
      state: 'Failing',
      detail: expect.stringContaining('no backup to restore (exit 6), though a logical backup succeeded'),
    });
  });

  it('makes BackupReady False with RestoreDrillFailing, but failing backups come first', () => {
    const failed = restoreDrillHealth(
      cron(),
      [job('d', '2026-11-29T04:00:00Z', { failed: exited(5, '2026-11-29T04:01:00Z') })],
      opts,
    );
    const ok = logicalBackupHealth(cron({ lastSuccessfulTime: '2026-11-29T02:00:40Z' }), {
      periodDays: 1,
      now,
      namespace: 'rennes',
    });
    expect(backupOutcome({ cronJob: cron(), logical: ok, physical: undefined, drill: failed })).toMatchObject(
      {
        status: 'False',
        reason: 'RestoreDrillFailing',
        message: expect.stringContaining('kubectl -n rennes logs job/d'),
      },
    );
    const backupFailing = logicalBackupHealth(
      cron({ lastScheduleTime: '2026-11-29T02:00:00Z', lastSuccessfulTime: '2026-11-28T02:00:40Z' }),
      { periodDays: 1, now, namespace: 'rennes' },
    );
    expect(
      backupOutcome({ cronJob: cron(), logical: backupFailing, physical: undefined, drill: failed }).reason,
    ).toBe('BackupFailing');
  });

  it('keeps of a drill Job, in cache, only who it is and how it ended', () => {
    const live = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'restore-drill-1',
        namespace: 'rennes',
        uid: 'u',
        resourceVersion: '7',
        labels: { 'app.kubernetes.io/component': 'restore-drill' },
        creationTimestamp: '2026-11-29T04:00:00Z',
        annotations: { big: 'x'.repeat(1000) },
        managedFields: [{ manager: 'kube-controller-manager' }],
      },
      spec: { template: { spec: { containers: [{ name: 'drill' }] } } },
      status: {
        startTime: '2026-11-29T04:00:01Z',
        active: 0,
        ready: 0,
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'PodFailurePolicy',
            message: 'm',
            lastTransitionTime: 't',
            lastProbeTime: 't',
          },
        ],
      },
    } as unknown as KubeObject;
    expect(jobForCache(live)).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'restore-drill-1',
        namespace: 'rennes',
        uid: 'u',
        resourceVersion: '7',
        labels: { 'app.kubernetes.io/component': 'restore-drill' },
        creationTimestamp: '2026-11-29T04:00:00Z',
      },
      status: {
        startTime: '2026-11-29T04:00:01Z',
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'PodFailurePolicy',
            message: 'm',
            lastTransitionTime: 't',
          },
        ],
      },
    });
  });
});

/** Turns a planned write into the Secret the API server would then hold. */
function stored(write: SecretWrite | undefined, rv = '1'): KubeObject {
  if (!write) throw new Error('expected a write');
  const o = write.object as KubeObject & {
    stringData?: Record<string, string>;
    data?: Record<string, string>;
  };
  const data =
    o.data ??
    Object.fromEntries(
      Object.entries(o.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
  return { ...o, data, metadata: { ...o.metadata, resourceVersion: rv } } as KubeObject;
}

describe('keyring plan', () => {
  const day = 86_400_000;
  const t0 = new Date('2026-01-01T00:00:00Z');

  it('creates a keyring once, then writes nothing while no rotation is due', () => {
    const ctx = context();
    const first = planKeyring({ ctx, live: undefined, issued: [], kek: undefined, now: t0, randomBytes });
    expect(first.write?.op).toBe('create');
    expect(first.outcome.status).toBe('True');
    const again = planKeyring({
      ctx,
      live: stored(first.write),
      issued: first.created,
      kek: undefined,
      now: new Date(t0.getTime() + day),
      randomBytes,
    });
    expect(again.write).toBeUndefined();
    expect(again.status?.current).toBe(first.status?.current);
  });

  it('rotates by adding a version with a precondition, never touching existing key bytes', () => {
    const ctx = context();
    const first = planKeyring({ ctx, live: undefined, issued: [], kek: undefined, now: t0, randomBytes });
    const live = stored(first.write, '7');
    const later = new Date(t0.getTime() + 91 * day);
    const rotated = planKeyring({
      ctx,
      live,
      issued: first.created,
      kek: undefined,
      now: later,
      randomBytes,
    });
    expect(rotated.write).toMatchObject({ op: 'replace', resourceVersion: '7' });
    const before = parseKeyring(
      JSON.parse(
        Buffer.from((live.data as Record<string, string>)['keyring.json'] as string, 'base64').toString(),
      ),
    );
    const after = rotated.keyring;
    if (!before.ok || !after) throw new Error('keyrings must parse');
    const old = before.value.keys[0];
    expect(after.keys.find((k) => k.id === old?.id)).toMatchObject({
      material: old?.material,
      createdAt: old?.createdAt,
    });
    expect(after.keys).toHaveLength(2);
  });

  it('refuses to silently start a new keyring when the issued one disappeared', () => {
    const ctx = context();
    const lost = planKeyring({
      ctx,
      live: undefined,
      issued: ['k1-20260101'],
      kek: undefined,
      now: t0,
      randomBytes,
    });
    expect(lost.write).toBeUndefined();
    expect(lost.outcome).toMatchObject({ status: 'False', reason: 'KeyringLost' });
    const accepted = territory();
    accepted.metadata.annotations = { [ACCEPT_NEW_KEYRING]: 'true' };
    const fresh = planKeyring({
      ctx: context(accepted),
      live: undefined,
      issued: ['k1-20260101'],
      kek: undefined,
      now: t0,
      randomBytes,
    });
    expect(fresh.write?.op).toBe('create');
  });

  it('reports a corrupted keyring Secret instead of replacing it', () => {
    const live = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'territory-keyring', resourceVersion: '3' },
      data: { 'keyring.json': Buffer.from('{oops').toString('base64') },
    };
    const plan = planKeyring({ ctx: context(), live, issued: [], kek: undefined, now: t0, randomBytes });
    expect(plan.write).toBeUndefined();
    expect(plan.outcome.reason).toBe('KeyringInvalid');
  });

  it('wraps keys with the customer key and never lets status carry key material', () => {
    const kek = { secretName: 'rennes-kek', key: 'kek', material: randomBytes(32) };
    const plan = planKeyring({ ctx: context(), live: undefined, issued: [], kek, now: t0, randomBytes });
    expect(plan.outcome.reason).toBe('CustomerKeyWrapped');
    const material = plan.keyring?.keys[0]?.material ?? 'missing';
    expect(JSON.stringify(plan.status)).not.toContain(material);
    expect(JSON.stringify(plan.outcome)).not.toContain(material);
  });
});

describe('credentials plan', () => {
  const now = new Date('2026-03-01T00:00:00Z');
  it('creates one Secret per role, then rotates only those past the rotation period', () => {
    const ctx = context();
    const first = planCredentials({ ctx, live: () => undefined, now, rotationDays: 30, randomBytes });
    expect(first.writes.map((w) => [w.op, w.object.metadata?.name])).toEqual([
      ['create', 'db-owner'],
      ['create', 'db-purpose-mobility'],
      ['create', 'db-purpose-waste'],
      ['create', 'db-backup'],
    ]);
    // The read-only role the logical backups dump as has its own generated password.
    expect(first.writes.at(-1)?.object).toMatchObject({
      type: 'kubernetes.io/basic-auth',
      stringData: { username: 'territory_backup', password: expect.stringMatching(/^[\w-]{43}$/) },
    });
    const secrets = new Map(first.writes.map((w) => [w.object.metadata?.name as string, stored(w, '5')]));
    const quiet = planCredentials({
      ctx,
      live: (n) => secrets.get(n),
      now: new Date(now.getTime() + 86_400_000),
      rotationDays: 30,
      randomBytes,
    });
    expect(quiet.writes).toEqual([]);
    const owner = secrets.get('db-owner') as KubeObject;
    owner.metadata.annotations = { [ROTATED_AT]: '2026-01-01T00:00:00Z' };
    const due = planCredentials({ ctx, live: (n) => secrets.get(n), now, rotationDays: 30, randomBytes });
    expect(due.rotated).toEqual(['db-owner']);
    expect(due.writes[0]).toMatchObject({ op: 'replace', resourceVersion: '5' });
  });
});
