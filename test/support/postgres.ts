// A real, throwaway PostgreSQL server for tests: initdb in a temporary folder, started on a free
// 127.0.0.1 port with password (SCRAM) authentication over TCP, stopped and deleted afterwards.
// PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
// `postgres` OS user (TERRITORY_PG_OS_USER to change it) through runuser.

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { selfSignedCertificate } from './certificate.ts';

const execFileAsync = promisify(execFile);

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** A 0600 file holding the password alone, as a mounted Secret key holds it (PG_PASSWORD_FILE). */
  passwordFile: string;
  database: string;
  /** Folder holding initdb, pg_ctl, postgres, psql, pg_dump, pg_restore of the same version. */
  binDir: string;
  /** Server major version, e.g. 15. */
  majorVersion: number;
  /** libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) to reach it as the superuser. */
  env: Record<string, string>;
  /** Run SQL with psql (ON_ERROR_STOP), return unaligned tuples-only output, trimmed. */
  sql(statement: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

export function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const candidates: string[] = [];
  if (env.PG_BINDIR) candidates.push(env.PG_BINDIR);
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (pgConfig.status === 0 && pgConfig.stdout.trim()) candidates.push(pgConfig.stdout.trim());
  if (existsSync('/usr/lib/postgresql')) {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  const needed = ['initdb', 'pg_ctl', 'postgres', 'psql', 'pg_dump', 'pg_restore'];
  for (const dir of candidates) if (needed.every((b) => existsSync(join(dir, b)))) return dir;
  throw new Error(
    `PostgreSQL server binaries not found (need ${needed.join(', ')}; looked in ${candidates.join(', ') || 'nothing: no PG_BINDIR, no pg_config, no /usr/lib/postgresql'}). ` +
      'Install them (Debian/Ubuntu: `apt-get install -y postgresql`) or set PG_BINDIR to the folder holding them.',
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * The OS user PostgreSQL's programs run as when the tests run as root (PostgreSQL refuses root);
 * undefined when the tests do not run as root. Also the user to run a command as when it starts a
 * PostgreSQL server of its own (the restore drill).
 */
export function osUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = process.env.TERRITORY_PG_OS_USER ?? 'postgres';
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      `Tests run as root and PostgreSQL refuses root, but there is no OS user "${name}" to run it as. ` +
        'Install the postgresql package (it creates that user) or set TERRITORY_PG_OS_USER.',
    );
  }
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export interface PostgresOptions {
  /**
   * pg_hba.conf's lines for TCP connections, replacing the default password rule. The superuser then
   * reaches the server through its Unix socket only (`local all all trust`, as CloudNativePG's instance
   * manager does), so the lines under test govern every TCP connection, the superuser's included.
   */
  hba?: string[];
  /** Serve TLS (a throwaway self-signed certificate), for `hostssl` lines. */
  tls?: boolean;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const binDir = findPostgresBinDir();
  const user = osUser();
  const asServerUser = (bin: string, args: string[]): [string, string[]] =>
    user ? ['runuser', ['-u', user.name, '--', join(binDir, bin), ...args]] : [join(binDir, bin), args];

  const dir = await mkdtemp(join(tmpdir(), 'territory-pg-'));
  const dataDir = join(dir, 'data');
  const password = randomBytes(16).toString('hex');
  const pwfile = join(dir, 'pwfile');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) {
    await chown(dir, user.uid, user.gid);
    await chown(pwfile, user.uid, user.gid);
  }
  await chmod(dir, 0o700);

  const run = async (bin: string, args: string[]) => {
    const [cmd, argv] = asServerUser(bin, args);
    try {
      await execFileAsync(cmd, argv, { cwd: dir });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${bin} failed: ${err.stderr || err.message}`);
    }
  };

  await run('initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    `--pwfile=${pwfile}`,
    '--no-locale',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  await rm(pwfile);

  if (options.hba) {
    await writeFile(join(dataDir, 'pg_hba.conf'), ['local all all trust', ...options.hba, ''].join('\n'));
  }
  const tlsOptions: string[] = [];
  if (options.tls) {
    const key = join(dataDir, 'server.key');
    const crt = join(dataDir, 'server.crt');
    await selfSignedCertificate({ commonName: '127.0.0.1', keyFile: key, certFile: crt });
    await chmod(key, 0o600);
    if (user) {
      await chown(key, user.uid, user.gid);
      await chown(crt, user.uid, user.gid);
    }
    tlsOptions.push('-c ssl=on', `-c ssl_cert_file='${crt}'`, `-c ssl_key_file='${key}'`);
  }

  const port = await freePort();
  const serverOptions = [
    ...tlsOptions,
    "-c listen_addresses='127.0.0.1'",
    `-p ${port}`,
    `-c unix_socket_directories='${dir}'`,
    // A throwaway server: durability costs time and protects nothing here.
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
  ].join(' ');
  await run('pg_ctl', [
    '-D',
    dataDir,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-t',
    '60',
    '-o',
    serverOptions,
    'start',
  ]);

  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    const [cmd, argv] = asServerUser('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    spawnSync(cmd, argv, { stdio: 'ignore' });
    execFileSync('rm', ['-rf', dir]);
  };
  // If the test process dies without calling stop(), do not leave a postmaster behind.
  process.once('exit', stopSync);

  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });

  const env = {
    // With pg_hba lines under test, the superuser comes in through the socket (see PostgresOptions.hba).
    PGHOST: options.hba ? dir : '127.0.0.1',
    PGPORT: String(port),
    PGUSER: 'postgres',
    PGPASSWORD: password,
    PGDATABASE: 'postgres',
  };
  const majorVersion = Number(
    /(\d+)/.exec(execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' }))?.[1] ?? 0,
  );

  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    passwordFile,
    database: 'postgres',
    binDir,
    majorVersion,
    env,
    async sql(statement, database = 'postgres') {
      try {
        const { stdout } = await execFileAsync(
          join(binDir, 'psql'),
          ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-A', '-t', '-d', database, '-c', statement],
          { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
        );
        return stdout.trim();
      } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`psql failed: ${err.stderr || err.message}`);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', stopSync);
      await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A checksum of every row of every table in the public schema (and which tables exist): two
 * databases with equal results hold the same data. Rows are ordered by their text form so
 * physical order does not matter.
 */
export async function tableChecksums(pg: PostgresServer, database: string): Promise<Record<string, string>> {
  const tables = (
    await pg.sql("select tablename from pg_tables where schemaname = 'public' order by tablename", database)
  )
    .split('\n')
    .filter(Boolean);
  const out: Record<string, string> = {};
  for (const t of tables) {
    out[t] = await pg.sql(
      `select count(*) || ':' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '-') from public."${t}" x`,
      database,
    );
  }
  return out;
}
