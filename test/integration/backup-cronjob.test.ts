// The logical-backup CronJob on the real API server: a tenant who can edit it (an authority's admin)
// suspends it, stretches its deadlines, swaps its ServiceAccount and appends `--endpoint` to its
// arguments; the operator's next server-side apply (force, as the reconciler does) puts every one of
// those fields back, because the operator sets each of them itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLogicalBackupCronJob } from '../../operator/src/builders/backup.ts';
import { context, territory } from '../../operator/src/builders/fixtures.test-helpers.ts';
import { ServerSideApplier } from '../../operator/src/runtime/apply.ts';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { testKubeConfig, uniqueName } from '../support/kube.ts';

const client = new KubeClient(testKubeConfig());
const applier = new ServerSideApplier(client, { fieldManager: 'territory-operator', force: true });
const name = uniqueName('backup-cronjob');

function desired(): KubeObject {
  const cron = buildLogicalBackupCronJob(context(territory({ name }))) as KubeObject;
  // The fixture's Territory does not exist here: without this the garbage collector would delete it.
  const { ownerReferences: _owners, ...metadata } = cron.metadata;
  return { ...cron, metadata };
}

beforeAll(async () => {
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
});
afterAll(async () => {
  await client.delete({ apiVersion: 'v1', kind: 'Namespace', name });
  await client.close();
});

describe('the logical-backup CronJob', () => {
  it('gets back every field a tenant changed with the next apply, the command line included', async () => {
    const cron = desired();
    await applier.apply(cron);
    // Stable as the API server stores it (empty variables, file modes): the next apply writes nothing.
    expect((await applier.apply(cron)).written).toBe(false);
    const ref = { apiVersion: 'batch/v1', kind: 'CronJob', name: 'logical-backup', namespace: name };
    // What `kubectl edit` by an authority admin sends: a strategic merge patch under its own manager.
    await client.patch(
      ref,
      {
        spec: {
          suspend: true,
          timeZone: 'Pacific/Auckland',
          concurrencyPolicy: 'Allow',
          startingDeadlineSeconds: 5,
          successfulJobsHistoryLimit: 0,
          failedJobsHistoryLimit: 0,
          jobTemplate: {
            spec: {
              backoffLimit: 50,
              activeDeadlineSeconds: 9_999_999,
              template: {
                spec: {
                  serviceAccountName: 'tenant-robot',
                  automountServiceAccountToken: true,
                  enableServiceLinks: true,
                  containers: [
                    {
                      name: 'backup',
                      args: ['backup', '--endpoint', 'https://s3.us-east-1.amazonaws.com'],
                    },
                  ],
                },
              },
            },
          },
        },
      },
      'strategic',
      { fieldManager: 'kubectl-edit' },
    );
    const edited = (await client.get(ref)) as KubeObject & { spec: Record<string, unknown> };
    expect(edited.spec.suspend).toBe(true);

    const result = await applier.apply(cron);
    expect(result.written).toBe(true);
    const live = (await client.get(ref)) as KubeObject & { spec: Record<string, unknown> };
    const want = cron as KubeObject & { spec: Record<string, unknown> };
    for (const field of [
      'suspend',
      'timeZone',
      'concurrencyPolicy',
      'startingDeadlineSeconds',
      'successfulJobsHistoryLimit',
      'failedJobsHistoryLimit',
    ]) {
      expect(live.spec[field], field).toEqual(want.spec[field]);
    }
    type Job = {
      spec: {
        backoffLimit: number;
        activeDeadlineSeconds: number;
        template: { spec: Record<string, unknown> };
      };
    };
    const liveJob = live.spec.jobTemplate as Job;
    const wantJob = want.spec.jobTemplate as Job;
    expect(liveJob.spec.backoffLimit).toBe(wantJob.spec.backoffLimit);
    expect(liveJob.spec.activeDeadlineSeconds).toBe(wantJob.spec.activeDeadlineSeconds);
    for (const field of ['serviceAccountName', 'automountServiceAccountToken', 'enableServiceLinks']) {
      expect(liveJob.spec.template.spec[field], field).toEqual(wantJob.spec.template.spec[field]);
    }
    const [container] = liveJob.spec.template.spec.containers as { args?: string[]; command: string[] }[];
    expect(container?.args).toEqual(['backup']);
    expect(JSON.stringify(live.spec)).not.toContain('--endpoint');
  });
});
