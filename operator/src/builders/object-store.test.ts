// Physical backups through CloudNativePG's Barman Cloud plugin: the ObjectStore, the Cluster's plugin
// entry and the ScheduledBackup, as golden shapes (what the plugin v0.14.0 and CloudNativePG v1.30.0
// read; the API server's judgement of them is in test/integration/operator-physical-backups.test.ts).
import { describe, expect, it } from 'vitest';
import type { Owned } from './context.ts';
import { context, withPhysicalBackups } from './fixtures.test-helpers.ts';
import { buildDesiredState } from './index.ts';
import {
  BARMAN_CLOUD_PLUGIN,
  buildObjectStore,
  clusterPlugins,
  OBJECT_STORE_NAME,
  physicalBackupPath,
  physicalBackupsOn,
} from './object-store.ts';

const owner = {
  apiVersion: 'sovereign.dev/v1alpha1',
  kind: 'Territory',
  name: 'rennes-metropole',
  uid: '7c3e1d2a-0000-4000-8000-000000000001',
  controller: true,
  blockOwnerDeletion: true,
};

describe('the ObjectStore', () => {
  it('points barman-cloud at the Territory’s physical prefix, with its credentials, region and encryption', () => {
    const t = withPhysicalBackups({
      endpoint: 'https://s3.gra.io.cloud.ovh.net',
      bucket: 'backups',
      region: 'gra',
      pathPrefix: 'territories/',
      credentialsSecret: { name: 'creds', accessKeyIdKey: 'id', secretAccessKeyKey: 'secret' },
      endpointCA: { name: 'objectstore-ca' },
    });
    const store = buildObjectStore(context(t)) as Owned;
    expect(store).toEqual({
      apiVersion: 'barmancloud.cnpg.io/v1',
      kind: 'ObjectStore',
      metadata: {
        name: 'physical-backups',
        namespace: 'rennes-metropole',
        labels: {
          'app.kubernetes.io/managed-by': 'territory-operator',
          'app.kubernetes.io/part-of': 'territory',
          'app.kubernetes.io/component': 'backup',
          'sovereign.dev/territory': 'rennes-metropole',
          'sovereign.dev/authority-kind': 'epci',
          'sovereign.dev/authority-code': '243500139',
          'sovereign.dev/departement': '35',
          'sovereign.dev/region': '53',
        },
        ownerReferences: [owner],
      },
      spec: {
        retentionPolicy: '35d',
        configuration: {
          destinationPath: 's3://backups/territories/rennes-metropole/physical',
          endpointURL: 'https://s3.gra.io.cloud.ovh.net',
          endpointCA: { name: 'objectstore-ca', key: 'ca.crt' },
          s3Credentials: {
            accessKeyId: { name: 'creds', key: 'id' },
            secretAccessKey: { name: 'creds', key: 'secret' },
            region: { name: 'backup-s3-region', key: 'region' },
          },
          // Server-side encryption only: the storage provider's key (why the spec must say ProviderManaged).
          wal: { compression: 'gzip', encryption: 'AES256' },
          data: { compression: 'gzip', encryption: 'AES256' },
        },
        instanceSidecarConfiguration: {
          resources: {
            requests: { cpu: '100m', memory: '128Mi' },
            limits: { cpu: '500m', memory: '512Mi' },
          },
        },
      },
    });
    // The plugin writes under <destinationPath>/<server name>/: the Cluster's name, inside the prefix the
    // Delete policy erases.
    expect(physicalBackupPath(context(t))).toBe('s3://backups/territories/rennes-metropole/physical');
  });

  it('keeps the retention of the Territory, and sets no serverName (the plugin refuses one here)', () => {
    const t = withPhysicalBackups();
    t.spec.backup.retentionDays = 90;
    const store = buildObjectStore(context(t)) as Owned;
    const spec = store.spec as { retentionPolicy: string; configuration: Record<string, unknown> };
    expect(spec.retentionPolicy).toBe('90d');
    expect(spec.configuration).not.toHaveProperty('serverName');
    expect(spec.configuration).not.toHaveProperty('endpointCA');
  });

  it('exists only while physical backups are asked for, allowed, and the plugin is installed', () => {
    const on = context(withPhysicalBackups());
    expect(physicalBackupsOn(on)).toBe(true);
    for (const ctx of [
      context(),
      context(withPhysicalBackups(), { backupAllowed: false }),
      context(withPhysicalBackups(), { barmanCloudPlugin: false }),
    ]) {
      expect(physicalBackupsOn(ctx)).toBe(false);
      expect(buildObjectStore(ctx)).toBeUndefined();
      expect(clusterPlugins(ctx)).toBeUndefined();
    }
  });

  it('comes before the Cluster that names it, after the region Secret it names', () => {
    const s = buildDesiredState(context(withPhysicalBackups()));
    expect(s.database.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
      'Secret/backup-s3-region',
      `ObjectStore/${OBJECT_STORE_NAME}`,
      'Cluster/db',
    ]);
    const cluster = s.database[2] as Owned;
    const { plugins } = cluster.spec as { plugins: { name: string; parameters: Record<string, string> }[] };
    expect(plugins).toHaveLength(1);
    expect(plugins[0]).toMatchObject({
      name: BARMAN_CLOUD_PLUGIN,
      parameters: { barmanObjectName: OBJECT_STORE_NAME },
    });
    // The ScheduledBackup names the same plugin, which takes the ObjectStore from the Cluster.
    expect(s.backup[0]?.spec).toMatchObject({
      method: 'plugin',
      pluginConfiguration: { name: BARMAN_CLOUD_PLUGIN },
    });
  });
});
