// Physical backups through CloudNativePG's Barman Cloud plugin, reconciled by the real operator against the
// real API server with CloudNativePG's and the plugin's CRDs (v1.30.0, v0.14.0): the ObjectStore, the
// Cluster naming the plugin and the ScheduledBackup with method plugin are accepted by their schemas;
// the Territory reads backup health where CloudNativePG and the plugin report it (the Cluster's
// conditions, the ObjectStore's status, written here as they would write them: neither runs without a
// node); turning physical backups off removes the plugin from the Cluster, then the ObjectStore.
// Without the plugin installed (ObjectStore not served), BackupReady says BarmanCloudPluginNotInstalled:
// that outcome is unit-tested (territory-logic.test.ts), since this API server serves the CRD to every
// test file at once.
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { LEAVE_PHYSICAL_BACKUPS_ANNOTATION } from '../../operator/src/territory/physical-erasure.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { OUTSCALE_ATTESTATION, rennesTerritory } from '../support/territories.ts';

let op: TestOperator;

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('physical'),
    config: {
      cluster: OUTSCALE_ATTESTATION,
      backupEgress: [{ host: 'oos.eu-west-2.outscale.com', cidrs: ['198.51.100.0/24'] }],
    },
  });
}, 300_000);

afterAll(async () => {
  await op?.stop();
});

type Condition = { type: string; status: string; reason?: string; message?: string };
type TerritoryStatus = {
  conditions?: Condition[];
  backup?: {
    physical?: { state?: string; lastSuccessful?: string; lastFailed?: string; encryption?: string };
  };
};

const ref = (apiVersion: string, kind: string, name: string, namespace?: string) => ({
  apiVersion,
  kind,
  name,
  ...(namespace ? { namespace } : {}),
});
const objectStoreRef = (ns: string) => ref('barmancloud.cnpg.io/v1', 'ObjectStore', 'physical-backups', ns);
const clusterRef = (ns: string) => ref('postgresql.cnpg.io/v1', 'Cluster', 'db', ns);
const scheduleRef = (ns: string) => ref('postgresql.cnpg.io/v1', 'ScheduledBackup', 'physical-backup', ns);

describe('physical backups through the Barman Cloud plugin', () => {
  it('are accepted by the real schemas, report where CloudNativePG and the plugin do, and go when turned off', async () => {
    const name = uniqueName('physical');
    onTestFailed(() => {
      console.log(`operator log (last 40 lines):\n${op.logs.slice(-40).join('\n')}`);
    });
    const territory = ref('sovereign.dev/v1alpha1', 'Territory', name);
    const read = async () => ((await op.client.get(territory))?.status ?? {}) as TerritoryStatus;
    await op.client.create(
      op.label({
        ...rennesTerritory(name, {
          deletionPolicy: 'Delete',
          backup: {
            retentionDays: 14,
            physical: { enabled: true, encryption: 'ProviderManaged' },
            destination: {
              endpoint: 'https://oos.eu-west-2.outscale.com',
              bucket: 'rennes-backups',
              region: 'eu-west-2',
              credentialsSecret: { name: 'oos' },
            },
          },
        }),
        // Its bucket is fictional: nothing to erase there when the test deletes it.
        metadata: { name, annotations: { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: 'integration test' } },
      } as KubeObject),
    );
    await waitFor(() => op.client.get(ref('v1', 'Namespace', name)), { what: `namespace ${name}` });
    await op.client.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'oos', namespace: name },
      stringData: { ACCESS_KEY_ID: 'AKIATEST', ACCESS_SECRET_KEY: 'not-a-real-secret' },
    });

    // The three objects, as the API server accepted them.
    const store = await waitFor(() => op.client.get(objectStoreRef(name)), {
      what: `ObjectStore ${name}/physical-backups`,
      timeoutMs: 15_000,
    });
    expect(store.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Territory', name, controller: true });
    expect(store.spec).toMatchObject({
      retentionPolicy: '14d',
      configuration: {
        destinationPath: `s3://rennes-backups/${name}/physical`,
        endpointURL: 'https://oos.eu-west-2.outscale.com',
        s3Credentials: {
          accessKeyId: { name: 'oos', key: 'ACCESS_KEY_ID' },
          secretAccessKey: { name: 'oos', key: 'ACCESS_SECRET_KEY' },
          region: { name: 'backup-s3-region', key: 'region' },
        },
        wal: { compression: 'gzip', encryption: 'AES256' },
        data: { compression: 'gzip', encryption: 'AES256' },
      },
    });
    const cluster = await waitFor(() => op.client.get(clusterRef(name)), { what: `Cluster ${name}/db` });
    const clusterSpec = cluster.spec as { backup?: unknown; plugins?: unknown[] };
    expect(clusterSpec.backup).toBeUndefined();
    expect(clusterSpec.plugins).toEqual([
      {
        name: 'barman-cloud.cloudnative-pg.io',
        enabled: true,
        isWALArchiver: true,
        parameters: { barmanObjectName: 'physical-backups' },
      },
    ]);
    const schedule = await waitFor(() => op.client.get(scheduleRef(name)), {
      what: `ScheduledBackup ${name}/physical-backup`,
    });
    expect(schedule.spec).toMatchObject({
      method: 'plugin',
      pluginConfiguration: { name: 'barman-cloud.cloudnative-pg.io' },
    });

    // Nothing reported yet: pending, and honest about who can read these backups.
    const pending = await waitFor(
      async () => {
        const s = await read();
        return s.backup?.physical ? s : undefined;
      },
      { what: 'status.backup.physical', timeoutMs: 15_000 },
    );
    expect(pending.backup?.physical).toMatchObject({ state: 'Pending', encryption: 'ProviderManaged' });

    // CloudNativePG's instance manager reports WAL archiving and the last backup on the Cluster; the
    // plugin's sidecar reports the bucket's catalog on the ObjectStore.
    const condition = (type: string, status: string, reason: string, message: string, at: string) => ({
      type,
      status,
      reason,
      message,
      lastTransitionTime: at,
    });
    const now = Date.now();
    const iso = (msAgo: number) => new Date(now - msAgo).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await op.client.patch(
      clusterRef(name),
      {
        status: {
          conditions: [
            condition(
              'ContinuousArchiving',
              'True',
              'ContinuousArchivingSuccess',
              'Continuous archiving is working',
              iso(600_000),
            ),
            condition(
              'LastBackupSucceeded',
              'True',
              'LastBackupSucceeded',
              'Backup was successful',
              iso(60_000),
            ),
          ],
        },
      },
      'merge',
      { subresource: 'status' },
    );
    await op.client.patch(
      objectStoreRef(name),
      {
        status: {
          serverRecoveryWindow: {
            db: { firstRecoverabilityPoint: iso(120_000), lastSuccessfulBackupTime: iso(65_000) },
          },
        },
      },
      'merge',
      { subresource: 'status' },
    );
    const succeeded = await waitFor(
      async () => {
        const s = await read();
        return s.backup?.physical?.state === 'Succeeded' ? s : undefined;
      },
      { what: 'status.backup.physical Succeeded', timeoutMs: 15_000 },
    );
    expect(succeeded.backup?.physical?.lastSuccessful).toBe(iso(60_000));

    // WAL archiving failing: said at once, with barman-cloud's words.
    await op.client.patch(
      clusterRef(name),
      {
        status: {
          conditions: [
            condition(
              'ContinuousArchiving',
              'False',
              'ContinuousArchivingFailing',
              'unexpected failure invoking barman-cloud-wal-archive: exit status 4',
              iso(0),
            ),
            condition(
              'LastBackupSucceeded',
              'True',
              'LastBackupSucceeded',
              'Backup was successful',
              iso(60_000),
            ),
          ],
        },
      },
      'merge',
      { subresource: 'status' },
    );
    const failing = await waitFor(
      async () => {
        const s = await read();
        return s.backup?.physical?.state === 'Failing' ? s : undefined;
      },
      { what: 'status.backup.physical Failing', timeoutMs: 15_000 },
    );
    expect(failing.conditions?.find((c) => c.type === 'BackupReady')).toMatchObject({
      status: 'False',
      reason: 'BackupFailing',
      message: expect.stringContaining('barman-cloud-wal-archive: exit status 4'),
    });

    // Turned off: the Cluster names no plugin any more, then its ObjectStore and schedule go.
    await op.client.patch(territory, { spec: { backup: { physical: { enabled: false } } } }, 'merge');
    await waitFor(
      async () => {
        const [c, s, b] = await Promise.all([
          op.client.get(clusterRef(name)),
          op.client.get(objectStoreRef(name)),
          op.client.get(scheduleRef(name)),
        ]);
        return !(c?.spec as { plugins?: unknown } | undefined)?.plugins && !s && !b ? true : undefined;
      },
      { what: 'the plugin, the ObjectStore and the ScheduledBackup to go', timeoutMs: 15_000 },
    );
    expect((await read()).backup?.physical).toBeUndefined();

    await op.client.delete(territory);
    await waitFor(async () => ((await op.client.get(territory)) ? undefined : true), {
      what: `Territory ${name} deleted`,
      timeoutMs: 60_000,
    });
  });
});
