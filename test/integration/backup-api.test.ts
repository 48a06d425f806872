// The programmatic backup API (what `territoryctl export` reuses), against real PostgreSQL and
// real S3: multipart upload and multipart server-side copy with small thresholds (the paths a
// multi-GiB production dump takes), then an export decrypted to a file that stock pg_restore reads.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BackupConfig,
  type BackupLog,
  decryptBackupTo,
  listBackups,
  loadKeys,
  runBackup,
  runRestore,
  verifyBackup,
} from '../../operator/src/backup/index.ts';
import { backupTime } from '../../operator/src/backup/naming.ts';
import { newKeyring, serializeKeyring } from '../../operator/src/keys/keyring.ts';
import { type PostgresServer, startPostgres, tableChecksums } from '../support/postgres.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
const BUCKET = 'api-backups';

let pg: PostgresServer;
let s3: S3Server;
let dir: string;
const lines: { msg: string; obj: object }[] = [];
const log: BackupLog = {
  info: (obj, msg) => lines.push({ obj, msg }),
  warn: (obj, msg) => lines.push({ obj, msg }),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'territory-backup-api-'));
  [pg, s3] = await Promise.all([startPostgres(), startS3Server({ buckets: [BUCKET] })]);
}, 900_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('backup API', () => {
  it('uploads in parts, copies in parts, verifies, exports to a file pg_restore reads, and restores', async () => {
    await pg.sql('create database api');
    await pg.sql(
      `create table blobs as select g as id, decode(repeat(md5(g::text), 64), 'hex') as b from generate_series(1, 6000) g;`,
      'api',
    );
    const before = await tableChecksums(pg, 'api');
    const keyringFile = join(dir, 'keyring.json');
    const keyring = newKeyring({ now: new Date('2026-11-01T00:00:00Z'), randomBytes });
    await writeFile(keyringFile, serializeKeyring(keyring));
    const keys = await loadKeys(keyringFile);
    const cfg: BackupConfig = {
      territory: 'api',
      endpoint: s3.endpoint,
      region: s3.region,
      bucket: BUCKET,
      prefix: 'p',
      credentialFiles: s3.credentialFiles,
      keyringFile,
      keepAtLeast: 1,
      // Uncompressed, so the ~12 MiB of table data makes a dump of several 5 MiB parts.
      pg: { binDir: pg.binDir, database: 'api', compress: '0', passwordFile: pg.passwordFile },
    };
    const deps = {
      s3: s3.client(),
      log,
      // PGPASSWORD among them is never passed on: the password comes from the file, as a passfile.
      pgEnv: { ...process.env, ...pg.env },
      progressEveryMs: 10,
      s3Tuning: { uploadPartSize: 5 * MIB, copyMultipartThreshold: 1 * MIB, copyPartSize: 5 * MIB },
    };

    const backup = await runBackup(cfg, keys, deps);
    expect(backup.ciphertextBytes).toBeGreaterThan(10 * MIB);
    expect(lines.some((l) => l.msg === 'progress')).toBe(true);

    const listed = await listBackups(deps.s3, BUCKET, 'p', 'api');
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      key: backup.key,
      size: backup.ciphertextBytes,
      keyId: keyring.current,
      plaintextBytes: backup.plaintextBytes,
      ciphertextSha256: backup.ciphertextSha256,
    });

    const verified = await verifyBackup(deps.s3, BUCKET, backup.key, keys.resolveKey, { territory: 'api' });
    expect(verified).toMatchObject({
      keyId: keyring.current,
      plaintextBytes: backup.plaintextBytes,
      territory: 'api',
      takenAt: backupTime(backup.key),
    });
    // A multipart ETag ends in -<parts>: the final object came from the part-by-part copy.
    expect(verified.etag).toMatch(new RegExp(`-${Math.ceil(backup.ciphertextBytes / (5 * MIB))}"$`));

    // Export: the decrypted dump is a standard custom-format archive (reversibility).
    const exported = join(dir, 'export.pgdump');
    await decryptBackupTo(deps.s3, BUCKET, verified, keys.resolveKey, createWriteStream(exported));
    expect((await stat(exported)).size).toBe(backup.plaintextBytes);
    const { stdout } = await execFileAsync(join(pg.binDir, 'pg_restore'), ['--list', exported]);
    expect(stdout).toMatch(/TABLE DATA public blobs/);

    await pg.sql('drop table blobs', 'api');
    await runRestore(cfg, keys, deps, { object: 'latest' });
    expect(await tableChecksums(pg, 'api')).toEqual(before);
  });
});
