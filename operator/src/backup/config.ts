// Configuration of the backup commands: the environment the CronJob sets, and nothing else. There are
// no command-line overrides: where backups go (endpoint, bucket, prefix, region, CA), whose they are
// and which keys they use come only from what the operator sets and mounts, so an edit of the
// CronJob's arguments cannot send them elsewhere behind the sovereignty check. Credentials are files
// (mounted Secrets), never variables. Pure: takes the environment as an argument. Every problem is
// reported at once, by name, never with a value (some are secrets).

export interface BackupConfig {
  territory: string;
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  /** Files holding the S3 access key id and secret (a mounted Secret), read when the client is made. */
  credentialFiles: { accessKeyId: string; secretAccessKey: string };
  /** PEM bundle the endpoint's certificate must chain to, instead of the public CAs. */
  caFile?: string;
  keyringFile: string;
  kekFile?: string;
  /** Unset means "do not prune": nothing is ever deleted without an explicit retention. */
  retentionDays?: number;
  /** Newest backups kept whatever their age (never below 1). */
  keepAtLeast: number;
  /** Where the run's passfile is written (a memory-backed folder in the CronJob); default: a temporary folder. */
  runtimeDir?: string;
  /**
   * Whose backups a restore reads (RESTORE_SOURCE_TERRITORY): another territory's folder in the same
   * bucket and prefix; default `territory`. Read by `restore-into` only: nothing ever writes there.
   */
  sourceTerritory?: string;
  /**
   * The request a restore serves (RESTORE_REQUEST, spec.restore's id): `restore-into` records it in the
   * database it restored, and serves a request the database records already by changing nothing.
   */
  restoreRequest?: string;
  pg: {
    binDir?: string;
    database?: string;
    compress?: string;
    /** File holding the database password (a mounted Secret); turned into a passfile for pg_dump/pg_restore. */
    passwordFile?: string;
    /**
     * The role a restore checks what it restored as, and its password file (PG_CHECK_USER,
     * PG_CHECK_PASSWORD_FILE): the read-only backup role, which sees every row as the backup did.
     * Default: the role that restores.
     */
    checkUser?: string;
    checkPasswordFile?: string;
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv): BackupConfig {
  const problems: string[] = [];
  const pick = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const required = (name: string): string => {
    const v = pick(name);
    if (v === undefined) problems.push(`${name} is required`);
    return v ?? '';
  };
  const count = (raw: string | undefined, what: string, min: number): number | undefined => {
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw) || Number(raw) < min) {
      problems.push(`${what} must be a whole number >= ${min}`);
      return undefined;
    }
    return Number(raw);
  };

  const territory = required('TERRITORY_NAME');
  const endpoint = required('S3_ENDPOINT');
  if (endpoint && !/^https?:\/\/[^\s/]+/.test(endpoint)) problems.push('S3_ENDPOINT must be an http(s) URL');
  const bucket = required('S3_BUCKET');
  // AWS_ACCESS_KEY_ID and friends are deliberately not read: credentials come as files only.
  const accessKeyId = required('S3_ACCESS_KEY_ID_FILE');
  const secretAccessKey = required('S3_SECRET_ACCESS_KEY_FILE');
  const keyringFile = required('KEYRING_FILE');
  const retentionDays = count(pick('RETENTION_DAYS'), 'RETENTION_DAYS', 1);
  const keepAtLeast = count(pick('KEEP_AT_LEAST'), 'KEEP_AT_LEAST', 1) ?? 1;
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);

  const kekFile = pick('KEK_FILE');
  const caFile = pick('S3_CA_FILE');
  const runtimeDir = pick('TERRITORY_RUNTIME_DIR');
  const binDir = pick('PG_BINDIR');
  const database = pick('PGDATABASE');
  const compress = pick('PG_DUMP_COMPRESS');
  const passwordFile = pick('PG_PASSWORD_FILE');
  const checkUser = pick('PG_CHECK_USER');
  const checkPasswordFile = pick('PG_CHECK_PASSWORD_FILE');
  const sourceTerritory = pick('RESTORE_SOURCE_TERRITORY');
  const restoreRequest = pick('RESTORE_REQUEST');
  // It goes into SQL (a comment on the database): letters, digits and dashes only.
  if (restoreRequest !== undefined && !/^[A-Za-z0-9-]{1,63}$/.test(restoreRequest)) {
    throw new ConfigError('invalid configuration: RESTORE_REQUEST must be 1 to 63 letters, digits or dashes');
  }
  return {
    territory,
    endpoint,
    // Any value signs requests for stores that ignore regions; Outscale wants its own.
    region: pick('S3_REGION') ?? 'us-east-1',
    bucket,
    prefix: pick('S3_PREFIX') ?? '',
    credentialFiles: { accessKeyId, secretAccessKey },
    ...(caFile ? { caFile } : {}),
    keyringFile,
    ...(kekFile ? { kekFile } : {}),
    ...(retentionDays === undefined ? {} : { retentionDays }),
    keepAtLeast,
    ...(runtimeDir ? { runtimeDir } : {}),
    ...(sourceTerritory ? { sourceTerritory } : {}),
    ...(restoreRequest ? { restoreRequest } : {}),
    pg: {
      ...(binDir ? { binDir } : {}),
      ...(database ? { database } : {}),
      ...(compress ? { compress } : {}),
      ...(passwordFile ? { passwordFile } : {}),
      ...(checkUser ? { checkUser } : {}),
      ...(checkPasswordFile ? { checkPasswordFile } : {}),
    },
  };
}
