// `territory-backup database-access`: run once by a Territory's database-access Job when its database is
// created in a pool (the Shared tier), as the database's owner. CloudNativePG creates the database with
// PostgreSQL's defaults, which let every role of the pool connect to it; this takes that away: the second
// lock beside the pool's pg_hba `samerole` rule (builders/pool.ts). No platform role runs SQL in a tenant's
// database: an owner may change its own database's and schema's privileges, and nothing more.
//
// Configured by its environment only, like the other commands: PGDATABASE, PG_PASSWORD_FILE (the owner's
// password, a mounted file), libpq's PGHOST/PGPORT/PGUSER/PGSSLMODE/PGSSLROOTCERT, TERRITORY_RUNTIME_DIR,
// PG_BINDIR. No S3 store, no keys: the Job mounts neither.
import { type Deps, withPgCredentials } from './commands.ts';
import { ConfigError } from './config.ts';
import { PsqlSession } from './psql-session.ts';

/** A PostgreSQL identifier, quoted (our names are plain, but a statement never trusts that). */
const quoted = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

/**
 * What the owner runs in its new database `database`, whose group role has the same name (its Territory's
 * roles are members of it: builders/shared-database.ts). PUBLIC loses CONNECT and TEMPORARY, the group gets
 * them back; PUBLIC loses the public schema, the group gets back the USAGE PUBLIC had (as in a cluster of the
 * Territory's own, where every role of the Territory may use it). Idempotent: running it again changes nothing.
 */
export function databaseAccessStatements(database: string): string[] {
  const name = quoted(database);
  return [
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${name} FROM PUBLIC`,
    `GRANT CONNECT, TEMPORARY ON DATABASE ${name} TO ${name}`,
    'REVOKE ALL ON SCHEMA public FROM PUBLIC',
    `GRANT USAGE ON SCHEMA public TO ${name}`,
  ];
}

export interface DatabaseAccessConfig {
  database: string;
  passwordFile: string;
  runtimeDir?: string;
  binDir?: string;
}

export function loadDatabaseAccessConfig(env: NodeJS.ProcessEnv): DatabaseAccessConfig {
  const pick = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const database = pick('PGDATABASE');
  const passwordFile = pick('PG_PASSWORD_FILE');
  const missing = [database ? [] : ['PGDATABASE'], passwordFile ? [] : ['PG_PASSWORD_FILE']].flat();
  if (!database || !passwordFile) {
    throw new ConfigError(`invalid configuration: ${missing.map((m) => `${m} is required`).join('; ')}`);
  }
  const runtimeDir = pick('TERRITORY_RUNTIME_DIR');
  const binDir = pick('PG_BINDIR');
  return {
    database,
    passwordFile,
    ...(runtimeDir ? { runtimeDir } : {}),
    ...(binDir ? { binDir } : {}),
  };
}

export async function runDatabaseAccess(
  cfg: DatabaseAccessConfig,
  deps: Pick<Deps, 'log' | 'pgEnv'>,
): Promise<void> {
  const statements = databaseAccessStatements(cfg.database);
  await withPgCredentials(cfg, deps, { passwordFile: cfg.passwordFile }, async (env) => {
    const session = new PsqlSession({
      ...(cfg.binDir ? { binDir: cfg.binDir } : {}),
      database: cfg.database,
      env,
    });
    try {
      // psql runs what it has read once a statement ends with a semicolon.
      for (const statement of statements) await session.query(`${statement};`);
      await session.close();
    } finally {
      session.kill();
    }
  });
  deps.log.info(
    { database: cfg.database, statements: statements.length },
    'database access restricted to its Territory',
  );
}
