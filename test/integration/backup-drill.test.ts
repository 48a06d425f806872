// Restore drills against real parts: a real PostgreSQL (the territory's database), a real S3 server
// (versitygw), and the real `territory-backup` command, run as a child process: `backup` as the
// CronJob runs it (as the read-only backup role), `drill` with the environment a drill CronJob would
// have, as a user PostgreSQL accepts (the drill starts its own server; when the tests run as root,
// the postgres OS user). The drill's environment points the libpq settings at nothing that exists:
// had it connected to anything but its own server, it would have failed.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKeys, runPrune } from '../../operator/src/backup/commands.ts';
import { parseHeader } from '../../operator/src/backup/format.ts';
import { openManifest, sealManifest } from '../../operator/src/backup/manifest.ts';
import { backupObjectKey, backupTime, manifestKeyOf } from '../../operator/src/backup/naming.ts';
import { type Keyring, newKeyring, serializeKeyring } from '../../operator/src/keys/keyring.ts';
import {
  backupKeyOf,
  type BackupCliRun as CliRun,
  keysUnder as keysIn,
  runBackupCli,
  succeeded,
} from '../support/backup-cli.ts';
import { backupCommandEnv } from '../support/backup-command.ts';
import { osUser, type PostgresServer, startPostgres } from '../support/postgres.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';

const BUCKET = 'territory-drills';
const PREFIX = 'drills';
const T0 = new Date('2026-11-01T03:00:00Z');
const DAY = 86_400_000;

let pg: PostgresServer;
let s3: S3Server;
let client: S3Client;
/** Root's scratch folder, and one the drill's user owns (its keyring, S3 keys and runtime folder). */
let dir: string;
let drillDir: string;
let runtimeDir: string;
let s3KeyFiles: { accessKeyId: string; secretAccessKey: string };
let backupPassword: string;
const drillUser = osUser();
const secrets: string[] = [];

function cli(
  args: string[],
  env: Record<string, string>,
  opts: { asDrillUser?: boolean; onLog?: (log: Record<string, unknown>, child: ChildProcess) => void } = {},
): Promise<CliRun> {
  return runBackupCli(args, env, {
    secrets,
    user: opts.asDrillUser ? drillUser : undefined,
    ...(opts.onLog ? { onLog: opts.onLog } : {}),
  });
}

const ok = succeeded;

function resultOf(run: CliRun): Record<string, unknown> {
  const line = run.logs.find((l) => l.msg === 'drill result');
  expect(line, `no "drill result" line in:\n${run.stdout}\n${run.stderr}`).toBeDefined();
  return line ?? {};
}

/** A file the drill's user can read (a mounted Secret is readable by the Pod's user). */
async function forDrillUser(path: string): Promise<string> {
  if (drillUser) await chown(path, drillUser.uid, drillUser.gid);
  return path;
}

async function writeKeyring(name: string, k: Keyring): Promise<string> {
  const path = join(drillDir, name);
  await writeFile(path, serializeKeyring(k), { mode: 0o600 });
  for (const v of k.keys) secrets.push(v.material);
  return forDrillUser(path);
}

/** The backup CronJob's environment, dumping as the read-only backup role. */
async function backupEnv(territory: string, database: string, keyringFile: string) {
  const passwordFile = join(dir, 'territory_backup.password');
  await writeFile(passwordFile, `${backupPassword}\n`, { mode: 0o600 });
  return {
    ...backupCommandEnv(pg, s3, { territory, database, bucket: BUCKET, prefix: PREFIX, keyringFile }),
    PGUSER: 'territory_backup',
    PG_PASSWORD_FILE: passwordFile,
  };
}

/**
 * A drill CronJob's environment: the same destination and keys, the server binaries, a runtime
 * folder; and libpq settings that lead nowhere (the backup CronJob's would lead to the database).
 */
function drillEnv(territory: string, keyringFile: string): Record<string, string> {
  return {
    TERRITORY_NAME: territory,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_BUCKET: BUCKET,
    S3_PREFIX: PREFIX,
    S3_ACCESS_KEY_ID_FILE: s3KeyFiles.accessKeyId,
    S3_SECRET_ACCESS_KEY_FILE: s3KeyFiles.secretAccessKey,
    KEYRING_FILE: keyringFile,
    PG_BINDIR: pg.binDir,
    TERRITORY_RUNTIME_DIR: runtimeDir,
    PGHOST: '/nonexistent/territory-database',
    PGPORT: '1',
    PGUSER: 'territory_backup',
    PGDATABASE: 'territory',
    PG_PASSWORD_FILE: join(dir, 'no-such-password-file'),
  };
}

async function objectBytes(key: string): Promise<{ body: Buffer; metadata: Record<string, string> }> {
  const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return {
    body: Buffer.concat(await (r.Body as Readable).toArray()),
    metadata: r.Metadata ?? {},
  };
}

async function putObject(key: string, body: Buffer, metadata: Record<string, string> = {}): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: metadata }));
}

async function exists(key: string): Promise<boolean> {
  return client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
    () => true,
    () => false,
  );
}

const keysUnder = (prefix: string) => keysIn(client, BUCKET, prefix);

/** Every table the drill listed, with its row count and whether it matched. */
function checkedTables(run: CliRun): Record<string, { rows: number; match?: boolean }> {
  return Object.fromEntries(
    run.logs
      .filter((l) => l.msg === 'table checked')
      .map((l) => [
        String(l.table),
        { rows: Number(l.rows ?? -1), ...(l.match === undefined ? {} : { match: Boolean(l.match) }) },
      ]),
  );
}

async function runtimeLeftovers(): Promise<string[]> {
  return readdir(runtimeDir);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'territory-drill-test-'));
  drillDir = await mkdtemp(join(tmpdir(), 'territory-drill-user-'));
  runtimeDir = join(drillDir, 'run');
  await mkdir(runtimeDir, { mode: 0o700 });
  await forDrillUser(drillDir);
  await forDrillUser(runtimeDir);
  [pg, s3] = await Promise.all([startPostgres(), startS3Server({ buckets: [BUCKET] })]);
  client = s3.client();
  s3KeyFiles = {
    accessKeyId: join(drillDir, 'access-key-id'),
    secretAccessKey: join(drillDir, 'secret-access-key'),
  };
  await copyFile(s3.credentialFiles.accessKeyId, s3KeyFiles.accessKeyId);
  await copyFile(s3.credentialFiles.secretAccessKey, s3KeyFiles.secretAccessKey);
  await forDrillUser(s3KeyFiles.accessKeyId);
  await forDrillUser(s3KeyFiles.secretAccessKey);
  backupPassword = randomBytes(12).toString('hex');
  secrets.push(pg.password, s3.secretAccessKey, backupPassword);
  // The role the Cluster declares for backups, and a purpose role that row-level security names.
  await pg.sql(
    `create role territory_backup login bypassrls password '${backupPassword}' in role pg_read_all_data;
     create role purpose_agents nologin;`,
  );
}, 900_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
  if (drillDir) await rm(drillDir, { recursive: true, force: true });
});

/** The tables of the varied database, and how many rows each holds (ONLY: its own rows). */
const VARIED_TABLES: Record<string, number> = {
  'public.vide': 0,
  'public.avec_nulls': 4,
  'public.binaire': 300,
  'public.mesures_2025': 2,
  'public.mesures_2026': 3,
  'public.mesures_autres': 1,
  'public.dossiers': 6,
  'public.brouillons': 50,
  'public.parent': 1,
  'public.enfant': 2,
  '"Cantine Scolaire"."a""b; drop table x"': 2,
};

/**
 * An empty table, NULLs, bytea (NUL bytes, invalid UTF-8), a partitioned table, row-level security
 * that hides every row from everyone but a purpose role, a hostile table name, an unlogged table, an
 * inheritance child whose columns a restore reorders, a large object; and what is not a table
 * (a materialized view, a sequence, a view).
 */
async function seedVaried(database: string): Promise<void> {
  await pg.sql(`create database ${database}`);
  await pg.sql(
    `
    create table vide (id int primary key, nom text);
    create table avec_nulls (id int, t text, n numeric, d date, j jsonb, a int[]);
    insert into avec_nulls values (1, null, null, null, null, null), (2, '', 0, '2026-01-01', 'null', '{}'),
      (3, 'NULL', null, null, '{"a": null}', '{null,1}'), (null, null, null, null, null, null);
    create table binaire (id int primary key, raw bytea, doc jsonb, at timestamptz, f float8, r real, nom text);
    insert into binaire select g, decode(md5(g::text) || '00ff5c22', 'hex'), jsonb_build_object('g', g, 'é', 'ü'),
      '2026-03-29 01:30:00+01'::timestamptz + g * interval '17 minutes', g / 3.0, g / 7.0, 'ligne ' || g || E'\\n"q"'
      from generate_series(1, 300) g;
    create table mesures (capteur int, jour date, valeur real) partition by range (jour);
    create table mesures_2025 partition of mesures for values from ('2025-01-01') to ('2026-01-01');
    create table mesures_2026 partition of mesures for values from ('2026-01-01') to ('2027-01-01');
    create table mesures_autres partition of mesures default;
    insert into mesures values (1, '2025-06-01', 1.5), (2, '2025-07-01', 2.5), (1, '2026-01-01', 3),
      (2, '2026-02-01', null), (3, '2026-12-31', -0.0), (1, '2030-01-01', 9);
    create table dossiers (id int, agent text, contenu text);
    insert into dossiers select g, 'agent-' || (g % 2), 'confidentiel ' || g from generate_series(1, 6) g;
    alter table dossiers enable row level security;
    alter table dossiers force row level security;
    create policy agents on dossiers to purpose_agents using (agent = current_user);
    create schema "Cantine Scolaire";
    create table "Cantine Scolaire"."a""b; drop table x" ("x""); drop table y; --" int, "Été" text);
    insert into "Cantine Scolaire"."a""b; drop table x" values (1, 'crêpes'), (2, null);
    create unlogged table brouillons as select g from generate_series(1, 50) g;
    create table parent (a int);
    create table enfant (b text) inherits (parent);
    alter table parent add column c int;
    insert into parent (a, c) values (0, 0);
    insert into enfant (a, b, c) values (1, 'x', 2), (3, 'y', null);
    create materialized view resume as select count(*) from binaire;
    create view grands as select id from binaire where id > 250;
    create sequence numeros;
    select nextval('numeros');
    select lo_from_bytea(4242, 'une pièce jointe');
    grant select on large object 4242 to territory_backup;
    `,
    database,
  );
}

describe('territory-backup drill', () => {
  let keyringFile: string;
  let key: string;
  let env: Record<string, string>;
  let dEnv: Record<string, string>;

  beforeAll(async () => {
    await seedVaried('varied');
    keyringFile = await writeKeyring('varied.json', newKeyring({ now: T0, randomBytes }));
    env = await backupEnv('varied', 'varied', keyringFile);
    dEnv = drillEnv('varied', keyringFile);
    const backup = ok(await cli(['backup'], env));
    key = backupKeyOf(backup);
    expect(backup.logs.find((l) => l.msg === 'backup complete')).toMatchObject({
      manifestKey: manifestKeyOf(key),
      tables: Object.keys(VARIED_TABLES).length,
    });
    expect(
      backup.logs.filter((l) => l.level === 40),
      'no warning',
    ).toEqual([]);
  });

  it('restores the latest backup into its own server and finds every table with the same rows', async () => {
    // The source, counted directly: what the drill must report.
    for (const [table, rows] of Object.entries(VARIED_TABLES)) {
      expect(await pg.sql(`select count(*) from only ${table}`, 'varied'), table).toBe(String(rows));
    }
    const run = await cli(['drill'], dEnv, { asDrillUser: true });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const result = resultOf(run);
    expect(result).toMatchObject({
      result: 'passed',
      key,
      manifestKey: manifestKeyOf(key),
      keyId: 'k1-20261101',
      takenAt: backupTime(key)?.toISOString(),
      tablesChecked: Object.keys(VARIED_TABLES).length,
      tablesRestored: Object.keys(VARIED_TABLES).length,
      mismatches: [],
      source: { versionNum: expect.any(Number), encoding: 'UTF8' },
    });
    expect(Number(result.plaintextBytes)).toBeGreaterThan(0);
    expect(Object.keys(result.seconds as object).sort()).toEqual([
      'check',
      'download',
      'restore',
      'server',
      'total',
    ]);
    const expected = Object.fromEntries(
      Object.entries(VARIED_TABLES).map(([t, rows]) => [t, { rows, match: true }]),
    );
    expect(checkedTables(run)).toEqual(expected);
    // Its server is gone, folder and all.
    expect(await runtimeLeftovers()).toEqual([]);
  });

  it('stores the manifest beside the dump, sealed like it: no table name in clear; list shows backups only', async () => {
    const { body } = await objectBytes(manifestKeyOf(key));
    expect(parseHeader(body)?.keyId).toBe('k1-20261101');
    for (const name of ['dossiers', 'binaire', 'Cantine', 'mesures']) {
      expect(body.includes(Buffer.from(name)), name).toBe(false);
    }
    const listed = ok(await cli(['list', '--json'], env))
      .stdout.split('\n')
      .filter((l) => l.startsWith('{"key"'))
      .map((l) => JSON.parse(l).key);
    expect(listed).toEqual([key]);
  });

  it('fails with exit code 4 and names each table when the data does not match the manifest', async () => {
    const manifestKey = manifestKeyOf(key);
    const original = await objectBytes(manifestKey);
    const keys = await loadKeys(keyringFile);
    const binding = { territory: 'varied', takenAt: backupTime(key) ?? new Date(0) };
    const manifest = await openManifest(original.body, { resolveKey: keys.resolveKey, expect: binding });
    // A manifest written by hand for this very dump, sealed with the territory's key: one table
    // recorded with a row more, another one that the dump does not hold.
    const binaire = manifest.checksums.tables.find((t) => t.name === 'binaire');
    if (!binaire) throw new Error('binaire is not in the manifest');
    const recorded = { rows: binaire.rows, checksum: binaire.checksum };
    binaire.rows += 1;
    binaire.checksum = '12345';
    manifest.checksums.tables.push({ schema: 'public', name: 'disparue', rows: 5, checksum: '99' });
    const forged = await sealManifest(manifest, {
      keyId: 'k1-20261101',
      dataKey: keys.resolveKey('k1-20261101'),
      binding,
      randomBytes,
    });
    await putObject(manifestKey, forged);
    try {
      const run = await cli(['drill', '--object', key.split('/').at(-1) ?? ''], dEnv, { asDrillUser: true });
      expect(run.code, run.stdout + run.stderr).toBe(4);
      const result = resultOf(run);
      expect(result.result).toBe('mismatch');
      expect(result.mismatches).toEqual([
        { table: 'public.binaire', expected: { rows: 301, checksum: '12345' }, got: recorded },
        { table: 'public.disparue', expected: { rows: 5, checksum: '99' } },
      ]);
      expect(checkedTables(run)['public.binaire']).toEqual({ rows: 300, match: false });
      expect(checkedTables(run)['public.disparue']).toEqual({ rows: -1, match: false });
      expect(checkedTables(run)['public.vide']).toEqual({ rows: 0, match: true });
      const failed = run.logs.find((l) => l.msg === 'failed');
      expect(String(failed?.error)).toContain('does not match');
      expect(String(failed?.error)).toContain('public.binaire, public.disparue');
      expect(await runtimeLeftovers()).toEqual([]);
    } finally {
      await putObject(manifestKey, original.body, original.metadata);
    }
  });

  it('fails at verification with exit code 5 when the dump or its manifest was tampered with, starting no server', async () => {
    const original = await objectBytes(key);
    const header = parseHeader(original.body)?.bytes.length ?? 0;
    const flipped = Buffer.from(original.body);
    flipped[header + 100] = (flipped[header + 100] ?? 0) ^ 0x01;
    await putObject(key, flipped, original.metadata);
    try {
      const run = await cli(['drill'], dEnv, { asDrillUser: true });
      expect(run.code, run.stdout + run.stderr).toBe(5);
      expect(resultOf(run)).toMatchObject({ result: 'unrestorable', step: 'download', key });
      expect(String(resultOf(run).error)).toMatch(/corrupted or was tampered with/);
      expect(run.logs.map((l) => l.msg)).not.toContain('restoring into the drill server');
      expect(await runtimeLeftovers()).toEqual([]);
    } finally {
      await putObject(key, original.body, original.metadata);
    }

    const manifestKey = manifestKeyOf(key);
    const manifest = await objectBytes(manifestKey);
    const damaged = Buffer.from(manifest.body);
    damaged[damaged.length - 30] = (damaged[damaged.length - 30] ?? 0) ^ 0x01;
    await putObject(manifestKey, damaged);
    try {
      const run = await cli(['drill'], dEnv, { asDrillUser: true });
      expect(run.code, run.stdout + run.stderr).toBe(5);
      expect(String(resultOf(run).error)).toMatch(
        new RegExp(
          `backup manifest s3://${BUCKET}/${manifestKey}: backup object is corrupted or was tampered with`,
        ),
      );
    } finally {
      await putObject(manifestKey, manifest.body);
    }
  });

  it("refuses another backup's manifest copied beside this dump (exit code 5)", async () => {
    const other = backupKeyOf(ok(await cli(['backup'], env)));
    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: manifestKeyOf(other),
        CopySource: `${BUCKET}/${manifestKeyOf(key)}`,
      }),
    );
    const run = await cli(['drill', '--object', other], dEnv, { asDrillUser: true });
    expect(run.code, run.stdout + run.stderr).toBe(5);
    expect(String(resultOf(run).error)).toContain('copied or renamed');
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: other }));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: manifestKeyOf(other) }));
  });

  it('restores a backup without a manifest (taken before manifests existed) and says it could not compare', async () => {
    await pg.sql('create database legacy');
    await pg.sql(
      `create table communes (code text primary key, nom text);
       insert into communes values ('35238', 'Rennes'), ('29019', 'Brest');
       create table notes (id int, texte text);
       alter table notes enable row level security;
       create policy tout_le_monde on notes using (true);`,
      'legacy',
    );
    const legacyKeyring = await writeKeyring('legacy.json', newKeyring({ now: T0, randomBytes }));
    const legacy = backupKeyOf(ok(await cli(['backup'], await backupEnv('legacy', 'legacy', legacyKeyring))));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: manifestKeyOf(legacy) }));
    const run = await cli(['drill'], drillEnv('legacy', legacyKeyring), { asDrillUser: true });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.logs.map((l) => l.msg)).toContain(
      'backup verified; it has no manifest, so the drill can only show that it restores',
    );
    const result = resultOf(run);
    expect(result).toMatchObject({ result: 'not-compared', key: legacy, tablesChecked: 0, mismatches: [] });
    expect(result.manifestKey).toBeUndefined();
    // What restored is still listed, without a verdict.
    expect(checkedTables(run)).toEqual({ 'public.communes': { rows: 2 }, 'public.notes': { rows: 0 } });
    expect(await runtimeLeftovers()).toEqual([]);
  });

  it('says why a backup without a manifest fails when a policy names a role only the manifest lists', async () => {
    const manifestKey = manifestKeyOf(key);
    const manifest = await objectBytes(manifestKey);
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: manifestKey }));
    try {
      const run = await cli(['drill'], dEnv, { asDrillUser: true });
      expect(run.code, run.stdout + run.stderr).toBe(5);
      expect(resultOf(run)).toMatchObject({ result: 'unrestorable', step: 'restore' });
      expect(String(resultOf(run).error)).toContain('role "purpose_agents" does not exist');
      expect(String(resultOf(run).error)).toContain('This backup has no manifest');
      expect(await runtimeLeftovers()).toEqual([]);
    } finally {
      await putObject(manifestKey, manifest.body);
    }
  });

  it('exits 6, starting no server, when the territory has no backup yet (a first drill before the first backup)', async () => {
    const run = await cli(['drill'], drillEnv('not-backed-up-yet', keyringFile), { asDrillUser: true });
    expect(run.code, run.stdout + run.stderr).toBe(6);
    expect(resultOf(run)).toMatchObject({ result: 'no-backup', step: 'download', key: null });
    expect(await runtimeLeftovers()).toEqual([]);
  });

  it('refuses to run as root, where PostgreSQL cannot start', async () => {
    if (process.getuid?.() !== 0) return;
    const run = await cli(['drill'], dEnv);
    expect(run.code).toBe(1);
    expect(String(run.logs.find((l) => l.msg === 'failed')?.error)).toContain('refuses to run as root');
  });

  it('stops and removes its server when it is stopped (SIGTERM) while it starts it', async () => {
    const run = await cli(['drill'], dEnv, {
      asDrillUser: true,
      onLog: (log, child) => {
        if (String(log.msg).startsWith('backup verified')) child.kill('SIGTERM');
      },
    });
    expect(run.code ?? run.signal, run.stdout + run.stderr).toBe(143);
    expect(run.logs.map((l) => l.msg)).toContain('drill interrupted; stopping and removing its server');
    expect(await runtimeLeftovers()).toEqual([]);
  });
});

describe('the manifest describes the snapshot pg_dump dumps', () => {
  it('matches the dump even while rows are inserted during the backup', async () => {
    await pg.sql('create database busy');
    await pg.sql(
      `create table flux (id int, at timestamptz default clock_timestamp());
       create table volume as select g as id, md5(g::text) as v from generate_series(1, 200000) g;`,
      'busy',
    );
    const keyringFile = await writeKeyring('busy.json', newKeyring({ now: T0, randomBytes }));
    const env = await backupEnv('busy', 'busy', keyringFile);
    // One row every few milliseconds, each committed, for longer than the backup takes.
    const writer = pg.sql(
      `do $$ begin for i in 1..3000 loop insert into flux (id) values (i); commit; perform pg_sleep(0.002); end loop; end $$;`,
      'busy',
    );
    await new Promise((r) => setTimeout(r, 500));
    const backup = ok(await cli(['backup'], env));
    await writer;
    const run = await cli(['drill'], drillEnv('busy', keyringFile), { asDrillUser: true });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(resultOf(run).result).toBe('passed');
    // The backup caught the table mid-way: neither empty nor complete.
    const flux = checkedTables(run)['public.flux']?.rows ?? 0;
    expect(flux).toBeGreaterThan(0);
    expect(flux).toBeLessThan(3000);
    expect(backupKeyOf(backup)).toMatch(/^drills\/busy\//);
  });
});

describe('prune', () => {
  it('deletes a manifest with its backup, and a manifest whose backup is gone once it is a day old', async () => {
    await pg.sql('create database pruned');
    await pg.sql('create table t as select g from generate_series(1, 10) g', 'pruned');
    const keyringFile = await writeKeyring('pruned.json', newKeyring({ now: T0, randomBytes }));
    const env = await backupEnv('pruned', 'pruned', keyringFile);
    const fresh = backupKeyOf(ok(await cli(['backup'], env)));
    const aged = backupObjectKey(PREFIX, 'pruned', new Date(Date.now() - 40 * DAY));
    const orphan = manifestKeyOf(backupObjectKey(PREFIX, 'pruned', new Date(Date.now() - 3 * DAY)));
    for (const [from, to] of [
      [fresh, aged],
      [manifestKeyOf(fresh), manifestKeyOf(aged)],
      [manifestKeyOf(fresh), orphan],
    ] as const) {
      await client.send(new CopyObjectCommand({ Bucket: BUCKET, Key: to, CopySource: `${BUCKET}/${from}` }));
    }
    const logs: string[] = [];
    const log = {
      info: (_o: object, m: string) => logs.push(m),
      warn: (_o: object, m: string) => logs.push(m),
    };
    const cfg = {
      territory: 'pruned',
      endpoint: s3.endpoint,
      region: s3.region,
      bucket: BUCKET,
      prefix: PREFIX,
      credentialFiles: s3.credentialFiles,
      keyringFile,
      retentionDays: 35,
      keepAtLeast: 1,
      pg: {},
    };
    // Today: the aged backup goes with its manifest; the orphan is too recent to be judged abandoned.
    const today = await runPrune(cfg, { s3: client, log });
    expect(today.deleted).toEqual([aged]);
    expect(await exists(manifestKeyOf(aged))).toBe(false);
    expect(await exists(orphan)).toBe(true);
    // Two days on (objects keep today's modification time), the orphan is a leftover.
    const later = await runPrune(cfg, { s3: client, log, now: () => new Date(Date.now() + 2 * DAY) });
    expect(later.leftoversRemoved).toEqual([orphan]);
    expect(await keysUnder(`${PREFIX}/pruned/`)).toEqual([manifestKeyOf(fresh), fresh].sort());
  });
});
