// Backups, two kinds. Physical: CloudNativePG's WAL archive and base backups through the Barman Cloud
// plugin (configured in object-store.ts, scheduled here). Logical: a CronJob running our own backup command, which encrypts each
// pg_dump on the client side with the authority's current data key before it leaves the namespace
// (what CloudNativePG does not offer).
import type { BuildContext, Owned } from './context.ts';
import { ownedMeta, regionAffinity } from './context.ts';
import {
  BACKUP_SECRET,
  backupRole,
  CA_SECRET,
  CLUSTER_NAME,
  databaseHost,
  databaseName,
} from './database.ts';
import { KEYRING_KEY, KEYRING_SECRET } from './keys.ts';
import { backupPodLabels } from './network.ts';
import { BARMAN_CLOUD_PLUGIN } from './object-store.ts';

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
      // Through the Barman Cloud plugin, into the ObjectStore the Cluster names (object-store.ts).
      method: 'plugin',
      pluginConfiguration: { name: BARMAN_CLOUD_PLUGIN },
      backupOwnerReference: 'self',
      immediate: false,
    },
  };
}

const KEYS_DIR = '/var/run/territory/keys';
const KEK_DIR = '/var/run/territory/customer-key';
export const CA_DIR = '/var/run/territory/db-ca';
const S3_CA_DIR = '/var/run/territory/s3-ca';
const S3_CREDENTIALS_DIR = '/var/run/territory/s3-credentials';
export const DB_CREDENTIALS_DIR = '/var/run/territory/db-credentials';
export const RUNTIME_DIR = '/var/run/territory/run';

/** The backup command in the operator image (the admission policy pins the image of our CronJobs). */
export const BACKUP_COMMAND = ['node', '/app/operator/src/cli/territory-backup.ts'];
/** The user the backup command runs as (the image has a passwd entry for it, which initdb needs). */
const RUN_AS = 65532;

/** A backup that has not finished in this time is stopped (and counts as failed). */
export const BACKUP_DEADLINE_SECONDS = 6 * 3600;

/** An environment variable the operator names even when it has no value, so nobody else can set it. */
function envVar(name: string, value: string | undefined): { name: string; value?: string } {
  // Without a value rather than with "": the API server drops an empty value, so the live object would
  // never match what was applied and every reconcile would apply it again. Unset reads as "" anyway.
  return value ? { name, value } : { name };
}

/**
 * Where the backups are and the keys that open them, as the backup command reads them: what the backup
 * and the restore drill share. Every destination variable is named, set or empty (see envVar).
 */
export function storeEnv(ctx: BuildContext): { name: string; value?: string }[] {
  const d = ctx.territory.spec.backup.destination;
  const customerKey = ctx.territory.spec.encryption.customerKey;
  return [
    { name: 'S3_ENDPOINT', value: d.endpoint },
    { name: 'S3_BUCKET', value: d.bucket },
    envVar('S3_PREFIX', d.pathPrefix),
    { name: 'S3_REGION', value: d.region ?? 'us-east-1' },
    // A private CA for the object store: the backup command trusts this bundle instead of the public CAs.
    envVar('S3_CA_FILE', d.endpointCA ? `${S3_CA_DIR}/ca.crt` : undefined),
    { name: 'S3_ACCESS_KEY_ID_FILE', value: `${S3_CREDENTIALS_DIR}/access-key-id` },
    { name: 'S3_SECRET_ACCESS_KEY_FILE', value: `${S3_CREDENTIALS_DIR}/secret-access-key` },
    { name: 'KEYRING_FILE', value: `${KEYS_DIR}/${KEYRING_KEY}` },
    envVar('KEK_FILE', customerKey ? `${KEK_DIR}/kek` : undefined),
  ];
}

// 0440: readable by the Pod's group (fsGroup), as the backup command runs as a non-root user.
export const secretVolume = (secretName: string, items: { key: string; path: string }[]) => ({
  secret: { secretName, defaultMode: 0o440, items },
});

export const keyringVolume = () => ({
  name: 'keyring',
  secret: { secretName: KEYRING_SECRET, items: [{ key: KEYRING_KEY, path: KEYRING_KEY }] },
});
export const keyringMount = () => ({ name: 'keyring', mountPath: KEYS_DIR, readOnly: true });

export function s3CredentialsVolume(ctx: BuildContext) {
  const ref = ctx.territory.spec.backup.destination.credentialsSecret;
  return {
    name: 's3-credentials',
    ...secretVolume(ref.name, [
      { key: ref.accessKeyIdKey, path: 'access-key-id' },
      { key: ref.secretAccessKeyKey, path: 'secret-access-key' },
    ]),
  };
}
export const s3CredentialsMount = () => ({
  name: 's3-credentials',
  mountPath: S3_CREDENTIALS_DIR,
  readOnly: true,
});

/** The object store's private CA and the authority's key-encryption key, when the Territory has them. */
export function optionalStoreVolumes(ctx: BuildContext): {
  volumeMounts: { name: string; mountPath: string; readOnly: boolean }[];
  volumes: Record<string, unknown>[];
} {
  const d = ctx.territory.spec.backup.destination;
  const customerKey = ctx.territory.spec.encryption.customerKey;
  const volumeMounts: { name: string; mountPath: string; readOnly: boolean }[] = [];
  const volumes: Record<string, unknown>[] = [];
  if (d.endpointCA) {
    volumeMounts.push({ name: 's3-ca', mountPath: S3_CA_DIR, readOnly: true });
    volumes.push({
      name: 's3-ca',
      secret: { secretName: d.endpointCA.name, items: [{ key: d.endpointCA.key, path: 'ca.crt' }] },
    });
  }
  if (customerKey) {
    volumeMounts.push({ name: 'customer-key', mountPath: KEK_DIR, readOnly: true });
    volumes.push({
      name: 'customer-key',
      secret: { secretName: customerKey.secretName, items: [{ key: customerKey.key, path: 'kek' }] },
    });
  }
  return { volumeMounts, volumes };
}

/**
 * The Pod spec of the backup command, as restricted as Pod Security's `restricted` level asks and then
 * some: non-root, no privilege escalation, no capability, read-only root filesystem, RuntimeDefault
 * seccomp, no ServiceAccount token, no Service links, and only in the allowed regions.
 */
export function hardenedPodSpec(
  ctx: BuildContext,
  c: {
    name: string;
    args: string[];
    env: { name: string; value?: string }[];
    volumeMounts: Record<string, unknown>[];
    resources: Record<string, unknown>;
    volumes: Record<string, unknown>[];
  },
): Record<string, unknown> {
  return {
    restartPolicy: 'Never',
    // The namespace's default ServiceAccount, with no token: the backup command needs no API access.
    serviceAccountName: 'default',
    automountServiceAccountToken: false,
    // No *_SERVICE_HOST/PORT variables for every Service of the namespace.
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      runAsGroup: RUN_AS,
      fsGroup: RUN_AS,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    affinity: { nodeAffinity: regionAffinity(ctx) },
    containers: [
      {
        name: c.name,
        image: ctx.config.operatorImage,
        command: BACKUP_COMMAND,
        // Set, so the operator owns it: arguments an admin appends are removed by the next apply.
        args: c.args,
        env: c.env,
        volumeMounts: c.volumeMounts,
        resources: c.resources,
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
    volumes: c.volumes,
  };
}

/**
 * The logical-backup CronJob. Every field that decides whether, when, where, as whom and with which
 * keys a backup runs is set here, explicitly, even where it equals the API server's default: the
 * operator applies with server-side apply and force, which restores the fields it sets and only
 * those, so a field left to its default would stay as an authority's admin edited it (`suspend`,
 * an appended `--endpoint`, another ServiceAccount). The backup command itself takes no option
 * that redirects backups, and its environment names every destination variable, set or empty.
 *
 * No credential is an environment variable (those are inherited by every child process and readable
 * in /proc): the S3 keys and the database password are mounted Secret files, read by the backup
 * command, which hands the S3 keys to its client and writes a passfile for pg_dump into a
 * memory-backed folder. It dumps as the read-only backup role, not as the database owner.
 */
export function buildLogicalBackupCronJob(ctx: BuildContext): Owned {
  const t = ctx.territory;
  const b = t.spec.backup;
  const env = [
    { name: 'TERRITORY_NAME', value: t.metadata.name },
    { name: 'PGHOST', value: databaseHost(ctx) },
    { name: 'PGPORT', value: '5432' },
    { name: 'PGDATABASE', value: databaseName(ctx) },
    { name: 'PGUSER', value: backupRole(ctx) },
    { name: 'PG_PASSWORD_FILE', value: `${DB_CREDENTIALS_DIR}/password` },
    // The server certificate is checked against CloudNativePG's CA for the cluster serving the database
    // (its own, or its pool's: the Territory's db-ca Secret holds either).
    { name: 'PGSSLMODE', value: 'verify-full' },
    { name: 'PGSSLROOTCERT', value: `${CA_DIR}/ca.crt` },
    ...storeEnv(ctx),
    { name: 'TERRITORY_RUNTIME_DIR', value: RUNTIME_DIR },
    { name: 'RETENTION_DAYS', value: String(b.retentionDays) },
    { name: 'CLIENT_SIDE_ENCRYPTION', value: String(b.clientSideEncryption) },
  ];
  const volumeMounts = [
    { name: 'keyring', mountPath: KEYS_DIR, readOnly: true },
    { name: 'db-ca', mountPath: CA_DIR, readOnly: true },
    { name: 's3-credentials', mountPath: S3_CREDENTIALS_DIR, readOnly: true },
    { name: 'db-credentials', mountPath: DB_CREDENTIALS_DIR, readOnly: true },
    { name: 'run', mountPath: RUNTIME_DIR },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const volumes: Record<string, unknown>[] = [
    keyringVolume(),
    { name: 'db-ca', secret: { secretName: CA_SECRET, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
    s3CredentialsVolume(ctx),
    { name: 'db-credentials', ...secretVolume(BACKUP_SECRET, [{ key: 'password', path: 'password' }]) },
    // The passfile lives here while pg_dump runs: memory, never a disk.
    { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
  ];
  const optional = optionalStoreVolumes(ctx);
  volumeMounts.push(...optional.volumeMounts);
  volumes.push(...optional.volumes);
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: ownedMeta(ctx, LOGICAL_BACKUP_CRONJOB, 'backup'),
    spec: {
      schedule: b.schedule,
      // The schedule is documented in UTC; without this the controller manager's own zone applies.
      timeZone: 'Etc/UTC',
      suspend: false,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        spec: {
          backoffLimit: 2,
          activeDeadlineSeconds: BACKUP_DEADLINE_SECONDS,
          template: {
            metadata: {
              // What the backup-destination NetworkPolicy selects (reserved labels: no tenant Pod carries them).
              labels: backupPodLabels(ctx),
            },
            spec: hardenedPodSpec(ctx, {
              name: 'backup',
              args: ['backup'],
              env,
              volumeMounts,
              resources: {
                requests: { cpu: '100m', memory: '256Mi' },
                limits: { cpu: '1', memory: '512Mi' },
              },
              volumes,
            }),
          },
        },
      },
    },
  };
}
