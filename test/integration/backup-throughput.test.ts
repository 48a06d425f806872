// Memory stays flat and throughput is measured: the real `territory-backup` command backs up
// and restores a ~40 MB and a ~165 MB dump; its peak RSS must not grow with the dump size (a
// stage that buffered the dump would add >100 MiB). Both sizes are above the 16 MiB upload
// part size, so both runs pay the same fixed multipart buffers. Prints MB/s. The fuller benchmark, on a
// generated database of >= 100 MB, is bench/backup-throughput.ts.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newKeyring, serializeKeyring } from '../../operator/src/keys/keyring.ts';
import { backupCommandEnv } from '../support/backup-command.ts';
import { type PostgresServer, startPostgres, tableChecksums } from '../support/postgres.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';

const CLI = resolve(import.meta.dirname, '../../operator/src/cli/territory-backup.ts');
const MB = 1_000_000;

let pg: PostgresServer;
let s3: S3Server;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'territory-backup-rss-'));
  [pg, s3] = await Promise.all([startPostgres(), startS3Server({ buckets: ['rss'] })]);
  const keyringFile = join(dir, 'keyring.json');
  await writeFile(keyringFile, serializeKeyring(newKeyring({ now: new Date(), randomBytes })));
  env = {
    // Territory and database are given per run.
    ...backupCommandEnv(pg, s3, { territory: '', database: '', bucket: 'rss', keyringFile }),
    // Uncompressed: the dump size is then the table size, and large quickly.
    PG_DUMP_COMPRESS: '0',
  };
}, 900_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], extra: Record<string, string>): Promise<Record<string, unknown>[]> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...env, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new Error(`territory-backup ${args.join(' ')} exited ${code}:\n${out}\n${err}`);
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

interface Measure {
  dumpMB: number;
  backupMBs: number;
  backupRssMiB: number;
  restoreMBs: number;
  restoreRssMiB: number;
}

async function measure(name: string, rows: number): Promise<Measure> {
  await pg.sql(`create database ${name}`);
  // 1 KiB of bytea per row; COPY writes it as hex, so the dump holds ~2 KiB per row.
  await pg.sql(
    `create table payloads as select g as id, decode(repeat(md5(g::text), 64), 'hex') as b from generate_series(1, ${rows}) g`,
    name,
  );
  const before = await tableChecksums(pg, name);
  const tenv = { TERRITORY_NAME: name, PGDATABASE: name };
  const backup = await run(['backup'], tenv);
  const done = backup.find((l) => l.msg === 'backup complete') ?? {};
  const backupEnd = backup.find((l) => l.msg === 'done') ?? {};
  await pg.sql('drop table payloads', name);
  const restore = await run(['restore', '--object', 'latest'], tenv);
  const restored = restore.find((l) => l.msg === 'restore complete') ?? {};
  const restoreEnd = restore.find((l) => l.msg === 'done') ?? {};
  expect(await tableChecksums(pg, name)).toEqual(before);
  return {
    dumpMB: Number(done.plaintextBytes) / MB,
    backupMBs: Number(done.plaintextBytes) / MB / Number(done.seconds),
    backupRssMiB: Number(backupEnd.maxRssMiB),
    restoreMBs: Number(restored.plaintextBytes) / MB / Number(restored.seconds),
    restoreRssMiB: Number(restoreEnd.maxRssMiB),
  };
}

it('keeps the backup and restore processes memory-flat as the dump grows past 100 MB', async () => {
  const small = await measure('medium', 20_000);
  const large = await measure('large', 80_000);
  console.log(
    `territory-backup: medium dump ${small.dumpMB.toFixed(1)} MB, large dump ${large.dumpMB.toFixed(1)} MB\n` +
      `  backup  ${large.backupMBs.toFixed(1)} MB/s, peak RSS ${small.backupRssMiB} MiB (medium) vs ${large.backupRssMiB} MiB (large)\n` +
      `  restore ${large.restoreMBs.toFixed(1)} MB/s (verify pass + pg_restore), peak RSS ${small.restoreRssMiB} MiB vs ${large.restoreRssMiB} MiB`,
  );
  expect(large.dumpMB - small.dumpMB).toBeGreaterThan(100);
  expect(large.backupRssMiB - small.backupRssMiB).toBeLessThan(64);
  expect(large.restoreRssMiB - small.restoreRssMiB).toBeLessThan(64);
}, 600_000);
