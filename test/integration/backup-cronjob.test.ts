// The logical-backup CronJob on the real API server: a tenant who can edit it (an authority's admin)
// suspends it, stretches its deadlines, swaps its ServiceAccount and appends `--endpoint` to its
// arguments; the operator's next server-side apply (force, as the reconciler does) puts every one of
// those fields back, because the operator sets each of them itself. The restore-drill CronJob too: the
// API server stores it as built (its pod failure policy, its scratch disk), so a second apply writes
// nothing, and a drill made to retry, or given the database's credentials, is put back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLogicalBackupCronJob } from '../../operator/src/builders/backup.ts';
import { context, territory } from '../../operator/src/builders/fixtures.test-helpers.ts';
import { buildRestoreDrillCronJob } from '../../operator/src/builders/restore-drill.ts';
import { ServerSideApplier } from '../../operator/src/runtime/apply.ts';
import { KubeClient } from '../../operator/src/runtime/kube-client.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { testKubeConfig, uniqueName } from '../support/kube.ts';

const client = new KubeClient(testKubeConfig());
const applier = new ServerSideApplier(client, { fieldManager: 'territory-operator', force: true });
const name = uniqueName('backup-cronjob');

function desired(build = buildLogicalBackupCronJob): KubeObject {
  const cron = build(context(territory({ name }))) as KubeObject;
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

describe('the restore-drill CronJob', () => {
  it('is stored as built, and gets back its retries, deadline and environment after a tenant edit', async () => {
    const cron = desired(buildRestoreDrillCronJob);
    await applier.apply(cron);
    expect((await applier.apply(cron)).written).toBe(false);
    const ref = { apiVersion: 'batch/v1', kind: 'CronJob', name: 'restore-drill', namespace: name };
    type Live = KubeObject & {
      spec: {
        concurrencyPolicy: string;
        jobTemplate: {
          metadata: { labels: Record<string, string> };
          spec: {
            backoffLimit: number;
            activeDeadlineSeconds: number;
            podFailurePolicy: unknown;
            template: {
              spec: {
                containers: {
                  image: string;
                  env: { name: string; value?: string }[];
                  resources: Record<string, unknown>;
                }[];
                volumes: { name: string }[];
              };
            };
          };
        };
      };
    };
    const stored = (await client.get(ref)) as Live;
    const want = cron as unknown as Live;
    expect(stored.spec.jobTemplate.spec.podFailurePolicy).toEqual(
      want.spec.jobTemplate.spec.podFailurePolicy,
    );
    expect(stored.spec.jobTemplate.metadata.labels).toEqual(want.spec.jobTemplate.metadata.labels);
    // As built, plus what the API server defaults (a Secret volume's mode).
    expect(stored.spec.jobTemplate.spec.template.spec.volumes).toMatchObject(
      want.spec.jobTemplate.spec.template.spec.volumes,
    );
    expect(stored.spec.jobTemplate.spec.template.spec.containers[0]?.resources).toEqual(
      want.spec.jobTemplate.spec.template.spec.containers[0]?.resources,
    );

    await client.patch(
      ref,
      {
        spec: {
          concurrencyPolicy: 'Allow',
          jobTemplate: {
            spec: {
              backoffLimit: 6,
              activeDeadlineSeconds: 9_999_999,
              template: {
                spec: {
                  containers: [
                    {
                      name: 'drill',
                      env: [
                        { name: 'PGHOST', value: 'db-rw' },
                        { name: 'PGUSER', value: 'app' },
                      ],
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
    expect((await applier.apply(cron)).written).toBe(true);
    const live = (await client.get(ref)) as Live;
    expect(live.spec.concurrencyPolicy).toBe('Forbid');
    expect(live.spec.jobTemplate.spec.backoffLimit).toBe(0);
    expect(live.spec.jobTemplate.spec.activeDeadlineSeconds).toBe(
      want.spec.jobTemplate.spec.activeDeadlineSeconds,
    );
    // Variables the operator does not set are not its to remove; the drill builds its PostgreSQL
    // environment from nothing, so they could not reach the database anyway (backup/drill.ts). What the
    // admission policy forbids is the edit itself (chart-admission.test.ts).
    const names = live.spec.jobTemplate.spec.template.spec.containers[0]?.env.map((e) => e.name) ?? [];
    expect(names).toEqual(expect.arrayContaining(['TERRITORY_NAME', 'S3_ENDPOINT', 'TERRITORY_RUNTIME_DIR']));
  });
});
