// What every local image build shares: where builds and their archives live, how a build is
// recorded (a small JSON next to each docker-archive, with its duration), and a command runner
// that keeps each build's full output in a log file and shows its tail when a step fails.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheRoot, type Log } from '../../controlplane/binaries.ts';

/** An image built on this machine, saved as a docker-archive that `ctr images import` reads. */
export interface LocalImage {
  /** e.g. localhost/territory/postgresql:17.12 */
  ref: string;
  /** The docker-archive tar in the cache. */
  archive: string;
  /** How long its build took (the last build's, when it came from the cache). */
  builtInSeconds?: number;
  /** True when this call found it in the cache rather than building it. */
  cached?: boolean;
  /** Size of the archive. */
  archiveBytes?: number;
}

export interface ImageOptions {
  log?: Log;
  env?: NodeJS.ProcessEnv;
}

export const defaultLog: Log = (line) => process.stderr.write(`[images] ${line}\n`);

/** The recipe-independent registry prefix: no registry exists, `localhost/` keeps names fully qualified. */
export const REPOSITORY_PREFIX = 'localhost/territory';

/** The Debian release of every rootfs here (Debian 13): PostgreSQL 17, barman-cloud 3.13, pg_dump 17. */
export const DEBIAN_SUITE = 'trixie';

export interface ImagePaths {
  root: string;
  archives: string;
  work: string;
  logs: string;
  downloads: string;
}

export function imagePaths(env: NodeJS.ProcessEnv = process.env): ImagePaths {
  const root = join(cacheRoot(env), 'images');
  return {
    root,
    archives: join(root, 'archives'),
    work: join(root, 'work'),
    logs: join(root, 'logs'),
    downloads: join(root, 'downloads'),
  };
}

export async function ensureImageDirs(paths: ImagePaths): Promise<void> {
  for (const dir of [paths.archives, paths.work, paths.logs, paths.downloads])
    await mkdir(dir, { recursive: true });
}

/** What is written next to each archive (`<archive>.json`). */
export interface BuildRecord {
  ref: string;
  archive: string;
  /** Hash of everything the image is made of; a different key means a rebuild. */
  key: string;
  /** The image's ID (its config digest), for images built on top of it. */
  imageId: string;
  builtInSeconds: number;
  builtAt: string;
  archiveBytes: number;
  /** Anything worth knowing later (versions inside, the steps' durations). */
  details?: Record<string, unknown>;
}

export function recordPath(archive: string): string {
  return `${archive}.json`;
}

/** The record next to an archive, whatever it says (undefined when there is none). */
export async function loadRecord(archive: string): Promise<BuildRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordPath(archive), 'utf8')) as BuildRecord;
  } catch {
    return undefined;
  }
}

/** The record of a finished build of `key`, or undefined when there is none (or its archive is gone). */
export async function readRecord(archive: string, key: string): Promise<BuildRecord | undefined> {
  const record = await loadRecord(archive);
  if (record?.key !== key) return undefined;
  const size = await stat(archive).then(
    (s) => s.size,
    () => -1,
  );
  return size === record.archiveBytes ? record : undefined;
}

export async function writeRecord(record: BuildRecord): Promise<void> {
  const file = recordPath(record.archive);
  await writeFile(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/**
 * Removes the archives (and records) in `dir` whose names match `family`, except `keep`; returns
 * the records of those removed, whose images the caller may drop from buildah's storage.
 */
export async function pruneArchives(dir: string, family: RegExp, keep: string): Promise<BuildRecord[]> {
  const removed: BuildRecord[] = [];
  for (const entry of await readdir(dir)) {
    const archive = join(dir, entry);
    if (!family.test(entry) || archive === keep) continue;
    const record = await loadRecord(archive);
    await rm(archive, { force: true });
    await rm(recordPath(archive), { force: true });
    if (record) removed.push(record);
  }
  return removed;
}

export function toLocalImage(record: BuildRecord, cached: boolean): LocalImage {
  return {
    ref: record.ref,
    archive: record.archive,
    builtInSeconds: record.builtInSeconds,
    cached,
    archiveBytes: record.archiveBytes,
  };
}

export function sha256(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part);
    hash.update('\0');
  }
  return hash.digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function seconds(sinceMs: number): number {
  return Math.round((Date.now() - sinceMs) / 100) / 10;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** One build's log file: every command it runs and all their output. */
export class BuildLog {
  readonly path: string;
  readonly log: Log;
  private readonly stream: WriteStream;

  constructor(path: string, log: Log) {
    this.path = path;
    this.log = log;
    this.stream = createWriteStream(path, { flags: 'w' });
  }

  write(text: string): void {
    this.stream.write(text);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How a failure names the command; default: the program and its first argument. */
  label?: string;
}

/**
 * Runs a command to completion, its output appended to the build log. Returns its standard output;
 * throws with the end of its output (and the log's path) when it exits non-zero.
 */
export function run(
  buildLog: BuildLog,
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  buildLog.write(`\n$ ${[command, ...args].map(shellQuote).join(' ')}\n`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let tail = '';
    const keepTail = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-6000);
      buildLog.write(chunk.toString('utf8'));
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      keepTail(chunk);
    });
    child.stderr?.on('data', keepTail);
    child.on('error', (error) => reject(new Error(`${command}: ${error.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolvePromise(Buffer.concat(stdout).toString('utf8'));
        return;
      }
      const lines = tail.trimEnd().split('\n').slice(-25).join('\n');
      reject(
        new Error(
          `${options.label ?? `${command} ${args[0] ?? ''}`} exited with ${code ?? signal}; full output in ${buildLog.path}\n${lines}`,
        ),
      );
    });
  });
}

export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Removes a folder that may hold read-only folders (a rootfs): `rm` copes, fs.rm does too as root. */
export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
