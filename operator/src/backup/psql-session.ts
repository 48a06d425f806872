// Adapter: one psql process held open as an SQL session, for what pg_dump cannot do alone: export
// the snapshot it dumps, and compute table checksums in that same snapshot; and, in a restore drill,
// talk to the throwaway server. psql rather than a JavaScript driver: the session connects exactly
// as pg_dump does (libpq, the same PG* settings, passfile and TLS checks, PGSSLMODE=verify-full with
// PGSSLROOTCERT included), which a driver would have to re-implement, and the image gains nothing.
//
// Protocol: each statement goes to psql's stdin followed by `\echo <marker>`, a random marker;
// psql (unaligned, tuples only) prints the answer, then the marker; it flushes its output after every
// backslash command (HandleSlashCmds), so the answer and its marker arrive even though stdout is a pipe. ON_ERROR_STOP ends psql at
// the first error; the pending query then fails with psql's stderr.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const STDERR_TAIL_BYTES = 4096;

export interface PsqlSessionOptions {
  /** Folder holding psql; default: found on PATH. */
  binDir?: string;
  /** The child's whole environment (see pgChildEnv); nothing else is inherited. */
  env: Record<string, string>;
  database?: string;
}

export class PsqlSession {
  private readonly child: ChildProcess;
  private readonly marker = `territory-${randomBytes(12).toString('hex')}`;
  private stdout = '';
  private stderr = '';
  private pending: { resolve: (answer: string) => void; reject: (e: Error) => void } | undefined;
  private ended: Error | undefined;
  private exitCode: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly exited: Promise<void>;

  constructor(opts: PsqlSessionOptions) {
    const command = opts.binDir ? join(opts.binDir, 'psql') : 'psql';
    const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '--no-password', '-P', 'pager=off'];
    if (opts.database) args.push(`--dbname=${opts.database}`);
    // UTF8 on the wire whatever the database's encoding: names come back as JavaScript strings and go
    // out again in SQL, so both directions must be the encoding Node decodes.
    this.child = spawn(command, args, {
      env: { ...opts.env, PGCLIENTENCODING: 'UTF8' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin?.on('error', () => {
      // psql ended while a statement was being written: 'close' below reports why.
    });
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.deliver();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-STDERR_TAIL_BYTES);
    });
    this.exited = new Promise<void>((resolve) => {
      this.child.once('error', (e) => {
        this.end(
          new Error(
            `could not run ${command}: ${e.message}. Install the PostgreSQL client tools or set PG_BINDIR`,
          ),
        );
        resolve();
      });
      this.child.once('close', (code, signal) => {
        this.exitCode = code;
        const detail = this.stderr.trim() ? `: ${this.stderr.trim()}` : '';
        this.end(new Error(`psql ended (${signal ? `signal ${signal}` : `exit code ${code}`})${detail}`));
        resolve();
      });
    });
  }

  private end(reason: Error): void {
    this.ended ??= reason;
    this.pending?.reject(this.ended);
    this.pending = undefined;
  }

  private deliver(): void {
    const at = this.stdout.indexOf(`${this.marker}\n`);
    if (at < 0 || !this.pending) return;
    const answer = this.stdout.slice(0, at).replace(/\n$/, '');
    this.stdout = this.stdout.slice(at + this.marker.length + 1);
    const { resolve } = this.pending;
    this.pending = undefined;
    resolve(answer);
  }

  /**
   * Runs `sql` (one or more statements, each ending with `;`) and resolves with what psql printed:
   * rows one per line, columns separated by `|`. Statements run one at a time, in call order.
   */
  query(sql: string): Promise<string> {
    const run = this.queue.then(
      () =>
        new Promise<string>((resolve, reject) => {
          if (this.ended) {
            reject(this.ended);
            return;
          }
          this.pending = { resolve, reject };
          this.child.stdin?.write(`${sql}\n\\echo ${this.marker}\n`);
        }),
    );
    this.queue = run.catch(() => {});
    return run;
  }

  /** Ends psql normally (an open transaction is rolled back unless committed before). */
  async close(): Promise<void> {
    await this.queue;
    if (!this.ended) this.child.stdin?.end('\\q\n');
    await this.exited;
    if (this.exitCode !== 0) throw this.ended ?? new Error('psql did not end normally');
  }

  /** Stops psql at once; the server rolls its transaction back. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }
}
