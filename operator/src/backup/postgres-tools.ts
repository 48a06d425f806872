// Adapter: PostgreSQL's own pg_dump and pg_restore, run as child processes that stream through
// stdout/stdin. They get an explicit, minimal environment (pgChildEnv): the libpq connection settings
// and a passfile, nothing else. In particular no password variable (PGPASSWORD stays readable in
// /proc/<pid>/environ for the life of the process) and none of the S3 keys of the backup command.
// The password reaches libpq through a 0600 passfile written for the run (writePassfile), in a
// memory-backed folder in the CronJob, and removed when the run ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/**
 * What pg_dump and pg_restore may inherit: how to find programs, and libpq's connection settings as
 * the CronJob sets them. Settings that redirect libpq elsewhere (PGHOSTADDR, PGSERVICEFILE,
 * PGSYSCONFDIR) are not passed: only what the operator sets is.
 */
const INHERITED = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TZ',
  'PGHOST',
  'PGPORT',
  'PGDATABASE',
  'PGUSER',
  'PGSSLMODE',
  'PGSSLROOTCERT',
  'PGCONNECT_TIMEOUT',
] as const;

/**
 * The environment of pg_dump/pg_restore: the INHERITED variables of `source`, and PGPASSFILE (the
 * run's passfile when there is one, else the caller's own, if set). Never PGPASSWORD, AWS_* or any
 * other variable.
 */
export function pgChildEnv(source: NodeJS.ProcessEnv, passfile?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = source[name];
    if (value !== undefined && value !== '') env[name] = value;
  }
  const pass = passfile ?? source.PGPASSFILE;
  if (pass) env.PGPASSFILE = pass;
  env.PGAPPNAME = 'territory-backup';
  return env;
}

/** libpq's passfile escapes `:` and `\` with a backslash. */
function passfileField(value: string): string {
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

export interface Passfile {
  path: string;
  dispose(): Promise<void>;
}

/**
 * Write a passfile holding `password` for any host, port, database and user (the connection itself
 * is set by the PG* variables), mode 0600 as libpq demands, under a random name in `dir`.
 */
export async function writePassfile(dir: string, password: string): Promise<Passfile> {
  if (/[\r\n]/.test(password)) {
    throw new Error('the database password contains a line break, which a libpq passfile cannot hold');
  }
  const path = join(dir, `pgpass-${randomBytes(6).toString('hex')}`);
  // 'wx': never reuse or follow a file someone else put there.
  await writeFile(path, `*:*:*:*:${passfileField(password)}\n`, { mode: 0o600, flag: 'wx' });
  return { path, dispose: () => rm(path, { force: true }) };
}

export interface PgToolOptions {
  /** Folder holding pg_dump/pg_restore; default: found on PATH. */
  binDir?: string;
  /** The child's whole environment (see pgChildEnv); nothing else is inherited. */
  env: Record<string, string>;
}

export interface RunningTool {
  /** Resolves when the tool exits 0; rejects with its stderr tail otherwise. */
  finished: Promise<void>;
  kill(): void;
}

const STDERR_TAIL_BYTES = 4096;

function run(
  name: string,
  args: string[],
  opts: PgToolOptions,
  stdio: ['ignore', 'pipe', 'pipe'] | ['pipe', 'ignore', 'pipe'],
): { child: ChildProcess } & RunningTool {
  const command = opts.binDir ? join(opts.binDir, name) : name;
  const child = spawn(command, args, { env: opts.env, stdio });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_TAIL_BYTES);
  });
  const finished = new Promise<void>((resolve, reject) => {
    child.once('error', (e) =>
      reject(
        new Error(
          `could not run ${command}: ${e.message}. Install the PostgreSQL client tools (matching or newer than the server) or set PG_BINDIR`,
        ),
      ),
    );
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else {
        const detail = stderr.trim() ? `: ${stderr.trim()}` : '';
        reject(
          new Error(
            `${name} failed (${signal ? `signal ${signal}` : `exit code ${code}`})${detail}${hintFor(stderr)}`,
          ),
        );
      }
    });
  });
  // Callers attach their own handlers; this one only prevents an unhandled rejection when a
  // pipeline failure is reported first.
  finished.catch(() => {});
  return {
    child,
    finished,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/** What to do about the failures a least-privilege backup role meets. */
function hintFor(stderr: string): string {
  if (/permission denied for large object/.test(stderr)) {
    return (
      '. The backup role reads through pg_read_all_data, which covers large objects only from PostgreSQL 19: ' +
      'grant it each large object (GRANT SELECT ON LARGE OBJECT <oid> TO territory_backup)'
    );
  }
  return '';
}

/**
 * pg_dump in custom format to stdout. Custom format is compressed by pg_dump itself (per table
 * data, gzip by default; `compress` e.g. "zstd:3" on PostgreSQL 16+), and it is what pg_restore
 * needs for --clean and selective restores, so there is no second compression stage.
 */
export function startPgDump(
  opts: PgToolOptions & {
    database?: string;
    compress?: string;
    /** A snapshot exported by another session (pg_export_snapshot): pg_dump dumps exactly that. */
    snapshot?: string;
  },
): RunningTool & { stdout: Readable } {
  const args = ['--format=custom', '--no-password'];
  if (opts.compress) args.push(`--compress=${opts.compress}`);
  if (opts.snapshot !== undefined) {
    if (!/^[0-9A-Fa-f-]+$/.test(opts.snapshot)) throw new Error(`"${opts.snapshot}" is not a snapshot id`);
    args.push(`--snapshot=${opts.snapshot}`);
  }
  if (opts.database) args.push(`--dbname=${opts.database}`);
  const t = run('pg_dump', args, opts, ['ignore', 'pipe', 'pipe']);
  if (!t.child.stdout) throw new Error('pg_dump has no stdout');
  return { finished: t.finished, kill: t.kill, stdout: t.child.stdout };
}

/**
 * pg_restore reading a custom-format archive from stdin into `database`. One transaction, so a
 * failure part-way leaves the database as it was.
 */
export function startPgRestore(
  opts: PgToolOptions & {
    database: string;
    singleTransaction?: boolean;
    /** Drop what the archive creates first (default true); pointless in an empty database. */
    clean?: boolean;
    /** Restore GRANTs (default true); a drill's throwaway server lacks the roles they name. */
    privileges?: boolean;
  },
): RunningTool & { stdin: Writable } {
  const args = ['--no-owner', '--no-password', '--exit-on-error'];
  if (opts.clean ?? true) args.unshift('--clean', '--if-exists');
  if (opts.privileges === false) args.push('--no-privileges');
  if (opts.singleTransaction ?? true) args.push('--single-transaction');
  args.push(`--dbname=${opts.database}`);
  const t = run('pg_restore', args, opts, ['pipe', 'ignore', 'pipe']);
  if (!t.child.stdin) throw new Error('pg_restore has no stdin');
  return { finished: t.finished, kill: t.kill, stdin: t.child.stdin };
}
