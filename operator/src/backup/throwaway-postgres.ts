// Adapter: the throwaway PostgreSQL server a restore drill restores into. initdb into a fresh folder
// (0700) under the runtime folder, `postgres` started as a child of this process, listening on a Unix
// socket in that folder and nowhere else (listen_addresses is empty: no TCP port at all), trust
// authentication (only this user can reach a socket in a 0700 folder), durability off (nothing here
// must survive). stop() shuts it down and deletes the folder, decrypted data included; it runs
// whatever happens, and a last synchronous attempt runs when the process exits.
//
// The connection environment it hands out is built from nothing: PGHOST is the socket folder, and
// no PG* variable of this process (which may point at the territory's real database) is passed on.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The throwaway server's only role, its superuser. */
export const DRILL_USER = 'territory_drill';
const PORT = '5432';
/** sun_path is 108 bytes on Linux, terminator included. */
const MAX_SOCKET_PATH = 107;
const LOG_TAIL_BYTES = 4096;

export interface ThrowawayPostgres {
  /** The folder holding the data directory and the socket; removed by stop(). */
  dir: string;
  /** The libpq environment that reaches this server, and only it. */
  env(database: string): Record<string, string>;
  /** Shut down (fast, then immediate, then SIGKILL) and delete the folder. Idempotent. */
  stop(): Promise<void>;
}

export interface ThrowawayOptions {
  /** Folder holding initdb and postgres (PG_BINDIR). */
  binDir: string;
  /** Where the server's folder is created (TERRITORY_RUNTIME_DIR). */
  parentDir: string;
  /** Server encoding: the source database's, so text hashes alike. */
  encoding: string;
  startTimeoutMs?: number;
}

export async function startThrowawayPostgres(opts: ThrowawayOptions): Promise<ThrowawayPostgres> {
  if (process.getuid?.() === 0) {
    throw new Error(
      'the drill starts its own PostgreSQL server, and PostgreSQL refuses to run as root: run the drill as another user ' +
        '(the operator image runs as 65532)',
    );
  }
  const missing = ['initdb', 'postgres'].filter((b) => !existsSync(join(opts.binDir, b)));
  if (missing.length > 0) {
    throw new Error(
      `PG_BINDIR (${opts.binDir}) lacks ${missing.join(' and ')}: the drill needs the PostgreSQL server binaries ` +
        'of the same major version as pg_dump',
    );
  }
  if (!/^[A-Z0-9_]+$/.test(opts.encoding)) throw new Error(`"${opts.encoding}" is not a server encoding`);
  // Created synchronously, and its removal on exit registered before anything awaits: a signal handled in
  // between (the drill stopped while it starts its server) would otherwise leave the folder behind.
  const dir = mkdtempSync(join(opts.parentDir, 'territory-drill-'));
  const socket = join(dir, `.s.PGSQL.${PORT}`);
  const toolEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
  let stopping: Promise<void> | undefined;
  let initdb: ChildProcess | undefined;
  let server: ChildProcess | undefined;
  let serverLog = '';
  const running = (c: ChildProcess | undefined): c is ChildProcess =>
    c !== undefined && c.exitCode === null && c.signalCode === null;

  // Last resort when the process exits without stop() (a signal, an uncaught error): initdb killed,
  // the server shut down at once, and the decrypted data removed.
  const onExit = () => {
    if (running(initdb)) initdb.kill('SIGKILL');
    if (running(server)) server.kill('SIGQUIT');
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  process.once('exit', onExit);

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (running(initdb)) initdb.kill('SIGKILL');
      const s = server;
      if (running(s)) {
        const exited = new Promise((resolve) => s.once('close', resolve));
        const within = (ms: number) =>
          Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), ms).unref())]);
        s.kill('SIGINT'); // fast shutdown: ends sessions, no checkpoint worth waiting for (fsync off)
        if (!(await within(30_000))) {
          s.kill('SIGQUIT'); // immediate shutdown
          if (!(await within(10_000))) s.kill('SIGKILL');
        }
      }
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      process.removeListener('exit', onExit);
    })();
    return stopping;
  };

  try {
    if (socket.length > MAX_SOCKET_PATH) {
      throw new Error(
        `the drill's socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes: set a shorter TERRITORY_RUNTIME_DIR`,
      );
    }
    const data = join(dir, 'data');
    try {
      await new Promise<void>((resolve, reject) => {
        initdb = execFile(
          join(opts.binDir, 'initdb'),
          ['-D', data, '-U', DRILL_USER, '-A', 'trust', '-E', opts.encoding, '--locale=C', '--no-sync'],
          { env: toolEnv, maxBuffer: 1024 * 1024 },
          (error, _stdout, stderr) => (error ? reject(Object.assign(error, { stderr })) : resolve()),
        );
      });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      const detail = (err.stderr || err.message).trim().slice(-LOG_TAIL_BYTES);
      const hint = /could not look up effective user ID/.test(detail)
        ? ' (initdb needs an /etc/passwd entry for the user it runs as)'
        : '';
      throw new Error(`initdb of the drill's server failed: ${detail}${hint}`);
    }

    const settings = {
      listen_addresses: '',
      unix_socket_directories: dir,
      unix_socket_permissions: '0700',
      port: PORT,
      // Nothing here must survive a crash: durability would only cost time.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      wal_level: 'minimal',
      max_wal_senders: '0',
      autovacuum: 'off',
      max_connections: '10',
      // The check reads every table in one transaction, holding a lock on each.
      max_locks_per_transaction: '8192',
      logging_collector: 'off',
      TimeZone: 'UTC',
    };
    const args = ['-D', data, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const s = spawn(join(opts.binDir, 'postgres'), args, {
      env: toolEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server = s;
    s.stderr?.setEncoding('utf8').on('data', (d: string) => {
      serverLog = (serverLog + d).slice(-LOG_TAIL_BYTES);
    });
    let exited = false;
    s.once('error', () => {
      exited = true;
    });
    s.once('close', () => {
      exited = true;
    });

    // Ready when postmaster.pid says so (its 8th line), as pg_ctl -w judges it.
    const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
    for (;;) {
      if (exited) throw new Error(`the drill's server stopped at start: ${serverLog.trim()}`);
      const pid = await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => '');
      if (pid.split('\n')[7]?.trim() === 'ready') break;
      if (Date.now() > deadline)
        throw new Error(`the drill's server did not start in time: ${serverLog.trim()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    dir,
    env: (database) => ({
      PATH: toolEnv.PATH,
      TZ: 'UTC',
      PGHOST: dir,
      PGPORT: PORT,
      PGUSER: DRILL_USER,
      PGDATABASE: database,
      PGAPPNAME: 'territory-drill',
      PGSSLMODE: 'disable',
      PGCONNECT_TIMEOUT: '10',
    }),
    stop,
  };
}
