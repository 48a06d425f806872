// A declarative restore (spec.restore): one Job per request, running `territory-backup restore-into`
// against the Territory's own database. Modelled on the logical backup (same image, same hardened Pod,
// same keyring and store files, TLS to the database checked against CloudNativePG's CA) with two
// database roles instead of one: it restores as the owner role (the only one that may create and drop
// the database's objects), and checks what it restored as the read-only backup role, which sees every
// row as the backup that is compared with did (row-level security included). Passwords are mounted
// files, never variables.
//
// A Job, not a CronJob: it runs once per request. Its name carries the request's id (a hash of
// spec.restore), so the API server itself refuses a second one for the same request, and its spec is
// immutable once created: nothing can change what a running restore restores.
//
// Its Pods carry the backup Pods' labels: the same egress to the object store (network.ts), and the
// database, like every Pod of the namespace: through allow-same-namespace, or allow-database-pool when
// the database is in a pool (the host, roles and CA are then the pool's: database.ts, database-names.ts).
import type { RestoreSpec } from '../api/restore.ts';
import {
  CA_DIR,
  DB_CREDENTIALS_DIR,
  hardenedPodSpec,
  keyringMount,
  keyringVolume,
  optionalStoreVolumes,
  RUNTIME_DIR,
  s3CredentialsMount,
  s3CredentialsVolume,
  secretVolume,
  storeEnv,
} from './backup.ts';
import type { BuildContext, Owned } from './context.ts';
import { ownedMeta } from './context.ts';
import {
  BACKUP_SECRET,
  backupRole,
  CA_SECRET,
  databaseHost,
  databaseName,
  OWNER_SECRET,
  ownerRole,
} from './database.ts';
import { backupPodLabels } from './network.ts';

/** The component label of restore Jobs (the operator watches them by it, with the drills'). */
export const RESTORE_COMPONENT = 'restore';
/** The restore's container: the name its pod failure policy refers to. */
export const RESTORE_CONTAINER = 'restore';
/** The label giving the request a Job runs (also in its name). */
export const RESTORE_REQUEST_LABEL = 'sovereign.dev/restore-request';

/** A restore that has not finished in this time is stopped (its transaction rolled back) and reported failed. */
export const RESTORE_DEADLINE_SECONDS = 6 * 3600;

/** Where the container leaves its result for the operator (the kubelet's default path, said explicitly). */
export const RESTORE_TERMINATION_PATH = '/dev/termination-log';

const CHECK_CREDENTIALS_DIR = '/var/run/territory/db-check-credentials';

export function restoreJobName(request: string): string {
  return `restore-${request}`;
}

/** The command's arguments for a request: which backup, and the confirmation. */
export function restoreArgs(restore: RestoreSpec): string[] {
  return [
    'restore-into',
    ...(restore.backup ? ['--object', restore.backup] : []),
    ...(restore.before ? ['--before', restore.before] : []),
    // The confirmation reaches the Job only as this flag: the CRD and the parser have checked it names
    // this Territory.
    ...(restore.replaceExistingData !== undefined ? ['--replace-existing-data'] : []),
  ];
}

/**
 * The restore Job of request `request` (restoreRequestId of `restore`). Created once by the reconciler
 * (POST, not apply), only when the database is ready and backups may be read.
 *
 * Like the drill's: backoffLimit 0 and a pod failure policy that fails the Job at the command's first
 * non-zero exit (its code, in the Job's Failed condition, tells the operator why), while a Pod lost to a
 * drain or preemption is replaced (its transaction was rolled back, so running again is safe). No TTL:
 * the finished Job is the record that the request ran (status.restore is the other one).
 */
export function buildRestoreJob(ctx: BuildContext, restore: RestoreSpec, request: string): Owned {
  const t = ctx.territory;
  const optional = optionalStoreVolumes(ctx);
  const env = [
    { name: 'TERRITORY_NAME', value: t.metadata.name },
    ...(restore.sourceTerritory
      ? [{ name: 'RESTORE_SOURCE_TERRITORY', value: restore.sourceTerritory }]
      : []),
    { name: 'PGHOST', value: databaseHost(ctx) },
    { name: 'PGPORT', value: '5432' },
    { name: 'PGDATABASE', value: databaseName(ctx) },
    { name: 'PGUSER', value: ownerRole(ctx) },
    { name: 'PG_PASSWORD_FILE', value: `${DB_CREDENTIALS_DIR}/password` },
    { name: 'PG_CHECK_USER', value: backupRole(ctx) },
    { name: 'PG_CHECK_PASSWORD_FILE', value: `${CHECK_CREDENTIALS_DIR}/password` },
    { name: 'PGSSLMODE', value: 'verify-full' },
    { name: 'PGSSLROOTCERT', value: `${CA_DIR}/ca.crt` },
    ...storeEnv(ctx),
    { name: 'TERRITORY_RUNTIME_DIR', value: RUNTIME_DIR },
    { name: 'TERMINATION_MESSAGE_PATH', value: RESTORE_TERMINATION_PATH },
    // Recorded in the restored database: should status and the Job both be lost (the request replayed
    // by GitOps), the database itself says this request was served, and nothing is overwritten again.
    { name: 'RESTORE_REQUEST', value: request },
  ];
  const volumeMounts = [
    keyringMount(),
    { name: 'db-ca', mountPath: CA_DIR, readOnly: true },
    s3CredentialsMount(),
    { name: 'db-credentials', mountPath: DB_CREDENTIALS_DIR, readOnly: true },
    { name: 'db-check-credentials', mountPath: CHECK_CREDENTIALS_DIR, readOnly: true },
    { name: 'run', mountPath: RUNTIME_DIR },
    { name: 'tmp', mountPath: '/tmp' },
    ...optional.volumeMounts,
  ];
  const volumes = [
    keyringVolume(),
    { name: 'db-ca', secret: { secretName: CA_SECRET, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
    s3CredentialsVolume(ctx),
    { name: 'db-credentials', ...secretVolume(OWNER_SECRET, [{ key: 'password', path: 'password' }]) },
    { name: 'db-check-credentials', ...secretVolume(BACKUP_SECRET, [{ key: 'password', path: 'password' }]) },
    // The passfiles live here while pg_restore and psql run: memory, never a disk.
    { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ...optional.volumes,
  ];
  const podSpec = hardenedPodSpec(ctx, {
    name: RESTORE_CONTAINER,
    args: restoreArgs(restore),
    env,
    volumeMounts,
    resources: {
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    },
    volumes,
  });
  const [container] = podSpec.containers as Record<string, unknown>[];
  if (container) {
    container.terminationMessagePath = RESTORE_TERMINATION_PATH;
    container.terminationMessagePolicy = 'File';
  }
  const labels = { [RESTORE_REQUEST_LABEL]: request };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: ownedMeta(ctx, restoreJobName(request), RESTORE_COMPONENT, { labels }),
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: RESTORE_DEADLINE_SECONDS,
      podFailurePolicy: {
        rules: [
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          {
            action: 'FailJob',
            onExitCodes: { containerName: RESTORE_CONTAINER, operator: 'NotIn', values: [0] },
          },
        ],
      },
      template: {
        metadata: { labels: backupPodLabels(ctx) },
        spec: podSpec,
      },
    },
  };
}
