// Running the `territory-backup` command as the CronJob does: a child process with only the
// environment given, its JSON log lines parsed, and every secret the test knows checked to be absent
// from what it printed.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { expect } from 'vitest';

const CLI = resolve(import.meta.dirname, '../../operator/src/cli/territory-backup.ts');

export interface BackupCliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Parsed JSON log lines. */
  logs: Record<string, unknown>[];
}

export async function runBackupCli(
  args: string[],
  env: Record<string, string>,
  opts: {
    /** Everything that must never appear in output: passwords, S3 secret, key material. */
    secrets: readonly string[];
    /** Run as this user (the Pod's), not as the test's. */
    user?: { uid: number; gid: number } | undefined;
    /** Each JSON log line as it comes, with the process (to signal it mid-run). */
    onLog?: (log: Record<string, unknown>, child: ChildProcess) => void;
  },
): Promise<BackupCliRun> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('{')) opts.onLog?.(JSON.parse(l), child);
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.once('close', (c, s) => r([c, s])),
  );
  for (const s of opts.secrets) {
    expect(stdout, 'a secret leaked to stdout').not.toContain(s);
    expect(stderr, 'a secret leaked to stderr').not.toContain(s);
  }
  const logs = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, signal, stdout, stderr, logs };
}

/** The run, once it is known to have exited 0; otherwise an error with all it printed. */
export function succeeded(run: BackupCliRun): BackupCliRun {
  if (run.code !== 0) throw new Error(`territory-backup exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
  return run;
}

/** The object key a `backup` run stored, from its final log line. */
export function backupKeyOf(run: BackupCliRun): string {
  const done = run.logs.find((l) => l.msg === 'backup complete');
  expect(done, run.stdout).toBeDefined();
  return String(done?.key);
}

export async function keysUnder(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key ?? '').sort();
}
