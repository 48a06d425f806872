// Backups, two kinds. Physical: CloudNativePG's WAL archive and base backups (configured on the
// Cluster, scheduled here). Logical: a CronJob running our own backup command, which encrypts each
// pg_dump on the client side with the authority's current data key before it leaves the namespace
// (what CloudNativePG does not offer).
import type { BuildContext, Owned } from './context.ts';
import { ownedMeta, regionAffinity } from './context.ts';
import { CA_SECRET, CLUSTER_NAME, databaseName, OWNER_SECRET, RW_SERVICE } from './database.ts';
import { KEYRING_KEY, KEYRING_SECRET } from './keys.ts';

export const LOGICAL_BACKUP_CRONJOB = 'logical-backup';
export const PHYSICAL_BACKUP_SCHEDULE = 'physical-backup';

/** CloudNativePG schedules take a seconds field first (six fields); ours are classic cron (five). */
export function toCnpgSchedule(schedule: string): string {
  return `0 ${schedule.trim()}`;
}

export function buildScheduledBackup(ctx: BuildContext): Owned {
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'ScheduledBackup',
    metadata: ownedMeta(ctx, PHYSICAL_BACKUP_SCHEDULE, 'backup'),
    spec: {
      cluster: { name: CLUSTER_NAME },
      schedule: toCnpgSchedule(ctx.territory.spec.backup.schedule),
      method: 'barmanObjectStore',
      backupOwnerReference: 'self',
      immediate: false,
    },
  };
}

const KEYS_DIR = '/var/run/territory/keys';
const KEK_DIR = '/var/run/territory/customer-key';
const CA_DIR = '/var/run/territory/db-ca';
const S3_CA_DIR = '/var/run/territory/s3-ca';

function secretEnv(name: string, secret: string, key: string) {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

export function buildLogicalBackupCronJob(ctx: BuildContext): Owned {
  const t = ctx.territory;
  const b = t.spec.backup;
  const d = b.destination;
  const customerKey = t.spec.encryption.customerKey;
  const env = [
    { name: 'TERRITORY_NAME', value: t.metadata.name },
    { name: 'PGHOST', value: RW_SERVICE },
    { name: 'PGPORT', value: '5432' },
    { name: 'PGDATABASE', value: databaseName(ctx) },
    secretEnv('PGUSER', OWNER_SECRET, 'username'),
    secretEnv('PGPASSWORD', OWNER_SECRET, 'password'),
    // The server certificate is checked against CloudNativePG's CA for this cluster.
    { name: 'PGSSLMODE', value: 'verify-full' },
    { name: 'PGSSLROOTCERT', value: `${CA_DIR}/ca.crt` },
    { name: 'S3_ENDPOINT', value: d.endpoint },
    { name: 'S3_BUCKET', value: d.bucket },
    // Only when set: the API server drops an empty env value, so the CronJob would never match what
    // was applied and every reconcile would re-apply it. The backup command reads unset as ''.
    ...(d.pathPrefix ? [{ name: 'S3_PREFIX', value: d.pathPrefix }] : []),
    { name: 'S3_REGION', value: d.region ?? 'us-east-1' },
    secretEnv('AWS_ACCESS_KEY_ID', d.credentialsSecret.name, d.credentialsSecret.accessKeyIdKey),
    secretEnv('AWS_SECRET_ACCESS_KEY', d.credentialsSecret.name, d.credentialsSecret.secretAccessKeyKey),
    { name: 'KEYRING_FILE', value: `${KEYS_DIR}/${KEYRING_KEY}` },
    { name: 'RETENTION_DAYS', value: String(b.retentionDays) },
    { name: 'CLIENT_SIDE_ENCRYPTION', value: String(b.clientSideEncryption) },
  ];
  const volumeMounts = [
    { name: 'keyring', mountPath: KEYS_DIR, readOnly: true },
    { name: 'db-ca', mountPath: CA_DIR, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const volumes: Record<string, unknown>[] = [
    {
      name: 'keyring',
      secret: { secretName: KEYRING_SECRET, items: [{ key: KEYRING_KEY, path: KEYRING_KEY }] },
    },
    { name: 'db-ca', secret: { secretName: CA_SECRET, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
  ];
  if (d.endpointCA) {
    // A private CA for the object store: the backup command trusts this bundle instead of the public CAs.
    env.push({ name: 'S3_CA_FILE', value: `${S3_CA_DIR}/ca.crt` });
    volumeMounts.push({ name: 's3-ca', mountPath: S3_CA_DIR, readOnly: true });
    volumes.push({
      name: 's3-ca',
      secret: { secretName: d.endpointCA.name, items: [{ key: d.endpointCA.key, path: 'ca.crt' }] },
    });
  }
  if (customerKey) {
    env.push({ name: 'KEK_FILE', value: `${KEK_DIR}/kek` });
    volumeMounts.push({ name: 'customer-key', mountPath: KEK_DIR, readOnly: true });
    volumes.push({
      name: 'customer-key',
      secret: { secretName: customerKey.secretName, items: [{ key: customerKey.key, path: 'kek' }] },
    });
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: ownedMeta(ctx, LOGICAL_BACKUP_CRONJOB, 'backup'),
    spec: {
      schedule: b.schedule,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        spec: {
          backoffLimit: 2,
          template: {
            metadata: {
              labels: { 'sovereign.dev/territory': t.metadata.name, 'app.kubernetes.io/component': 'backup' },
            },
            spec: {
              restartPolicy: 'Never',
              automountServiceAccountToken: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 65532,
                runAsGroup: 65532,
                fsGroup: 65532,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              affinity: { nodeAffinity: regionAffinity(ctx) },
              containers: [
                {
                  name: 'backup',
                  image: ctx.config.operatorImage,
                  command: ['node', '/app/operator/src/cli/territory-backup.ts', 'backup'],
                  env,
                  volumeMounts,
                  resources: {
                    requests: { cpu: '100m', memory: '256Mi' },
                    limits: { cpu: '1', memory: '512Mi' },
                  },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ['ALL'] },
                  },
                },
              ],
              volumes,
            },
          },
        },
      },
    },
  };
}
