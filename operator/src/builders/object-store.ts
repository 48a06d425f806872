// Physical backups (CloudNativePG's WAL archive and base backups) through CloudNativePG's Barman Cloud
// plugin (CNPG-I), which replaces the in-tree `spec.backup.barmanObjectStore` (deprecated, removed after
// CloudNativePG 1.31). Three objects say it, all built here or from here:
//   - an ObjectStore (barmancloud.cnpg.io/v1) in the Territory's namespace: where, with which credentials
//     and CA, how WAL and base backups are compressed and encrypted, and how long they are kept;
//   - the Cluster's `spec.plugins` entry naming the plugin as its WAL archiver, with that ObjectStore
//     (database.ts);
//   - the ScheduledBackup with `method: plugin` (backup.ts).
// The plugin injects a sidecar (barman-cloud) into each instance Pod: it shares the Pod's network, so the
// database Pods' NetworkPolicies (the object store's CIDRs, the API server: network.ts) are its own.
//
// barman-cloud encrypts on the server side only (AES256: the storage provider's key): the provider can read
// these backups, which is why they are off unless the spec says `encryption: ProviderManaged`.
import type { Territory } from '../api/territory.ts';
import type { BuildContext, Owned } from './context.ts';
import { ownedMeta } from './context.ts';

export const OBJECT_STORE_API_VERSION = 'barmancloud.cnpg.io/v1';
export const OBJECT_STORE_KIND = 'ObjectStore';
export const OBJECT_STORE_NAME = 'physical-backups';
/** The plugin's name in a Cluster's spec.plugins and a Backup's pluginConfiguration (its CNPG-I identity). */
export const BARMAN_CLOUD_PLUGIN = 'barman-cloud.cloudnative-pg.io';
/** What a platform installs to get the ObjectStore kind, as said to users. */
export const BARMAN_CLOUD_PLUGIN_RELEASE = 'plugin-barman-cloud v0.14.0 or later';

/**
 * The key prefix of a Territory's physical backups in its bucket, `<pathPrefix>/<territory>/physical/`:
 * where barman-cloud writes (under `<server name>/`: the Cluster's name, db, or db-<request> for a Cluster
 * recovered to a point in time: database.ts serverNameOf), and what deleting the Territory
 * with deletionPolicy Delete erases.
 */
export function physicalBackupPrefix(t: Territory): string {
  const d = t.spec.backup.destination;
  const prefix = d.pathPrefix ? `${d.pathPrefix.replace(/^\/+|\/+$/g, '')}/` : '';
  return `${prefix}${t.metadata.name}/physical/`;
}

export function physicalBackupPath(ctx: BuildContext): string {
  const d = ctx.territory.spec.backup.destination;
  return `s3://${d.bucket}/${physicalBackupPrefix(ctx.territory).slice(0, -1)}`;
}

/**
 * The bucket's region, for barman-cloud's request signatures: the ObjectStore reads it only from a
 * Secret. Without it barman-cloud signs for us-east-1, which a store checking the region refuses
 * (400 Bad Request on the first request, seen on a real node): the WAL archive then fails.
 */
export const BACKUP_REGION_SECRET = 'backup-s3-region';

/**
 * Physical backups are asked for, allowed (sovereign destination, credentials present), and possible: only
 * in a cluster of the Territory's own (a pool's physical backups are the platform's, and the API refuses
 * them with the Shared tier).
 */
export const physicalBackupsWanted = (ctx: BuildContext): boolean =>
  ctx.backupAllowed && ctx.territory.spec.backup.physical.enabled && !ctx.databasePool;

/** Whether the Cluster archives WAL and takes base backups through the plugin (ObjectStore, region Secret). */
export const physicalBackupsOn = (ctx: BuildContext): boolean =>
  physicalBackupsWanted(ctx) && ctx.barmanCloudPlugin;

export function buildBackupRegionSecret(ctx: BuildContext): Owned | undefined {
  if (!physicalBackupsOn(ctx)) return undefined;
  const region = ctx.territory.spec.backup.destination.region ?? 'us-east-1';
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMeta(ctx, BACKUP_REGION_SECRET, 'backup'),
    type: 'Opaque',
    data: { region: Buffer.from(region).toString('base64') },
  };
}

/**
 * The sidecar's resources, set here rather than left to the namespace's LimitRange defaults: it runs in
 * every instance Pod, so it counts against the Territory's quota. barman-cloud streams base backups in
 * multipart uploads; these are the LimitRange's defaults, made explicit.
 */
export const SIDECAR_RESOURCES = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { cpu: '500m', memory: '512Mi' },
};

export function buildObjectStore(ctx: BuildContext): Owned | undefined {
  if (!physicalBackupsOn(ctx)) return undefined;
  const b = ctx.territory.spec.backup;
  const d = b.destination;
  const creds = d.credentialsSecret;
  return {
    apiVersion: OBJECT_STORE_API_VERSION,
    kind: OBJECT_STORE_KIND,
    metadata: ownedMeta(ctx, OBJECT_STORE_NAME, 'backup'),
    spec: {
      retentionPolicy: `${b.retentionDays}d`,
      configuration: {
        destinationPath: physicalBackupPath(ctx),
        endpointURL: d.endpoint,
        ...(d.endpointCA ? { endpointCA: { name: d.endpointCA.name, key: d.endpointCA.key } } : {}),
        s3Credentials: {
          accessKeyId: { name: creds.name, key: creds.accessKeyIdKey },
          secretAccessKey: { name: creds.name, key: creds.secretAccessKeyKey },
          region: { name: BACKUP_REGION_SECRET, key: 'region' },
        },
        wal: { compression: 'gzip', encryption: 'AES256' },
        data: { compression: 'gzip', encryption: 'AES256' },
      },
      instanceSidecarConfiguration: { resources: SIDECAR_RESOURCES },
    },
  };
}

/**
 * The Cluster's spec.plugins when physical backups are on: the plugin archives WAL into the ObjectStore,
 * under `<serverName>/` when one is given (a recovered Cluster: database.ts serverNameOf), else under
 * the Cluster's name, CloudNativePG's default, left unsaid so that live Clusters keep their spec.
 */
export function clusterPlugins(
  ctx: BuildContext,
  serverName?: string,
): Record<string, unknown>[] | undefined {
  if (!physicalBackupsOn(ctx)) return undefined;
  return [
    {
      name: BARMAN_CLOUD_PLUGIN,
      enabled: true,
      isWALArchiver: true,
      parameters: { barmanObjectName: OBJECT_STORE_NAME, ...(serverName ? { serverName } : {}) },
    },
  ];
}

/** What a recovery reads, as an external cluster's `plugin`: the physical backups of `serverName`. */
export function recoveryPluginConfiguration(serverName: string): Record<string, unknown> {
  return { name: BARMAN_CLOUD_PLUGIN, parameters: { barmanObjectName: OBJECT_STORE_NAME, serverName } };
}
