// Encrypted logical backups against real parts: a real PostgreSQL (initdb'd for this run), a
// real S3-compatible server (versitygw), and the real `territory-backup` command run as a child
// process with the environment the CronJob gives it.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { META } from '../../operator/src/backup/commands.ts';
import { parseHeader } from '../../operator/src/backup/format.ts';
import { backupObjectKey, backupTime, manifestKeyOf } from '../../operator/src/backup/naming.ts';
import {
  ensureCurrent,
  type Keyring,
  newKeyring,
  serializeKeyring,
} from '../../operator/src/keys/keyring.ts';
import { ExtendedKeyUsage, newCertificateAuthority } from '../controlplane/certs.ts';
import {
  backupKeyOf,
  type BackupCliRun as CliRun,
  keysUnder as keysIn,
  runBackupCli,
  succeeded,
} from '../support/backup-cli.ts';
import { backupCommandEnv } from '../support/backup-command.ts';
import { type PostgresServer, startPostgres, tableChecksums } from '../support/postgres.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';

const BUCKET = 'territory-backups';
const PREFIX = 'territories';
const DAY = 86_400_000;
const T0 = new Date('2026-11-01T03:00:00Z');

let pg: PostgresServer;
let s3: S3Server;
let client: S3Client;
let dir: string;

/** Everything that must never appear in output: passwords, S3 secret, key material. */
const secrets: string[] = [];

const cli = (args: string[], env: Record<string, string>) => runBackupCli(args, env, { secrets });

const ok = succeeded;

function failed(run: CliRun): string {
  expect(run.code, `expected a failure, got:\n${run.stdout}`).not.toBe(0);
  const line = run.logs.find((l) => l.msg === 'failed');
  expect(line, `no "failed" log line in:\n${run.stdout}\n${run.stderr}`).toBeDefined();
  // A refused restore never gets as far as starting pg_restore.
  expect(run.logs.map((l) => l.msg)).not.toContain('backup verified; restoring');
  return String(line?.error);
}

async function writeKeyring(name: string, k: Keyring): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, serializeKeyring(k));
  for (const v of k.keys) secrets.push(v.material);
  return path;
}

function baseEnv(territory: string, keyringFile: string, database: string): Record<string, string> {
  return backupCommandEnv(pg, s3, { territory, database, bucket: BUCKET, prefix: PREFIX, keyringFile });
}

/** Another role's password, as its mounted Secret file (PG_PASSWORD_FILE). */
async function passwordFile(role: string, password: string): Promise<string> {
  const path = join(dir, `${role}.password`);
  await writeFile(path, `${password}\n`, { mode: 0o600 });
  return path;
}

/** The environment to run the command as another database role. */
async function asRole(
  env: Record<string, string>,
  role: string,
  password: string,
): Promise<Record<string, string>> {
  return { ...env, PGUSER: role, PG_PASSWORD_FILE: await passwordFile(role, password) };
}

async function createDatabase(name: string): Promise<void> {
  await pg.sql(`create database "${name}"`);
}

/** A small but varied schema: types, NULLs, unicode, bytea, jsonb, a sequence, a view, an index. */
async function seed(database: string, rows: number): Promise<void> {
  await pg.sql(
    `
    create table communes (id serial primary key, code text not null unique, nom text, population int, maj timestamptz);
    insert into communes (code, nom, population, maj) values
      ('35238', 'Rennes', 227830, '2026-01-01T00:00:00Z'),
      ('42218', 'Saint-Étienne', 170761, null),
      ('2A004', 'Ajaccio', 73467, '2026-06-30T12:00:00+02:00');
    create table readings (id bigint primary key, sensor text, value double precision, payload jsonb, raw bytea);
    insert into readings
      select g, 'capteur-' || (g % 97), g * 0.25, jsonb_build_object('g', g, 'ok', g % 2 = 0),
             decode(md5(g::text), 'hex')
      from generate_series(1, ${rows}) g;
    create index readings_sensor on readings (sensor);
    create view big_communes as select nom from communes where population > 100000;
    `,
    database,
  );
}

async function objectBytes(key: string): Promise<{ body: Buffer; metadata: Record<string, string> }> {
  const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return {
    body: Buffer.from(await (r.Body as Readable).toArray().then((c) => Buffer.concat(c))),
    metadata: r.Metadata ?? {},
  };
}

const keysUnder = (prefix: string) => keysIn(client, BUCKET, prefix);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'territory-backup-test-'));
  [pg, s3] = await Promise.all([startPostgres(), startS3Server({ buckets: [BUCKET] })]);
  client = s3.client();
  secrets.push(pg.password, s3.secretAccessKey);
}, 900_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), s3?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('territory-backup with real PostgreSQL and real S3', () => {
  it('backs up, and restores the same rows into the same database after the tables are dropped', async () => {
    await createDatabase('roundtrip');
    await seed('roundtrip', 20_000);
    const before = await tableChecksums(pg, 'roundtrip');
    const keyring = await writeKeyring('roundtrip.json', newKeyring({ now: T0, randomBytes }));
    const env = baseEnv('roundtrip', keyring, 'roundtrip');

    const backup = ok(await cli(['backup'], env));
    const key = backupKeyOf(backup);
    expect(key).toMatch(/^territories\/roundtrip\/\d{8}T\d{6}\.\d{3}Z\.pgdump\.enc$/);

    // The stored object: TERRBK01 header naming the key, metadata matching its bytes.
    const { body, metadata } = await objectBytes(key);
    expect(parseHeader(body)?.keyId).toBe('k1-20261101');
    expect(metadata[META.keyId]).toBe('k1-20261101');
    expect(metadata[META.format]).toBe('TERRBK01/2');
    expect(metadata[META.ciphertextSha256]).toBe(createHash('sha256').update(body).digest('hex'));
    expect(Number(metadata[META.plaintextBytes])).toBeGreaterThan(0);
    expect(await keysUnder(`${PREFIX}/roundtrip/.incomplete/`)).toEqual([]);

    await pg.sql('drop view big_communes; drop table communes; drop table readings;', 'roundtrip');
    expect(await tableChecksums(pg, 'roundtrip')).toEqual({});

    const restore = ok(await cli(['restore', '--object', 'latest'], env));
    expect(restore.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'verifying backup before restoring',
        'backup verified; restoring',
        'restore complete',
      ]),
    );
    expect(await tableChecksums(pg, 'roundtrip')).toEqual(before);
    expect(await pg.sql("select string_agg(nom, ',' order by nom) from big_communes", 'roundtrip')).toBe(
      'Rennes,Saint-Étienne',
    );
    // The sequence came back too: the next id follows the restored rows.
    expect(await pg.sql("insert into communes (code) values ('00000') returning id", 'roundtrip')).toBe('4');
  });

  it('backs up and restores as the database owner, not a superuser (as a CloudNativePG app user)', async () => {
    const password = randomBytes(12).toString('hex');
    secrets.push(password);
    await pg.sql(`create role app_owner login password '${password}'`);
    await pg.sql('create database owned owner app_owner');
    await pg.sql(
      `set role app_owner;
       create table t as select g as id, md5(g::text) as v from generate_series(1, 5000) g;
       create view v as select id from t where id % 2 = 0;
       create function answer() returns int language sql as 'select 42';`,
      'owned',
    );
    const before = await tableChecksums(pg, 'owned');
    const keyring = await writeKeyring('owned.json', newKeyring({ now: T0, randomBytes }));
    const env = await asRole(baseEnv('owned', keyring, 'owned'), 'app_owner', password);
    ok(await cli(['backup'], env));
    await pg.sql('set role app_owner; drop view v; drop table t; drop function answer();', 'owned');
    ok(await cli(['restore', '--object', 'latest'], env));
    expect(await tableChecksums(pg, 'owned')).toEqual(before);
    expect(await pg.sql('select answer()', 'owned')).toBe('42');
  });

  it("dumps a purpose role's tables only when the owner is a member of that role (as the Cluster declares it)", async () => {
    // The roles a Territory's Cluster declares: the owner, and a purpose role that creates its own
    // tables. The e2e suite found the owner could not dump them ("permission denied for table").
    const password = randomBytes(12).toString('hex');
    secrets.push(password);
    await pg.sql(
      `create role purposes_owner login password '${password}'; create role purpose_cantine login`,
    );
    await pg.sql('create database purposes owner purposes_owner');
    await pg.sql(
      `create schema cantine authorization purposes_owner; grant usage, create on schema cantine to purpose_cantine;
       set role purpose_cantine; create table cantine.repas as select g as id from generate_series(1, 100) g;`,
      'purposes',
    );
    const keyring = await writeKeyring('purposes.json', newKeyring({ now: T0, randomBytes }));
    const env = await asRole(baseEnv('purposes', keyring, 'purposes'), 'purposes_owner', password);
    expect(failed(await cli(['backup'], env))).toContain('permission denied for table repas');
    await pg.sql('grant purpose_cantine to purposes_owner');
    ok(await cli(['backup'], env));
    await pg.sql('drop table cantine.repas', 'purposes');
    ok(await cli(['restore', '--object', 'latest'], env));
    expect(await pg.sql('select count(*) from cantine.repas', 'purposes')).toBe('100');
  });

  it('stores no plaintext: a marker visible in the uncompressed dump is absent from the object', async () => {
    await createDatabase('plaintext');
    const marker = `marker-${randomBytes(8).toString('hex')}`;
    await pg.sql(`create table notes (t text); insert into notes values ('${marker}');`, 'plaintext');
    const keyring = await writeKeyring('plaintext.json', newKeyring({ now: T0, randomBytes }));
    // No compression, so the marker is in the dump bytes as-is.
    const run = ok(
      await cli(['backup'], { ...baseEnv('plaintext', keyring, 'plaintext'), PG_DUMP_COMPRESS: '0' }),
    );
    const { body } = await objectBytes(backupKeyOf(run));
    expect(body.includes(Buffer.from(marker))).toBe(false);
    expect(body.includes(Buffer.from('PGDMP'))).toBe(false);
  });

  it('restores backups taken before and after a key rotation, each to its own state', async () => {
    await createDatabase('rotation');
    await seed('rotation', 2_000);
    const k1 = newKeyring({ now: T0, randomBytes });
    const keyringFile = await writeKeyring('rotation.json', k1);
    const env = baseEnv('rotation', keyringFile, 'rotation');

    const first = backupKeyOf(ok(await cli(['backup'], env)));
    const stateA = await tableChecksums(pg, 'rotation');

    const rotated = ensureCurrent(k1, {
      now: new Date(T0.getTime() + 91 * DAY),
      rotationDays: 90,
      randomBytes,
    });
    expect(rotated.rotated).toBe(true);
    await writeKeyring('rotation.json', rotated.keyring);
    await pg.sql(
      'update communes set population = population + 1; delete from readings where id % 3 = 0;',
      'rotation',
    );
    const second = backupKeyOf(ok(await cli(['backup'], env)));
    const stateB = await tableChecksums(pg, 'rotation');
    expect(stateB).not.toEqual(stateA);

    const listed = ok(await cli(['list', '--json'], env))
      .stdout.split('\n')
      .filter((l) => l.startsWith('{"key"'));
    expect(listed.map((l) => JSON.parse(l).keyId)).toEqual(['k1-20261101', 'k2-20270131']);

    ok(await cli(['restore', '--object', first], env));
    expect(await tableChecksums(pg, 'rotation')).toEqual(stateA);
    ok(await cli(['restore', '--object', second.split('/').at(-1) ?? ''], env));
    expect(await tableChecksums(pg, 'rotation')).toEqual(stateB);
  });

  describe('refuses bad objects and keys, and then restores nothing', () => {
    let env: Record<string, string>;
    let key: string;
    let untouched: Record<string, string>;

    beforeAll(async () => {
      await createDatabase('refusals');
      await seed('refusals', 30_000);
      env = baseEnv(
        'refusals',
        await writeKeyring('refusals.json', newKeyring({ now: T0, randomBytes })),
        'refusals',
      );
      key = backupKeyOf(ok(await cli(['backup'], env)));
      // Change the database after the backup, so any restore at all would show.
      await pg.sql("insert into communes (code, nom) values ('99999', 'après la sauvegarde')", 'refusals');
      untouched = await tableChecksums(pg, 'refusals');
    });

    /**
     * Puts damaged bytes in place of the backup, under its own name (so that only the damage is
     * judged, not where it lies), for the time of `check`; then the original again.
     */
    async function damaged(body: Buffer, metadata: Record<string, string>, check: () => Promise<void>) {
      const put = (b: Buffer, m: Record<string, string>) =>
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: b, Metadata: m }));
      const original = await objectBytes(key);
      await put(body, metadata);
      try {
        await check();
      } finally {
        await put(original.body, original.metadata);
      }
    }

    it('a single flipped byte in a chunk', async () => {
      const { body, metadata } = await objectBytes(key);
      expect(body.length, 'the dump should span several 64 KiB chunks').toBeGreaterThan(3 * 65_552);
      const header = parseHeader(body)?.bytes.length ?? 0;
      const position = header + 2 * 65_552 + 1234; // inside chunk 2
      body[position] = (body[position] ?? 0) ^ 0x01;
      await damaged(body, metadata, async () => {
        const error = failed(await cli(['restore', '--object', key], env));
        expect(error).toContain('backup object is corrupted or was tampered with at chunk 2');
        expect(await tableChecksums(pg, 'refusals')).toEqual(untouched);
        expect(failed(await cli(['verify', '--object', key], env))).toContain('at chunk 2');
      });
    });

    it('a truncated object', async () => {
      const { body, metadata } = await objectBytes(key);
      await damaged(body.subarray(0, body.length - 100), metadata, async () => {
        expect(failed(await cli(['restore', '--object', key], env))).toMatch(
          /tampered with at chunk \d+ \(it may be truncated\)/,
        );
        expect(await tableChecksums(pg, 'refusals')).toEqual(untouched);
      });
    });

    it('a keyring whose key has the same id but other bytes (wrong key)', async () => {
      const other = await writeKeyring('other.json', newKeyring({ now: T0, randomBytes }));
      const error = failed(await cli(['restore', '--object', key], { ...env, KEYRING_FILE: other }));
      expect(error).toMatch(/^wrong key: key version "k1-20261101"/);
      expect(await tableChecksums(pg, 'refusals')).toEqual(untouched);
    });

    it('a keyring that lacks the key version (pruned or another territory)', async () => {
      const later = await writeKeyring(
        'later.json',
        newKeyring({ now: new Date(T0.getTime() + 5 * DAY), randomBytes }),
      );
      const error = failed(await cli(['restore', '--object', key], { ...env, KEYRING_FILE: later }));
      expect(error).toContain('key version "k1-20261101" is not in the keyring');
      expect(await tableChecksums(pg, 'refusals')).toEqual(untouched);
    });
  });

  it('with a customer key (KEK): restores with the right one, refuses a wrong one by fingerprint', async () => {
    await createDatabase('kek');
    await seed('kek', 1_000);
    const kek = randomBytes(32);
    const wrongKek = randomBytes(32);
    secrets.push(kek.toString('base64'), kek.toString('hex'), wrongKek.toString('hex'));
    const kekFile = join(dir, 'kek.bin');
    const wrongKekFile = join(dir, 'wrong-kek.txt');
    await writeFile(kekFile, kek);
    await writeFile(wrongKekFile, `${wrongKek.toString('hex')}\n`); // hex text, as people paste keys
    const keyring = newKeyring({
      now: T0,
      randomBytes,
      kek: { secretName: 'kek-secret', key: 'kek', material: kek },
    });
    const env = { ...baseEnv('kek', await writeKeyring('kek.json', keyring), 'kek'), KEK_FILE: kekFile };

    const key = backupKeyOf(ok(await cli(['backup'], env)));
    const state = await tableChecksums(pg, 'kek');
    await pg.sql('delete from readings', 'kek');
    const changed = await tableChecksums(pg, 'kek');

    const wrong = failed(await cli(['restore', '--object', key], { ...env, KEK_FILE: wrongKekFile }));
    expect(wrong).toMatch(/customer key does not match the keyring \(fingerprint hmac-sha256:[0-9a-f]{32}/);
    expect(await tableChecksums(pg, 'kek')).toEqual(changed);
    const missing = failed(await cli(['restore', '--object', key], { ...env, KEK_FILE: '' }));
    expect(missing).toContain('no customer key was supplied');

    ok(await cli(['restore', '--object', key], env));
    expect(await tableChecksums(pg, 'kek')).toEqual(state);
  });

  it('a failing pg_dump leaves no object, not even mid-stream', async () => {
    await createDatabase('failing');
    // A non-superuser owner dumps "a_big" first, then hits row-level security forced on
    // "z_forbidden", so pg_dump fails after it has already streamed data.
    const password = randomBytes(12).toString('hex');
    secrets.push(password);
    await pg.sql(`create role dumper login password '${password}'`);
    await pg.sql('alter database failing owner to dumper');
    await pg.sql(
      `set role dumper;
       create table a_big as select g, md5(g::text) from generate_series(1, 200000) g;
       create table z_forbidden (x int); insert into z_forbidden values (1);
       alter table z_forbidden enable row level security; alter table z_forbidden force row level security;
       create policy p on z_forbidden using (x > 0);`,
      'failing',
    );
    const keyring = await writeKeyring('failing.json', newKeyring({ now: T0, randomBytes }));
    const env = await asRole(baseEnv('failing', keyring, 'failing'), 'dumper', password);

    const error = failed(await cli(['backup'], env));
    expect(error).toMatch(/^backup failed after [1-9]\d* bytes of dump, nothing was stored: pg_dump failed/);
    expect(error).toContain('row-level security');
    expect(await keysUnder(`${PREFIX}/failing/`)).toEqual([]);

    const noDatabase = failed(await cli(['backup'], { ...env, PGDATABASE: 'does_not_exist' }));
    expect(noDatabase).toContain('does_not_exist');
    expect(await keysUnder(`${PREFIX}/failing/`)).toEqual([]);
  });

  it('prunes only backups past retention, always keeping the newest', async () => {
    await createDatabase('retention');
    const keyring = await writeKeyring('retention.json', newKeyring({ now: T0, randomBytes }));
    const env = baseEnv('retention', keyring, 'retention');
    const fresh = backupKeyOf(ok(await cli(['backup'], env)));
    // Copies of the real backup under names dated in the past (the name carries the date).
    const now = Date.now();
    const aged = [1, 34, 36, 40].map((days) =>
      backupObjectKey(PREFIX, 'retention', new Date(now - days * DAY)),
    );
    for (const target of aged) {
      await client.send(
        new CopyObjectCommand({ Bucket: BUCKET, Key: target, CopySource: `${BUCKET}/${fresh}` }),
      );
    }
    const inProgress = `${PREFIX}/retention/.incomplete/${Date.now()}-x.pgdump.enc`;
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: inProgress, Body: 'partial' }));

    const run = ok(await cli(['prune'], { ...env, RETENTION_DAYS: '35' }));
    expect(run.logs.filter((l) => l.msg === 'expired backup deleted').map((l) => l.key)).toEqual([
      aged[2],
      aged[3],
    ]);
    // The fresh backup keeps its manifest (the aged copies were made without one).
    const manifest = manifestKeyOf(fresh);
    expect(await keysUnder(`${PREFIX}/retention/`)).toEqual(
      [aged[1], aged[0], fresh, manifest, inProgress].sort(),
    );

    // Without RETENTION_DAYS nothing is ever deleted.
    ok(await cli(['prune'], { ...env, RETENTION_DAYS: '' }));
    expect(await keysUnder(`${PREFIX}/retention/`)).toHaveLength(5);

    // When every backup is past retention, the newest survives anyway. (The manifest of the deleted
    // fresh backup is an orphan now, removed only once it is a day old.)
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: fresh }));
    ok(await cli(['prune'], { ...env, RETENTION_DAYS: '1' }));
    expect(await keysUnder(`${PREFIX}/retention/`)).toEqual([aged[0], manifest, inProgress].sort());
  });

  it("refuses an old backup copied over a newer name, or another territory's copied in, and restores nothing", async () => {
    await createDatabase('rollback');
    await seed('rollback', 1_000);
    const keyringFile = await writeKeyring('rollback.json', newKeyring({ now: T0, randomBytes }));
    const env = baseEnv('rollback', keyringFile, 'rollback');
    const old = backupKeyOf(ok(await cli(['backup'], env)));
    // Rows erased since (a data subject's request, say): a rollback would bring them back.
    await pg.sql('delete from readings where id > 10', 'rollback');
    const current = backupKeyOf(ok(await cli(['backup'], env)));
    const erased = await tableChecksums(pg, 'rollback');

    // Someone with write access to the bucket: the old object, metadata and all, over the newest
    // name, and under a name newer than any backup.
    const newer = backupObjectKey(PREFIX, 'rollback', new Date(Date.now() + 3_600_000));
    for (const target of [current, newer]) {
      await client.send(
        new CopyObjectCommand({ Bucket: BUCKET, Key: target, CopySource: `${BUCKET}/${old}` }),
      );
    }
    for (const object of [current, newer, 'latest']) {
      const error = failed(await cli(['restore', '--object', object], env));
      expect(error, object).toMatch(/copied or renamed/);
      expect(error, object).toContain(`taken at ${backupTime(old)?.toISOString()}`);
      expect(failed(await cli(['verify', '--object', object], env)), object).toMatch(/copied or renamed/);
    }
    expect(await tableChecksums(pg, 'rollback')).toEqual(erased);

    // Another territory, even one sharing these keys: its folder holds a copy of this one's backup.
    const otherEnv = baseEnv('rollback-other', keyringFile, 'rollback');
    const foreign = backupObjectKey(PREFIX, 'rollback-other', backupTime(old) ?? new Date());
    await client.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: foreign, CopySource: `${BUCKET}/${old}` }),
    );
    const error = failed(await cli(['restore', '--object', 'latest'], otherEnv));
    expect(error).toContain('a backup of territory "rollback"');
    expect(error).toContain('stored as a backup of territory "rollback-other"');
    expect(await tableChecksums(pg, 'rollback')).toEqual(erased);
  });

  it('takes where backups go, and with which keys, from its environment only: such flags are refused', async () => {
    await createDatabase('flags');
    const env = baseEnv(
      'flags',
      await writeKeyring('flags.json', newKeyring({ now: T0, randomBytes })),
      'flags',
    );
    const other = await writeKeyring('flags-other.json', newKeyring({ now: T0, randomBytes }));
    const redirections = [
      ['--endpoint', s3.endpoint],
      ['--bucket', BUCKET],
      ['--prefix', 'elsewhere'],
      ['--region', 'us-east-1'],
      ['--ca-file', join(dir, 'flags.json')],
      ['--territory', 'someone-else'],
      ['--keyring-file', other],
      ['--kek-file', other],
      ['--retention-days', '1'],
      ['--keep-at-least', '1'],
      ['--pg-bindir', pg.binDir],
      ['--compress', '0'],
      ['--dbname', 'postgres'],
    ];
    for (const flag of redirections) {
      for (const args of [
        ['backup', ...flag],
        [...flag, 'backup'],
      ]) {
        const run = await cli(args, env);
        expect(run.code, args.join(' ')).not.toBe(0);
        expect(run.stderr, args.join(' ')).toContain(`unknown option '${flag[0]}'`);
      }
    }
    expect(await keysUnder('elsewhere/')).toEqual([]);
    expect(await keysUnder(`${PREFIX}/someone-else/`)).toEqual([]);
    expect(await keysUnder(`${PREFIX}/flags/`)).toEqual([]);
  });

  it('gives pg_dump and psql only what they need: connection settings and a 0600 passfile, no S3 key, no password variable', async () => {
    await createDatabase('childenv');
    await seed('childenv', 100);
    // A pg_dump that records the environment it was given, then runs the real one.
    const bin = join(dir, 'pg-recording');
    const seen = join(dir, 'pg_dump.env');
    await mkdir(bin, { recursive: true });
    await writeFile(
      join(bin, 'pg_dump'),
      `#!/bin/sh\nenv > '${seen}'\n[ -n "$PGPASSFILE" ] && stat -c %a "$PGPASSFILE" > '${seen}.mode'\nexec '${pg.binDir}/pg_dump' "$@"\n`,
      { mode: 0o755 },
    );
    await symlink(join(pg.binDir, 'pg_restore'), join(bin, 'pg_restore'));
    // psql holds the snapshot session (and computes the manifest's checksums): recorded the same way.
    await writeFile(join(bin, 'psql'), `#!/bin/sh\nenv > '${seen}.psql'\nexec '${pg.binDir}/psql' "$@"\n`, {
      mode: 0o755,
    });
    const keyring = await writeKeyring('childenv.json', newKeyring({ now: T0, randomBytes }));
    const env = {
      ...baseEnv('childenv', keyring, 'childenv'),
      PG_BINDIR: bin,
      // Present in the backup command's own environment: none of it may reach pg_dump.
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_SESSION_TOKEN: 'decoy-session-token',
      PGPASSWORD: pg.password,
    };
    const run = ok(await cli(['backup'], env));
    expect(run.logs.find((l) => l.msg === 'backup complete')?.manifestKey).toMatch(/\.manifest\.enc$/);
    const namesIn = async (file: string) =>
      (await readFile(file, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(0, l.indexOf('=')))
        .filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_');
    const libpq = ['PATH', 'PGAPPNAME', 'PGDATABASE', 'PGHOST', 'PGPASSFILE', 'PGPORT', 'PGUSER'];
    expect((await namesIn(seen)).sort()).toEqual(libpq.sort());
    expect((await namesIn(`${seen}.psql`)).sort()).toEqual([...libpq, 'PGCLIENTENCODING'].sort());
    expect((await readFile(`${seen}.mode`, 'utf8')).trim()).toBe('600');
    // The passfile lived only while pg_dump ran.
    const passfile = /^PGPASSFILE=(.*)$/m.exec(await readFile(seen, 'utf8'))?.[1] ?? '';
    expect(existsSync(passfile)).toBe(false);
  });

  it('backs up as a read-only role (pg_read_all_data, BYPASSRLS), as the Cluster declares it, and the owner restores', async () => {
    const ownerPassword = randomBytes(12).toString('hex');
    const backupPassword = randomBytes(12).toString('hex');
    secrets.push(ownerPassword, backupPassword);
    await pg.sql(
      `create role ro_owner login password '${ownerPassword}';
       create role purpose_ro login;
       create role territory_backup login bypassrls password '${backupPassword}' in role pg_read_all_data;
       grant purpose_ro to ro_owner;`,
    );
    await pg.sql('create database readonly owner ro_owner');
    await pg.sql(
      `create schema cantine authorization ro_owner; grant usage, create on schema cantine to purpose_ro;
       set role purpose_ro;
       create table cantine.repas as select g as id, md5(g::text) as menu from generate_series(1, 300) g;
       create table cantine.allergies (eleve int, allergie text);
       insert into cantine.allergies select g, 'arachide' from generate_series(1, 50) g;
       alter table cantine.allergies enable row level security;
       alter table cantine.allergies force row level security;
       create policy nobody on cantine.allergies using (false);
       reset role; set role ro_owner;
       create table public.communes as select g as id from generate_series(1, 20) g;
       create sequence public.numeros start 42;
       select lo_from_bytea(4242, 'une pièce jointe');`,
      'readonly',
    );
    const count = (table: string) => pg.sql(`select count(*) from ${table}`, 'readonly');
    const keyring = await writeKeyring('readonly.json', newKeyring({ now: T0, randomBytes }));
    const asBackup = await asRole(
      baseEnv('readonly', keyring, 'readonly'),
      'territory_backup',
      backupPassword,
    );
    // Before PostgreSQL 19, pg_read_all_data does not cover large objects: the backup fails, and says
    // what to grant; with the grant it succeeds.
    if (pg.majorVersion < 19) {
      const refused = failed(await cli(['backup'], asBackup));
      expect(refused).toContain('permission denied for large object 4242');
      expect(refused).toContain('GRANT SELECT ON LARGE OBJECT <oid> TO territory_backup');
      await pg.sql('grant select on large object 4242 to territory_backup', 'readonly');
    }
    ok(await cli(['backup'], asBackup));
    // It reads everything and writes nothing.
    await expect(
      pg.sql('set role territory_backup; insert into public.communes values (0)', 'readonly'),
    ).rejects.toThrow(/permission denied/);
    await expect(pg.sql('set role territory_backup; drop table cantine.repas', 'readonly')).rejects.toThrow(
      /must be owner/,
    );
    await pg.sql(
      'drop table cantine.repas; drop table cantine.allergies; drop table public.communes',
      'readonly',
    );
    ok(
      await cli(
        ['restore', '--object', 'latest'],
        await asRole(baseEnv('readonly', keyring, 'readonly'), 'ro_owner', ownerPassword),
      ),
    );
    expect(await count('cantine.repas')).toBe('300');
    expect(await count('cantine.allergies')).toBe('50');
    expect(await count('public.communes')).toBe('20');
    expect(await pg.sql("select convert_from(lo_get(4242), 'UTF8')", 'readonly')).toBe('une pièce jointe');
  });

  it('reports bad configuration by name with exit code 2, and never echoes values', async () => {
    const run = await cli(['backup'], {
      S3_BUCKET: BUCKET,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    expect(run.code).toBe(2);
    const error = failed(run);
    expect(error).toContain('TERRITORY_NAME is required');
    expect(error).toContain('S3_ENDPOINT is required');
    // S3 keys in variables are not credentials to it: only the mounted files are.
    expect(error).toContain('S3_ACCESS_KEY_ID_FILE is required');
    expect(error).toContain('S3_SECRET_ACCESS_KEY_FILE is required');

    const unreadable = await cli(['backup'], {
      ...baseEnv('config', join(dir, 'none.json'), 'postgres'),
      S3_SECRET_ACCESS_KEY_FILE: join(dir, 'no-such-file'),
    });
    expect(unreadable.code).toBe(2);
    expect(failed(unreadable)).toContain(
      `S3_SECRET_ACCESS_KEY_FILE ${join(dir, 'no-such-file')} cannot be read: ENOENT`,
    );
  });

  it('reaches an HTTPS endpoint signed by a private CA only with that CA (S3_CA_FILE), never by default', async () => {
    const { ca, issue } = await newCertificateAuthority('cooperative-objectstore-ca', new Date());
    const other = await newCertificateAuthority('someone-else-ca', new Date());
    const serving = await issue([{ CN: ['objectstore'] }], ExtendedKeyUsage.serverAuth, [
      { type: 'ip', value: '127.0.0.1' },
    ]);
    const tls = await startS3Server({ buckets: [BUCKET], tls: { ...serving, caPem: ca.certPem } });
    secrets.push(tls.secretAccessKey);
    try {
      await createDatabase('privateca');
      await seed('privateca', 100);
      await writeFile(join(dir, 'ca.pem'), ca.certPem);
      await writeFile(join(dir, 'other-ca.pem'), other.ca.certPem);
      const env = {
        ...baseEnv(
          'privateca',
          await writeKeyring('privateca.json', newKeyring({ now: T0, randomBytes })),
          'privateca',
        ),
        S3_ENDPOINT: tls.endpoint,
        S3_ACCESS_KEY_ID_FILE: tls.credentialFiles.accessKeyId,
        S3_SECRET_ACCESS_KEY_FILE: tls.credentialFiles.secretAccessKey,
      };
      // The public CAs do not vouch for it, and neither does another private CA.
      expect(failed(await cli(['backup'], env))).toMatch(/certificate/);
      expect(failed(await cli(['backup'], { ...env, S3_CA_FILE: join(dir, 'other-ca.pem') }))).toMatch(
        /certificate/,
      );
      const key = backupKeyOf(ok(await cli(['backup'], { ...env, S3_CA_FILE: join(dir, 'ca.pem') })));
      expect(key).toMatch(/^territories\/privateca\//);
      expect(
        await tls.client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: key })),
      ).toMatchObject({
        KeyCount: 1,
      });
    } finally {
      await tls.stop();
    }
  });
});
