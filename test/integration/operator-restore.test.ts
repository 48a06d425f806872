import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { restoreRequestId } from '../../operator/src/api/territory.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { endJob as endJobAs, jobRef } from '../support/jobs.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import {
  createWithBackupCredentials,
  startTestOperator,
  type TestOperator,
  territoryEvents,
} from '../support/operator.ts';
import { OUTSCALE_ATTESTATION, rennesTerritory } from '../support/territories.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type RestoreStatus = {
  request: string;
  phase: string;
  job?: string;
  message?: string;
  startedAt?: string;
  completedAt?: string;
  durationSeconds?: number;
};
type T = KubeObject & { status?: { conditions?: Cond[]; restore?: RestoreStatus } };
type Job = KubeObject & {
  spec: {
    template: { metadata: { labels: Record<string, string> }; spec: { containers: { args: string[] }[] } };
  };
};

let op: TestOperator;

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('restore'),
    config: {
      cluster: OUTSCALE_ATTESTATION,
      backupEgress: [{ host: 'oos.eu-west-2.outscale.com', cidrs: ['198.51.100.0/24'] }],
    },
  });
});
afterAll(async () => {
  await op?.stop();
});

const territoryRef = (name: string) => ({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
const condition = (t: T | undefined, type: string) => t?.status?.conditions?.find((c) => c.type === type);

async function territoryWhere(name: string, what: string, pred: (t: T) => boolean): Promise<T> {
  return waitFor(
    async () => {
      const t = (await op.client.get(territoryRef(name))) as T | undefined;
      return t && pred(t) ? t : undefined;
    },
    { what: `${name}: ${what}`, timeoutMs: 20_000 },
  );
}

async function restoreJobs(ns: string): Promise<Job[]> {
  const { items } = await op.client.list({
    apiVersion: 'batch/v1',
    kind: 'Job',
    namespace: ns,
    labelSelector: 'app.kubernetes.io/component=restore',
  });
  return items as Job[];
}

const endJob = (ns: string, name: string, exitCode: number, durationSeconds: number) =>
  endJobAs(op.client, { namespace: ns, name, exitCode, durationSeconds });

const eventsAbout = (name: string, reason: string) => territoryEvents(op.client, name, reason);

describe('spec.restore', () => {
  it('waits for the database, runs one Job per request, reports a refusal, then a confirmed restore, once', async () => {
    const restore = { from: 'LogicalBackup' };
    const name = await createWithBackupCredentials(op, rennesTerritory(uniqueName('restore'), { restore }));

    // 1. The database is not ready: Pending, and no Job.
    const first = restoreRequestId({ from: 'LogicalBackup' });
    const waiting = await territoryWhere(
      name,
      'a pending restore',
      (t) => t.status?.restore?.phase === 'Pending',
    );
    expect(waiting.status?.restore).toMatchObject({ request: first, job: `restore-${first}` });
    expect(waiting.status?.restore?.message).toContain('the database is not ready');
    expect(condition(waiting, 'Restored')).toMatchObject({ status: 'False', reason: 'RestorePending' });
    expect(await restoreJobs(name)).toEqual([]);

    // 2. The database is ready: one Job, for this request, hardened, reaching the store as backups do.
    const clusterRef = { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', name: 'db', namespace: name };
    await waitFor(() => op.client.get(clusterRef), { what: 'the Cluster', timeoutMs: 20_000 });
    await op.client.patch(
      clusterRef,
      { status: { phase: 'Cluster in healthy state', instances: 2, readyInstances: 2 } },
      'merge',
      { subresource: 'status' },
    );
    const job = await waitFor(async () => (await restoreJobs(name))[0], {
      what: 'the restore Job',
      timeoutMs: 20_000,
    });
    expect(job.metadata.name).toBe(`restore-${first}`);
    expect(job.metadata.labels).toMatchObject({
      'sovereign.dev/territory': name,
      'sovereign.dev/restore-request': first,
    });
    expect(job.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Territory', name });
    expect(job.spec.template.spec.containers[0]?.args).toEqual(['restore-into']);
    expect(job.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/component': 'backup' });

    // 3. It ends with exit 7: Refused, the condition says how to confirm, a Warning; Ready is False.
    await endJob(name, `restore-${first}`, 7, 30);
    const refused = await territoryWhere(name, 'Refused', (t) => t.status?.restore?.phase === 'Refused');
    expect(condition(refused, 'Restored')).toMatchObject({ status: 'False', reason: 'DatabaseNotEmpty' });
    expect(condition(refused, 'Restored')?.message).toContain(
      `set spec.restore.replaceExistingData to "${name}"`,
    );
    expect(condition(refused, 'Ready')?.status).toBe('False');
    expect(condition(refused, 'Stalled')?.status).toBe('True');
    expect(refused.status?.restore).toMatchObject({ durationSeconds: 30 });
    await waitFor(async () => ((await eventsAbout(name, 'RestoreRefused')).length > 0 ? true : undefined), {
      what: 'a RestoreRefused Event',
      timeoutMs: 10_000,
    });
    expect((await eventsAbout(name, 'RestoreRefused'))[0]?.type).toBe('Warning');

    // 4. Confirmed: a new request, a second Job (and only that one).
    await op.client.mergePatch(territoryRef(name), { spec: { restore: { replaceExistingData: name } } });
    const second = restoreRequestId({ from: 'LogicalBackup', replaceExistingData: name });
    await waitFor(async () => ((await restoreJobs(name)).length === 2 ? true : undefined), {
      what: 'the second restore Job',
      timeoutMs: 20_000,
    });
    const confirmed = (await op.client.get(jobRef(name, `restore-${second}`))) as Job;
    expect(confirmed.spec.template.spec.containers[0]?.args).toEqual([
      'restore-into',
      '--replace-existing-data',
    ]);
    await endJob(name, `restore-${second}`, 0, 20);
    const done = await territoryWhere(name, 'Succeeded', (t) => t.status?.restore?.phase === 'Succeeded');
    expect(done.status?.restore?.request).toBe(second);
    expect(condition(done, 'Restored')).toMatchObject({ status: 'True', reason: 'RestoreSucceeded' });

    // 5. Its Job deleted: still Succeeded, and never run again.
    await op.client.delete(jobRef(name, `restore-${second}`));
    await op.client.mergePatch(territoryRef(name), {
      metadata: { annotations: { 'test.sovereign.dev/poke': '1' } },
    });
    await new Promise((r) => setTimeout(r, 3000));
    expect((await restoreJobs(name)).map((j) => j.metadata.name)).not.toContain(`restore-${second}`);
    const after = (await op.client.get(territoryRef(name))) as T;
    expect(after.status?.restore).toMatchObject({ request: second, phase: 'Succeeded' });

    // 6. spec.restore removed: no Restored condition, the record stays.
    await op.client.mergePatch(territoryRef(name), { spec: { restore: null } });
    const removed = await territoryWhere(name, 'no Restored condition', (t) => !condition(t, 'Restored'));
    expect(removed.status?.restore).toMatchObject({ request: second, phase: 'Succeeded' });
  });
});
