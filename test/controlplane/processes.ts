// Starting, watching and stopping the control-plane processes by PID. PIDs (not ChildProcess
// handles) are the currency because `cluster:down` runs in another process than `cluster:up`.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';

export interface StartedProcess {
  name: string;
  pid: number;
  logPath: string;
  /** Set once the process has exited (only known for children of this process). */
  exitCode(): number | string | undefined;
  child: ChildProcess;
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: string[];
  logPath: string;
  /** Own process group, no tie to this process: it survives our exit (cluster:up). */
  detached: boolean;
  env?: NodeJS.ProcessEnv;
}

export function startProcess(options: StartProcessOptions): StartedProcess {
  // Both streams go straight to a file descriptor: no pipe the parent must keep draining, so
  // a detached process keeps logging after the CLI that started it has exited.
  const fd = openSync(options.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      stdio: ['ignore', fd, fd],
      detached: options.detached,
      env: options.env ?? process.env,
    });
  } finally {
    closeSync(fd);
  }
  let exit: number | string | undefined;
  let spawnError: Error | undefined;
  child.once('exit', (code, signal) => {
    exit = code ?? signal ?? 'unknown';
  });
  child.once('error', (error) => {
    spawnError = error;
    exit = `spawn error: ${error.message}`;
  });
  if (options.detached) child.unref();
  if (child.pid === undefined) {
    throw new Error(
      `could not start ${options.name} (${options.command}): ${spawnError?.message ?? 'no pid'}`,
    );
  }
  return { name: options.name, pid: child.pid, logPath: options.logPath, exitCode: () => exit, child };
}

/** Alive and not a zombie (a detached child whose parent is gone may linger unreaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const state = procState(pid);
  return state !== 'Z' && state !== 'X';
}

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may itself hold spaces or parens).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * Guards against PID reuse: before signalling a PID read from state.json, check that it still
 * runs the binary we started. Without /proc (not Linux) we cannot tell and trust the PID.
 */
export function runsBinary(pid: number, binaryPath: string): boolean {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return argv0 === binaryPath;
  } catch {
    return isAlive(pid);
  }
}

/** SIGTERM, then SIGKILL after the grace period; resolves once the PID is gone. */
export async function stopPid(
  pid: number,
  graceMs = 10_000,
): Promise<'not-running' | 'terminated' | 'killed'> {
  if (!isAlive(pid)) return 'not-running';
  signal(pid, 'SIGTERM');
  if (await waitUntilGone(pid, graceMs)) return 'terminated';
  signal(pid, 'SIGKILL');
  if (await waitUntilGone(pid, 5_000)) return 'killed';
  throw new Error(`process ${pid} survived SIGKILL for 5s`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** Last lines of a log, for error messages: what a process said before failing. */
export async function tailFile(path: string, lines = 30): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, 16 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer
      .toString('utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch (error) {
    return `(no log: ${(error as Error).message})`;
  } finally {
    await handle?.close();
  }
}

/**
 * Ports that were free a moment ago on 127.0.0.1. The OS picks them (so parallel runs do not
 * collide) and all are held open together until every one is known, so none is handed out twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolvePort, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => {
              const address = server.address();
              if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
              else resolvePort(address.port);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(
      servers.map(
        (server) => new Promise<void>((done) => (server.listening ? server.close(() => done()) : done())),
      ),
    );
  }
}
