// `territory-backup restore-into` (a declarative restore's command) against real parts: a real
// PostgreSQL, a real S3 server (versitygw), the real command run as a child process with the
// environment the restore Job gives it: it writes as the database's owner role and checks what it
// wrote as the read-only backup role, the one that took the backup.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKeys } from '../../operator/src/backup/commands.ts';
import { openManifest, sealManifest } from '../../operator/src/backup/manifest.ts';
import { backupTime, manifestKeyOf } from '../../operator/src/backup/naming.ts';
import { newKeyring, serializeKeyring } from '../../operator/src/keys/keyring.ts';
import { type BackupCliRun, backupKeyOf, runBackupCli, succeeded } from '../support/backup-cli.ts';
import { backupCommandEnv } from '../support/backup-command.ts';
import { type PostgresServer, startPostgres, tableChecksums } from '../support/postgres.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';

const BUCKET = 'territory-restores';
const PREFIX = 'restores';
const OWNER = 'varied_owner';

let pg: PostgresServer;
let s3: S3Server;
let client: S3Client;
let dir: string;
let keyringFile: string;
let ownerPasswordFile: string;
let backupPasswordFile: string;
let key: string;
let sourceSums: Record<string, string>;
/** How many tables the backup's manifest describes. */
let backedUpTables: number;
const secrets: string[] = [];

const cli = (args: string[], env: Record<string, string>) => runBackupCli(args, env, { secrets });

/** The restore Job's environment: the owner writes, the backup role checks, into `database`. */
function restoreEnv(database: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...backupCommandEnv(pg, s3, {
      territory: 'varied',
      database,
      bucket: BUCKET,
      prefix: PREFIX,
      keyringFile,
    }),
    PGUSER: OWNER,
    PG_PASSWORD_FILE: ownerPasswordFile,
    PG_CHECK_USER: 'territory_backup',
    PG_CHECK_PASSWORD_FILE: backupPasswordFile,
    TERMINATION_MESSAGE_PATH: join(dir, `termination-${database}`),
    ...extra,
  };
}

function resultOf(run: BackupCliRun): Record<string, unknown> {
  const line = run.logs.find((l) => l.msg === 'restore result');
  expect(line, `no "restore result" line in:\n${run.stdout}\n${run.stderr}`).toBeDefined();
  return line ?? {};
}

async function termination(database: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(dir, `termination-${database}`), 'utf8'));
}

async function emptyDatabase(name: string): Promise<void> {
  await pg.sql(`create database ${name} owner ${OWNER}`);
  await pg.sql(`revoke create on schema public from public; grant all on schema public to ${OWNER}`, name);
}

/** Tables (beyond public's) the checksum helper does not see, as the superuser counts them. */
const countIn = (database: string, table: string) => pg.sql(`select count(*) from ${table}`, database);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'territory-restore-into-'));
  [pg, s3] = await Promise.all([startPostgres(), startS3Server({ buckets: [BUCKET] })]);
  client = s3.client();
  const ownerPassword = randomBytes(12).toString('hex');
  const backupPassword = randomBytes(12).toString('hex');
  ownerPasswordFile = join(dir, 'owner.password');
  backupPasswordFile = join(dir, 'backup.password');
  await writeFile(ownerPasswordFile, `${ownerPassword}\n`, { mode: 0o600 });
  await writeFile(backupPasswordFile, `${backupPassword}\n`, { mode: 0o600 });
  const keyring = newKeyring({ now: new Date('2026-11-01T03:00:00Z'), randomBytes });
  keyringFile = join(dir, 'keyring.json');
  await writeFile(keyringFile, serializeKeyring(keyring), { mode: 0o600 });
  secrets.push(
    pg.password,
    s3.secretAccessKey,
    ownerPassword,
    backupPassword,
    ...keyring.keys.map((k) => k.material),
  );
  // The roles a Territory's Cluster declares: its owner, a purpose role, the read-only backup role.
  await pg.sql(
    `create role purpose_agents nologin;
     create role ${OWNER} login password '${ownerPassword}' in role purpose_agents;
     create role territory_backup login bypassrls password '${backupPassword}' in role pg_read_all_data;`,
  );
  await emptyDatabase('varied');
  // Written by the owner, as an application would: a hostile name, NULLs and bytes, a partitioned
  // table, row-level security that hides rows from the owner itself (FORCE), a sequence and a view.
  await pg.sql(
    `set role ${OWNER};
     create table public.avec_nulls (id int, t text, n numeric, j jsonb);
     insert into public.avec_nulls values (1, null, null, null), (2, '', 0, '{"a": null}'), (null, 'x', 1.5, 'null');
     create table public.binaire (id int primary key, raw bytea, nom text);
     insert into public.binaire select g, decode(md5(g::text) || '00ff', 'hex'), 'ligne ' || g from generate_series(1, 200) g;
     create table public.mesures (jour date, valeur real) partition by range (jour);
     create table public.mesures_2026 partition of public.mesures for values from ('2026-01-01') to ('2027-01-01');
     create table public.mesures_autres partition of public.mesures default;
     insert into public.mesures values ('2026-02-01', 1), ('2030-01-01', 2), ('2026-03-01', null);
     create table public.dossiers (id int, agent text);
     insert into public.dossiers select g, 'agent-' || g from generate_series(1, 6) g;
     alter table public.dossiers enable row level security;
     alter table public.dossiers force row level security;
     create policy agents on public.dossiers to purpose_agents using (agent = current_user);
     create schema "Cantine Scolaire";
     create table "Cantine Scolaire"."a""b" ("Été" text);
     insert into "Cantine Scolaire"."a""b" values ('crêpes'), (null);
     create sequence public.numeros;
     select nextval('public.numeros');
     create view public.grands as select id from public.binaire where id > 150;`,
    'varied',
  );
  sourceSums = await tableChecksums(pg, 'varied');
  const backup = succeeded(
    await cli(['backup'], {
      ...backupCommandEnv(pg, s3, {
        territory: 'varied',
        database: 'varied',
        bucket: BUCKET,
        prefix: PREFIX,
        keyringFile,
      }),
      PGUSER: 'territory_backup',
      PG_PASSWORD_FILE: backupPasswordFile,
    }),
  );
  key = backupKeyOf(backup);
  backedUpTables = Number(backup.logs.find((l) => l.msg === 'backup complete')?.tables);
  expect(backedUpTables).toBeGreaterThan(0);
}, 900_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('territory-backup restore-into', () => {
  it('restores the latest backup into an empty database, with the same rows in every table', async () => {
    await emptyDatabase('vide');
    const run = await cli(['restore-into'], restoreEnv('vide'));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const result = resultOf(run);
    expect(result).toMatchObject({
      result: 'restored',
      key,
      source: 'varied',
      database: 'vide',
      replaced: false,
      mismatches: [],
      untouched: [],
    });
    expect(result.tables).toBe(backedUpTables);
    expect(await tableChecksums(pg, 'vide')).toEqual(sourceSums);
    // Every row, including those row-level security hides from the owner that restored them.
    expect(await countIn('vide', 'public.dossiers')).toBe('6');
    expect(await countIn('vide', '"Cantine Scolaire"."a""b"')).toBe('2');
    expect(await termination('vide')).toMatchObject({
      result: 'restored',
      backup: key.split('/').at(-1),
      source: 'varied',
      tables: result.tables,
      rows: result.rows,
      mismatches: 0,
      replaced: false,
    });
    // Progress as JSON lines, phase by phase.
    expect(run.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['restore started: verifying the backup', 'table checked', 'restore result']),
    );
  });

  it('refuses a database that holds tables without the confirmation (exit 7), changing nothing', async () => {
    await emptyDatabase('occupee');
    await pg.sql(
      `set role ${OWNER}; create table public.binaire (id int, nom text); insert into public.binaire values (1, 'vivant');
       create table public.a_moi (x int); insert into public.a_moi values (42);`,
      'occupee',
    );
    const before = await tableChecksums(pg, 'occupee');
    const run = await cli(['restore-into'], restoreEnv('occupee'));
    expect(run.code, run.stdout + run.stderr).toBe(7);
    expect(resultOf(run)).toMatchObject({ result: 'refused', key });
    const failed = run.logs.find((l) => l.msg === 'failed');
    expect(String(failed?.error)).toContain(
      'already holds 2 table(s), view(s) or sequence(s) (public.a_moi, public.binaire)',
    );
    expect(String(failed?.error)).toContain('--replace-existing-data');
    expect(await tableChecksums(pg, 'occupee')).toEqual(before);
    expect(await termination('occupee')).toEqual({
      result: 'refused',
      backup: key.split('/').at(-1),
      takenAt: backupTime(key)?.toISOString(),
    });
  });

  it('replaces what the backup holds when confirmed, and leaves the tables it does not hold', async () => {
    // The database of the test before: a_moi is not in the backup and must come out as it went in.
    const { a_moi: aMoiBefore } = await tableChecksums(pg, 'occupee');
    expect(aMoiBefore).toMatch(/^1:/);
    const run = await cli(['restore-into', '--replace-existing-data'], restoreEnv('occupee'));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(resultOf(run)).toMatchObject({
      result: 'restored',
      replaced: true,
      mismatches: [],
      untouched: ['public.a_moi'],
    });
    const { a_moi, ...restored } = await tableChecksums(pg, 'occupee');
    expect(restored).toEqual(sourceSums);
    expect(a_moi).toBe(aMoiBefore);
  });

  it('serves a request once: the database records it, and the same request run again changes nothing', async () => {
    // GitOps replays a confirmed request whose status and Job were lost: the data written since stays.
    await emptyDatabase('rejouee');
    const env = restoreEnv('rejouee', { RESTORE_REQUEST: '0a1b2c3d4e' });
    const first = await cli(['restore-into'], env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(resultOf(first)).toMatchObject({ result: 'restored' });
    const comment = await pg.sql(
      "select shobj_description(oid, 'pg_database') from pg_database where datname = 'rejouee'",
    );
    expect(comment).toMatch(
      new RegExp(
        `^territory-restore request=0a1b2c3d4e backup=${key.split('/').at(-1)?.replaceAll('.', '\\.')} source=varied at=\\d{4}-`,
      ),
    );
    await pg.sql(
      `set role ${OWNER}; insert into public.binaire values (1000, null, 'écrite après')`,
      'rejouee',
    );
    const after = await tableChecksums(pg, 'rejouee');

    const again = await cli(['restore-into', '--replace-existing-data'], env);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(resultOf(again)).toMatchObject({ result: 'already-restored', source: 'varied' });
    expect(await tableChecksums(pg, 'rejouee')).toEqual(after);
    expect(await termination('rejouee')).toEqual({
      result: 'already-restored',
      backup: key.split('/').at(-1),
      source: 'varied',
    });
    // Another request (here: the same backup named) is served.
    const named = await cli(['restore-into', '--replace-existing-data'], {
      ...env,
      RESTORE_REQUEST: '5f6e7d8c9b',
    });
    expect(named.code, named.stdout + named.stderr).toBe(0);
    expect(resultOf(named)).toMatchObject({ result: 'restored', replaced: true });
    expect(await tableChecksums(pg, 'rejouee')).toEqual(sourceSums);
  });

  it('restores the latest backup taken at or before a time, and says when none fits (exit 6)', async () => {
    const takenAt = backupTime(key) as Date;
    await emptyDatabase('avant');
    const fits = await cli(
      ['restore-into', '--before', new Date(takenAt.getTime() + 1000).toISOString()],
      restoreEnv('avant'),
    );
    expect(fits.code, fits.stdout + fits.stderr).toBe(0);
    expect(resultOf(fits)).toMatchObject({ result: 'restored', key });

    await emptyDatabase('trop_tot');
    const early = await cli(
      ['restore-into', '--before', new Date(takenAt.getTime() - 1000).toISOString()],
      restoreEnv('trop_tot'),
    );
    expect(early.code, early.stdout + early.stderr).toBe(6);
    expect(resultOf(early)).toMatchObject({ result: 'no-backup', key: null });
    const unknown = await cli(
      ['restore-into', '--object', '20200101T000000.000Z.pgdump.enc'],
      restoreEnv('trop_tot'),
    );
    expect(unknown.code).toBe(6);
    expect(await pg.sql("select count(*) from pg_tables where schemaname = 'public'", 'trop_tot')).toBe('0');
    const both = await cli(
      ['restore-into', '--object', key.split('/').at(-1) ?? '', '--before', '2026-01-01T00:00:00Z'],
      restoreEnv('trop_tot'),
    );
    expect(both.code).toBe(2);
  });

  it("restores another territory's backups from the same bucket (RESTORE_SOURCE_TERRITORY)", async () => {
    await emptyDatabase('reprise');
    const run = await cli(
      ['restore-into', '--object', key.split('/').at(-1) ?? ''],
      restoreEnv('reprise', { TERRITORY_NAME: 'varied-reprise', RESTORE_SOURCE_TERRITORY: 'varied' }),
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(resultOf(run)).toMatchObject({ result: 'restored', source: 'varied' });
    expect(await tableChecksums(pg, 'reprise')).toEqual(sourceSums);
  });

  it('exits 4 when what it restored differs from what the backup recorded (it committed)', async () => {
    const manifestKey = manifestKeyOf(key);
    const original = await objectBytes(manifestKey);
    const keys = await loadKeys(keyringFile);
    const binding = { territory: 'varied', takenAt: backupTime(key) ?? new Date(0) };
    const manifest = await openManifest(original.body, { resolveKey: keys.resolveKey, expect: binding });
    // A manifest sealed for this very dump with the territory's key, recording one row more than it holds.
    const binaire = manifest.checksums.tables.find((t) => t.name === 'binaire');
    if (!binaire) throw new Error('binaire is not in the manifest');
    binaire.rows += 1;
    const keyId = keys.keyring.current;
    await putObject(
      manifestKey,
      await sealManifest(manifest, { keyId, dataKey: keys.resolveKey(keyId), binding, randomBytes }),
    );
    try {
      await emptyDatabase('differente');
      const run = await cli(['restore-into'], restoreEnv('differente'));
      expect(run.code, run.stdout + run.stderr).toBe(4);
      const result = resultOf(run);
      expect(result.result).toBe('mismatch');
      expect(result.mismatches).toEqual([
        {
          table: 'public.binaire',
          expected: { rows: 201, checksum: binaire.checksum },
          got: { rows: 200, checksum: binaire.checksum },
        },
      ]);
      expect(await termination('differente')).toMatchObject({ result: 'mismatch', mismatches: 1 });
    } finally {
      await putObject(manifestKey, original.body, original.metadata);
    }
  });

  it('restores nothing from an object that fails verification (exit 5)', async () => {
    const forged = `${PREFIX}/varied/20270101T000000.000Z.pgdump.enc`;
    await putObject(forged, randomBytes(4096));
    await emptyDatabase('abimee');
    const run = await cli(['restore-into'], restoreEnv('abimee'));
    expect(run.code, run.stdout + run.stderr).toBe(5);
    expect(resultOf(run)).toMatchObject({ result: 'unrestorable', key: forged });
    expect(await pg.sql("select count(*) from pg_tables where schemaname = 'public'", 'abimee')).toBe('0');
  });
});

/** What tableChecksums says of a one-column table holding one row. */
async function objectBytes(objectKey: string): Promise<{ body: Buffer; metadata: Record<string, string> }> {
  const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: objectKey }));
  return { body: Buffer.concat(await (r.Body as Readable).toArray()), metadata: r.Metadata ?? {} };
}

async function putObject(
  objectKey: string,
  body: Buffer,
  metadata: Record<string, string> = {},
): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: objectKey, Body: body, Metadata: metadata }));
}
