// Configuration of the backup commands: environment (what the CronJob sets) overridden by
// command-line flags. Pure: takes the env and flags as arguments. Every problem is reported at
// once, by name, never with a value (some are secrets).

export interface BackupConfig {
  territory: string;
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** PEM bundle the endpoint's certificate must chain to, instead of the public CAs. */
  caFile?: string;
  keyringFile: string;
  kekFile?: string;
  /** Unset means "do not prune": nothing is ever deleted without an explicit retention. */
  retentionDays?: number;
  /** Newest backups kept whatever their age (never below 1). */
  keepAtLeast: number;
  pg: { binDir?: string; database?: string; compress?: string };
}

export interface ConfigFlags {
  territory?: string;
  endpoint?: string;
  region?: string;
  bucket?: string;
  prefix?: string;
  caFile?: string;
  keyringFile?: string;
  kekFile?: string;
  retentionDays?: string;
  keepAtLeast?: string;
  pgBindir?: string;
  dbname?: string;
  compress?: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv, flags: ConfigFlags = {}): BackupConfig {
  const problems: string[] = [];
  const pick = (flag: string | undefined, envName: string): string | undefined => {
    const v = flag ?? env[envName];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const required = (flag: string | undefined, envName: string, flagName: string): string => {
    const v = pick(flag, envName);
    if (v === undefined) problems.push(`${envName} (or --${flagName}) is required`);
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

  const territory = required(flags.territory, 'TERRITORY_NAME', 'territory');
  const endpoint = required(flags.endpoint, 'S3_ENDPOINT', 'endpoint');
  if (endpoint && !/^https?:\/\/[^\s/]+/.test(endpoint)) problems.push('S3_ENDPOINT must be an http(s) URL');
  const bucket = required(flags.bucket, 'S3_BUCKET', 'bucket');
  const keyringFile = required(flags.keyringFile, 'KEYRING_FILE', 'keyring-file');
  const accessKeyId = pick(undefined, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = pick(undefined, 'AWS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
  }
  const retentionDays = count(pick(flags.retentionDays, 'RETENTION_DAYS'), 'RETENTION_DAYS', 1);
  const keepAtLeast = count(pick(flags.keepAtLeast, 'KEEP_AT_LEAST'), 'KEEP_AT_LEAST', 1) ?? 1;
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);

  const kekFile = pick(flags.kekFile, 'KEK_FILE');
  const caFile = pick(flags.caFile, 'S3_CA_FILE');
  const binDir = pick(flags.pgBindir, 'PG_BINDIR');
  const database = pick(flags.dbname, 'PGDATABASE');
  const compress = pick(flags.compress, 'PG_DUMP_COMPRESS');
  return {
    territory,
    endpoint,
    // Any value signs requests for stores that ignore regions; Outscale wants its own.
    region: pick(flags.region, 'S3_REGION') ?? 'us-east-1',
    bucket,
    prefix: pick(flags.prefix, 'S3_PREFIX') ?? '',
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    ...(caFile ? { caFile } : {}),
    keyringFile,
    ...(kekFile ? { kekFile } : {}),
    ...(retentionDays === undefined ? {} : { retentionDays }),
    keepAtLeast,
    pg: {
      ...(binDir ? { binDir } : {}),
      ...(database ? { database } : {}),
      ...(compress ? { compress } : {}),
    },
  };
}
