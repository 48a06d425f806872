import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import {
  createWithBackupCredentials,
  startTestOperator,
  type TestOperator,
  territoryEvents,
} from '../support/operator.ts';
import { OUTSCALE_ATTESTATION, rennesTerritory } from '../support/territories.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type LastRestoreTest = {
  state: string;
  result?: string;
  time?: string;
  durationSeconds?: number;
  failure?: string;
  job?: string;
  lastPassed?: string;
};
type T = KubeObject & {
  status?: { conditions?: Cond[]; backup?: { lastRestoreTest?: LastRestoreTest } };
};
type CronJob = KubeObject & {
  spec: {
    schedule: string;
    jobTemplate: {
      metadata: { labels: Record<string, string> };
      spec: Record<string, unknown> & {
        template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
      };
    };
  };
  status?: Record<string, unknown>;
};

const DESTINATION_HOST = 'oos.eu-west-2.outscale.com';
let op: TestOperator;

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('drill'),
    config: {
      cluster: OUTSCALE_ATTESTATION,
      // Egress to the destination, so that BackupReady can be True once the drill passes.
      backupEgress: [{ host: DESTINATION_HOST, cidrs: ['198.51.100.0/24'] }],
    },
  });
});
afterAll(async () => {
  await op?.stop();
});

const territoryRef = (name: string) => ({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
const cronJobRef = (ns: string) => ({
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  name: 'restore-drill',
  namespace: ns,
});
const backupReady = (t: T | undefined) => t?.status?.conditions?.find((c) => c.type === 'BackupReady');

async function createTerritory(): Promise<string> {
  const name = await createWithBackupCredentials(op, rennesTerritory(uniqueName('drill')));
  await waitFor(() => op.client.get(cronJobRef(name)), {
    what: `${name} restore-drill CronJob`,
    timeoutMs: 10_000,
  });
  return name;
}

async function territoryWhere(name: string, what: string, pred: (t: T) => boolean): Promise<T> {
  return waitFor(
    async () => {
      const t = (await op.client.get(territoryRef(name))) as T | undefined;
      return t && pred(t) ? t : undefined;
    },
    { what: `${name}: ${what}`, timeoutMs: 15_000 },
  );
}

/** A drill Job as `kubectl create job --from=cronjob/restore-drill` makes it, left to no Job controller. */
async function drillJob(ns: string, name: string): Promise<void> {
  const cron = (await op.client.get(cronJobRef(ns))) as CronJob;
  const { template, ...spec } = cron.spec.jobTemplate.spec;
  await op.client.create({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: ns,
      labels: cron.spec.jobTemplate.metadata.labels,
      annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          name: 'restore-drill',
          uid: cron.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { ...spec, template, managedBy: 'test.sovereign.dev/not-the-job-controller' },
  } as KubeObject);
}

/** What the Job controller writes when a drill ends: passed (exit 0) or failed by the pod failure policy. */
async function endDrill(ns: string, name: string, startedAt: Date, end: { exitCode: number; at: Date }) {
  const job = (await op.client.get({
    apiVersion: 'batch/v1',
    kind: 'Job',
    name,
    namespace: ns,
  })) as KubeObject;
  const at = end.at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const condition = (type: string, extra: Record<string, string> = {}) => ({
    type,
    status: 'True',
    lastProbeTime: at,
    lastTransitionTime: at,
    ...extra,
  });
  const failedBy = {
    reason: 'PodFailurePolicy',
    message: `Container drill for pod ${ns}/${name}-x7k2p failed with exit code ${end.exitCode} matching FailJob rule at index 1`,
  };
  const status =
    end.exitCode === 0
      ? {
          startTime: startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
          completionTime: at,
          succeeded: 1,
          conditions: [condition('SuccessCriteriaMet'), condition('Complete')],
        }
      : {
          startTime: startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
          failed: 1,
          conditions: [condition('FailureTarget', failedBy), condition('Failed', failedBy)],
        };
  await op.client.replace({ ...job, status } as KubeObject, 'status');
}

const eventsAbout = (name: string, reason: string) => territoryEvents(op.client, name, reason);

describe('restore drills', () => {
  it('creates the restore-drill CronJob beside the backup, weekly, hardened, with no database credential', async () => {
    const ns = await createTerritory();
    const cron = (await op.client.get(cronJobRef(ns))) as CronJob;
    expect(cron.spec.schedule).toBe('0 4 * * 0');
    const job = cron.spec.jobTemplate.spec;
    expect(job.backoffLimit).toBe(0);
    expect(job.podFailurePolicy).toMatchObject({ rules: [{ action: 'Ignore' }, { action: 'FailJob' }] });
    expect(cron.spec.jobTemplate.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'territory-operator',
      'app.kubernetes.io/component': 'restore-drill',
      'sovereign.dev/territory': ns,
    });
    const pod = job.template.spec as {
      automountServiceAccountToken: boolean;
      containers: { args: string[]; env: { name: string }[] }[];
      volumes: { name: string; emptyDir?: Record<string, unknown> }[];
    };
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0]?.args).toEqual(['drill']);
    expect(pod.containers[0]?.env.map((e) => e.name).filter((n) => n.startsWith('PG'))).toEqual([]);
    // The database's volume: Rennes is a large commune, 100Gi (database-sizing.ts).
    expect(pod.volumes.find((v) => v.name === 'scratch')?.emptyDir).toEqual({ sizeLimit: '100Gi' });
    expect(JSON.stringify(cron)).not.toContain('db-backup');

    const t = await territoryWhere(
      ns,
      'a pending drill',
      (x) => x.status?.backup?.lastRestoreTest?.state === 'Pending',
    );
    expect(backupReady(t)?.message).toContain('restore drill: scheduled; none has run yet');

    // Turned off: the CronJob goes, and so does the drill's status.
    await op.client.mergePatch(territoryRef(ns), { spec: { backup: { restoreDrill: { enabled: false } } } });
    await waitFor(async () => ((await op.client.get(cronJobRef(ns))) ? undefined : true), {
      what: 'the restore-drill CronJob to be deleted',
      timeoutMs: 10_000,
    });
    await territoryWhere(
      ns,
      'no drill status',
      (x) => x.status?.backup !== undefined && !x.status.backup.lastRestoreTest,
    );
  });

  it('reads a drill run by hand that fails (exit 5): BackupReady False, a Warning; then one that passes: True, a Normal Event', async () => {
    const ns = await createTerritory();
    // Whole seconds, the end derived from the start: the Job's times carry no milliseconds, and a clock
    // read after creating the Job would add that creation's time to the duration.
    const started = new Date(Math.floor(Date.now() / 1000) * 1000 - 90_000);
    await drillJob(ns, 'drill-by-hand');
    await endDrill(ns, 'drill-by-hand', started, { exitCode: 5, at: new Date(started.getTime() + 60_000) });
    const failing = await territoryWhere(
      ns,
      'RestoreDrillFailing',
      (t) => backupReady(t)?.reason === 'RestoreDrillFailing',
    );
    expect(backupReady(failing)).toMatchObject({ status: 'False' });
    expect(backupReady(failing)?.message).toContain(`kubectl -n ${ns} logs job/drill-by-hand`);
    expect(backupReady(failing)?.message).toContain('the backup does not restore');
    expect(failing.status?.backup?.lastRestoreTest).toMatchObject({
      state: 'Failing',
      result: 'Failed',
      failure: 'DoesNotRestore',
      job: 'drill-by-hand',
      durationSeconds: 60,
    });
    await waitFor(async () => ((await eventsAbout(ns, 'RestoreDrillFailed')).length > 0 ? true : undefined), {
      what: 'a RestoreDrillFailed Event',
      timeoutMs: 10_000,
    });
    const [warning] = await eventsAbout(ns, 'RestoreDrillFailed');
    expect(warning?.type).toBe('Warning');
    const metrics = await op.operator.manager.metrics.registry.metrics();
    expect(metrics).toMatch(/territory_backups\{kind="restore-drill",state="Failing"\} [1-9]/);

    await drillJob(ns, 'drill-again');
    await endDrill(ns, 'drill-again', new Date(Date.now() - 20_000), { exitCode: 0, at: new Date() });
    const passing = await territoryWhere(
      ns,
      'the passed drill',
      (t) => t.status?.backup?.lastRestoreTest?.result === 'Passed',
    );
    expect(passing.status?.backup?.lastRestoreTest).toMatchObject({ state: 'Succeeded', job: 'drill-again' });
    // The logical backup has not run yet (Pending), the drill passed, egress is configured: Ready.
    expect(backupReady(passing)).toMatchObject({ status: 'True', reason: 'BackupScheduled' });
    await waitFor(async () => ((await eventsAbout(ns, 'RestoreDrillPassed')).length > 0 ? true : undefined), {
      what: 'a RestoreDrillPassed Event',
      timeoutMs: 10_000,
    });
    // One Event per drill that ended, not one per reconcile: a resync writes no second one.
    expect((await eventsAbout(ns, 'RestoreDrillFailed')).length).toBe(1);
  });

  it('reads a drill whose Job is gone from the CronJob status, which the CronJob controller leaves as written', async () => {
    const ns = await createTerritory();
    const cron = (await op.client.get(cronJobRef(ns))) as CronJob;
    // The last scheduled run (a minute ago) is after the last success (last week) and nothing runs.
    const scheduled = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);
    const stamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const status = {
      lastScheduleTime: stamp(scheduled),
      lastSuccessfulTime: stamp(new Date(scheduled.getTime() - 7 * 86_400_000)),
    };
    await op.client.replace({ ...cron, status } as KubeObject, 'status');
    const failing = await territoryWhere(
      ns,
      'RestoreDrillFailing',
      (t) => backupReady(t)?.reason === 'RestoreDrillFailing',
    );
    expect(failing.status?.backup?.lastRestoreTest).toMatchObject({
      state: 'Failing',
      result: 'Failed',
      time: status.lastScheduleTime,
      job: `restore-drill-${scheduled.getTime() / 60_000}`,
      lastPassed: status.lastSuccessfulTime,
    });
    // kube-controller-manager's CronJob controller had every chance to sync it: the status stays.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(((await op.client.get(cronJobRef(ns))) as CronJob).status).toMatchObject(status);
  });
});
