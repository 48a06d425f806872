// Adapter: PostgreSQL's own pg_dump and pg_restore, run as child processes that stream through
// stdout/stdin. Connection settings come from the standard libpq environment (PGHOST, PGPORT,
// PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, …), passed through untouched, so nothing secret
// ever appears on a command line.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export interface PgToolOptions {
  /** Folder holding pg_dump/pg_restore; default: found on PATH. */
  binDir?: string;
  env?: NodeJS.ProcessEnv;
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
  const child = spawn(command, args, { env: opts.env ?? process.env, stdio });
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
        reject(new Error(`${name} failed (${signal ? `signal ${signal}` : `exit code ${code}`})${detail}`));
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

/**
 * pg_dump in custom format to stdout. Custom format is compressed by pg_dump itself (per table
 * data, gzip by default; `compress` e.g. "zstd:3" on PostgreSQL 16+), and it is what pg_restore
 * needs for --clean and selective restores, so there is no second compression stage.
 */
export function startPgDump(
  opts: PgToolOptions & { database?: string; compress?: string },
): RunningTool & { stdout: Readable } {
  const args = ['--format=custom', '--no-password'];
  if (opts.compress) args.push(`--compress=${opts.compress}`);
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
  opts: PgToolOptions & { database: string; singleTransaction?: boolean },
): RunningTool & { stdin: Writable } {
  const args = ['--clean', '--if-exists', '--no-owner', '--no-password', '--exit-on-error'];
  if (opts.singleTransaction ?? true) args.push('--single-transaction');
  args.push(`--dbname=${opts.database}`);
  const t = run('pg_restore', args, opts, ['pipe', 'ignore', 'pipe']);
  if (!t.child.stdin) throw new Error('pg_restore has no stdin');
  return { finished: t.finished, kill: t.kill, stdin: t.child.stdin };
}
