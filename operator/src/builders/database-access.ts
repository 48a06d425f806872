// The database-access Job of a Territory whose database is in a pool: `territory-backup database-access`,
// run once as the database's owner, so that only the Territory's own roles may connect to it
// (backup/database-access.ts). One per Database object: its name carries the object's uid, so a database
// created again (a Territory re-created with deletionPolicy Retain in between, say) is secured again, and the
// API server itself refuses a second Job for the same one.
//
// The backup command's hardened Pod (backup.ts), with the owner's password and the pool's CA only: no S3
// credentials, no keyring. It reaches the pool like every Pod of the namespace (allow-database-pool).
import { CA_DIR, DB_CREDENTIALS_DIR, hardenedPodSpec, RUNTIME_DIR, secretVolume } from './backup.ts';
import type { BuildContext, Owned } from './context.ts';
import { ownedMeta } from './context.ts';
import { CA_SECRET, databaseHost, databaseName, OWNER_SECRET, ownerRole } from './database.ts';

/** The component label of database-access Jobs (the operator watches them by it, with the restores'). */
export const DATABASE_ACCESS_COMPONENT = 'database-access';
export const DATABASE_ACCESS_CONTAINER = 'database-access';

export function databaseAccessJobName(databaseUid: string): string {
  return `database-access-${databaseUid.replace(/-/g, '').slice(0, 12)}`;
}

export function buildDatabaseAccessJob(ctx: BuildContext, databaseUid: string): Owned {
  const podSpec = hardenedPodSpec(ctx, {
    name: DATABASE_ACCESS_CONTAINER,
    args: ['database-access'],
    env: [
      { name: 'TERRITORY_NAME', value: ctx.territory.metadata.name },
      { name: 'PGHOST', value: databaseHost(ctx) },
      { name: 'PGPORT', value: '5432' },
      { name: 'PGDATABASE', value: databaseName(ctx) },
      { name: 'PGUSER', value: ownerRole(ctx) },
      { name: 'PG_PASSWORD_FILE', value: `${DB_CREDENTIALS_DIR}/password` },
      { name: 'PGSSLMODE', value: 'verify-full' },
      { name: 'PGSSLROOTCERT', value: `${CA_DIR}/ca.crt` },
      { name: 'TERRITORY_RUNTIME_DIR', value: RUNTIME_DIR },
    ],
    volumeMounts: [
      { name: 'db-ca', mountPath: CA_DIR, readOnly: true },
      { name: 'db-credentials', mountPath: DB_CREDENTIALS_DIR, readOnly: true },
      { name: 'run', mountPath: RUNTIME_DIR },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    resources: {
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    },
    volumes: [
      { name: 'db-ca', secret: { secretName: CA_SECRET, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      { name: 'db-credentials', ...secretVolume(OWNER_SECRET, [{ key: 'password', path: 'password' }]) },
      { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
    ],
  });
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: ownedMeta(ctx, databaseAccessJobName(databaseUid), DATABASE_ACCESS_COMPONENT),
    spec: {
      // The statements are idempotent: a Pod that failed (the pool failing over) is simply run again.
      backoffLimit: 6,
      activeDeadlineSeconds: 600,
      template: {
        metadata: { labels: { 'app.kubernetes.io/component': DATABASE_ACCESS_COMPONENT } },
        spec: podSpec,
      },
    },
  };
}
