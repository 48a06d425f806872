// The environment the logical-backup CronJob gives the `territory-backup` command, pointed at the test
// servers: libpq settings without a password variable, the password and S3 keys as files (what the
// CronJob mounts), the bucket, and the territory's keyring. Callers add or override the rest.
import type { PostgresServer } from './postgres.ts';
import type { S3Server } from './s3.ts';

export function backupCommandEnv(
  pg: PostgresServer,
  s3: S3Server,
  opts: { territory: string; database: string; bucket: string; prefix?: string; keyringFile: string },
): Record<string, string> {
  const { PGPASSWORD: _password, ...libpq } = pg.env;
  return {
    PATH: process.env.PATH ?? '',
    ...libpq,
    PGDATABASE: opts.database,
    PG_PASSWORD_FILE: pg.passwordFile,
    PG_BINDIR: pg.binDir,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_BUCKET: opts.bucket,
    ...(opts.prefix ? { S3_PREFIX: opts.prefix } : {}),
    S3_ACCESS_KEY_ID_FILE: s3.credentialFiles.accessKeyId,
    S3_SECRET_ACCESS_KEY_FILE: s3.credentialFiles.secretAccessKey,
    TERRITORY_NAME: opts.territory,
    KEYRING_FILE: opts.keyringFile,
  };
}
