// Backup/restore throughput and memory, against a real PostgreSQL and a real S3 server.
//
//   node bench/backup-throughput.ts [--size-mb 150] [--compress 0,6]
//
// Generates a database of at least --size-mb (pg_database_size) with generate_series, then for
// each pg_dump compression setting runs the real `territory-backup backup` and `restore` as
// child processes (as the CronJob does) and prints MB/s and the peak RSS of each process
// (/usr/bin/time -f %M when installed, else the command's own process.resourceUsage()).
// Also measures the TERRBK01 encryption alone, in process, to show what the crypto costs.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { DecryptStream, EncryptStream } from '../operator/src/backup/format.ts';
import { newKeyring, serializeKeyring } from '../operator/src/keys/keyring.ts';
import { startPostgres, tableChecksums } from '../test/support/postgres.ts';
import { startS3Server } from '../test/support/s3.ts';

const CLI = resolve(import.meta.dirname, '../operator/src/cli/territory-backup.ts');
const MB = 1_000_000;
const MIB = 1024 * 1024;
const TIME = '/usr/bin/time';

const { values } = parseArgs({
  options: { 'size-mb': { type: 'string', default: '150' }, compress: { type: 'string', default: '0,6' } },
});
const sizeMb = Number(values['size-mb']);
const compressions = (values.compress ?? '').split(',').filter(Boolean);

interface Run {
  wallSeconds: number;
  maxRssMiB: number;
  rssSource: string;
  logs: Record<string, unknown>[];
}

async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const useTime = existsSync(TIME);
  const rssFile = join(tmpdir(), `bench-rss-${process.pid}-${Date.now()}`);
  const [cmd, argv] = useTime
    ? [TIME, ['-f', '%M', '-o', rssFile, process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  const started = performance.now();
  const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const code = await new Promise<number | null>((r) => child.once('close', r));
  const wallSeconds = (performance.now() - started) / 1000;
  const logs = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  if (code !== 0) throw new Error(`territory-backup ${args.join(' ')} exited ${code}:\n${out}`);
  let maxRssMiB = Number(logs.find((l) => l.msg === 'done')?.maxRssMiB ?? Number.NaN);
  let rssSource = 'process.resourceUsage()';
  if (useTime) {
    maxRssMiB = Math.round(Number((await readFile(rssFile, 'utf8')).trim()) / 102.4) / 10;
    rssSource = '/usr/bin/time %M';
    await rm(rssFile, { force: true });
  }
  return { wallSeconds, maxRssMiB, rssSource, logs };
}

async function cryptoOnly(bytes: number): Promise<{ encryptMBs: number; decryptMBs: number }> {
  const block = randomBytes(MIB);
  const source = () =>
    Readable.from(
      (function* () {
        for (let i = 0; i < bytes / MIB; i++) yield block;
      })(),
    );
  const key = randomBytes(32);
  const binding = { territory: 'bench', takenAt: new Date() };
  const parts: Buffer[] = [];
  let t = performance.now();
  await pipeline(
    source(),
    new EncryptStream({ keyId: 'k1-20261128', dataKey: key, randomBytes, binding }),
    new Writable({
      write(c: Buffer, _e, done) {
        parts.push(c);
        done();
      },
    }),
  );
  const encryptMBs = bytes / MB / ((performance.now() - t) / 1000);
  t = performance.now();
  await pipeline(
    Readable.from(parts),
    new DecryptStream({ resolveKey: () => key, expect: binding }),
    new Writable({
      write(_c, _e, done) {
        done();
      },
    }),
  );
  const decryptMBs = bytes / MB / ((performance.now() - t) / 1000);
  return { encryptMBs, decryptMBs };
}

const round = (n: number) => Math.round(n * 10) / 10;

const dir = await mkdtemp(join(tmpdir(), 'territory-bench-'));
const [pg, s3] = await Promise.all([startPostgres(), startS3Server({ buckets: ['bench'] })]);
try {
  console.error(`generating a database of >= ${sizeMb} MB …`);
  await pg.sql('create database bench');
  // ~190 bytes per row on disk: text, numbers, jsonb; realistic mixed content, partly compressible.
  const rows = Math.ceil((sizeMb * MB) / 190);
  await pg.sql(
    `create table mesures as
       select g as id, 'capteur-' || (g % 5000) as capteur, now() - g * interval '1 second' as horodatage,
              random() * 100 as valeur, md5(g::text) || md5((g * 7)::text) as empreinte,
              jsonb_build_object('q', g % 13, 'ok', g % 2 = 0) as attributs
       from generate_series(1, ${rows}) g;
     create index on mesures (capteur);`,
    'bench',
  );
  const dbBytes = Number(await pg.sql("select pg_database_size('bench')", 'bench'));
  const before = await tableChecksums(pg, 'bench');
  const keyringFile = join(dir, 'keyring.json');
  await writeFile(keyringFile, serializeKeyring(newKeyring({ now: new Date(), randomBytes })));
  const env = {
    PATH: process.env.PATH ?? '',
    ...pg.env,
    PGDATABASE: 'bench',
    PG_BINDIR: pg.binDir,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_BUCKET: 'bench',
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    TERRITORY_NAME: 'bench',
    KEYRING_FILE: keyringFile,
  };

  const results = [];
  for (const compress of compressions) {
    const backup = await runCli(['backup'], { ...env, PG_DUMP_COMPRESS: compress });
    const done = backup.logs.find((l) => l.msg === 'backup complete') ?? {};
    await pg.sql('create database restored');
    const restore = await runCli(['restore', '--object', String(done.key), '--dbname', 'restored'], env);
    const same = JSON.stringify(await tableChecksums(pg, 'restored')) === JSON.stringify(before);
    await pg.sql('drop database restored');
    const dumpBytes = Number(done.plaintextBytes);
    results.push({
      compress,
      databaseMB: round(dbBytes / MB),
      dumpMB: round(dumpBytes / MB),
      objectMB: round(Number(done.ciphertextBytes) / MB),
      backupSeconds: round(backup.wallSeconds),
      backupDatabaseMBs: round(dbBytes / MB / backup.wallSeconds),
      backupDumpMBs: round(dumpBytes / MB / backup.wallSeconds),
      backupMaxRssMiB: backup.maxRssMiB,
      restoreSeconds: round(restore.wallSeconds),
      restoreDatabaseMBs: round(dbBytes / MB / restore.wallSeconds),
      restoreMaxRssMiB: restore.maxRssMiB,
      restoredIdentical: same,
      rss: backup.rssSource,
    });
    console.error(JSON.stringify(results.at(-1)));
  }
  const crypto = await cryptoOnly(256 * MIB);
  console.log('\nterritory-backup throughput (wall time of the whole command, incl. Node start-up)');
  console.table(results);
  console.log(
    `TERRBK01 alone (256 MiB, 64 KiB chunks, in process): encrypt ${round(crypto.encryptMBs)} MB/s, decrypt ${round(crypto.decryptMBs)} MB/s`,
  );
  if (results.some((r) => !r.restoredIdentical)) process.exitCode = 1;
} finally {
  await Promise.all([pg.stop(), s3.stop()]);
  await rm(dir, { recursive: true, force: true });
}
