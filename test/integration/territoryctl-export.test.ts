// `territoryctl export` with real parts: Territories on the real API server, a real PostgreSQL
// backed up by the real `territory-backup` command into a real S3-compatible server, then a fresh
// database restored from the bundle with plain pg_restore holds the same rows. Both choices are
// covered: a decrypted pg_dump, and an encrypted object kept with its keyring (wrapped by the
// authority's own key, opened offline with `territoryctl decrypt`).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { CopyObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { backupStamp, backupTime } from '../../operator/src/backup/naming.ts';
import type { BundleManifest } from '../../operator/src/cli/territoryctl/export.ts';
import { newKeyring, serializeKeyring, unwrapKey } from '../../operator/src/keys/keyring.ts';
import { backupCommandEnv } from '../support/backup-command.ts';
import { uniqueName } from '../support/kube.ts';
import { type PostgresServer, startPostgres, tableChecksums } from '../support/postgres.ts';
import { type S3Server, startS3Server } from '../support/s3.ts';
import { installCrds, kubectl, ok, type Run, territoryctl } from './territoryctl-support.ts';

const BACKUP_CLI = resolve(import.meta.dirname, '../../operator/src/cli/territory-backup.ts');
const BUCKET = 'territoryctl-export';
const PREFIX = 'territories/';

let pg: PostgresServer;
let s3: S3Server;
let dir: string;
const territories: string[] = [];
/** Never in any output nor in any bundle file (the keyring file of an encrypted bundle aside). */
const secrets: string[] = [];

function spawnRun(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

function noSecretIn(text: string, where: string): void {
  for (const s of secrets) expect(text.includes(s), `a secret leaked into ${where}`).toBe(false);
}

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

interface Prepared {
  name: string;
  database: string;
  kek?: Buffer;
}

/**
 * A Territory as the operator leaves it: its managed objects applied (render), its Secrets (S3
 * credentials, keyring, maybe the authority's key), a seeded database, and one backup taken by the
 * real backup command with the environment its CronJob gives it.
 */
async function prepare(prefix: string, opts: { wrapped: boolean }): Promise<Prepared> {
  const name = uniqueName(prefix);
  territories.push(name);
  const database = name.replace(/-/g, '_');
  const territory = {
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'Territory',
    metadata: { name },
    spec: {
      authority: { kind: 'commune', code: '35001' },
      controller: {
        contactEmail: 'mairie@acigne.example.fr',
        dpo: { email: 'dpo@acigne.example.fr' },
        purposes: [
          { name: 'cantine', dataCategories: ['identity'], dataSubjects: ['pupils'], retentionDays: 1825 },
        ],
      },
      hosting: { level: 'standard', regions: ['eu-west-2'] },
      ...(opts.wrapped ? { encryption: { customerKey: { secretName: 'authority-kek', key: 'kek' } } } : {}),
      backup: {
        destination: {
          endpoint: 'https://oos.eu-west-2.outscale.com',
          region: s3.region,
          bucket: BUCKET,
          pathPrefix: PREFIX,
          credentialsSecret: { name: 'backup-s3' },
        },
      },
    },
  };
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, stringify(territory));
  ok(await kubectl(['create', '-f', file]), 'create Territory');
  const rendered = ok(await territoryctl(['render', '--no-secrets', file]), 'render').stdout;
  ok(
    await kubectl(['apply', '--server-side', '--field-manager=territory-operator', '-f', '-'], rendered),
    'apply managed objects',
  );

  const kek = opts.wrapped ? randomBytes(32) : undefined;
  if (kek) secrets.push(kek.toString('base64'), kek.toString('hex'));
  const keyring = newKeyring({
    now: new Date(),
    randomBytes,
    ...(kek ? { kek: { secretName: 'authority-kek', key: 'kek', material: kek } } : {}),
  });
  const keyringJson = serializeKeyring(keyring);
  for (const v of keyring.keys) {
    secrets.push(unwrapKey(keyring, v.id, kek).toString('base64'));
    if (!kek) secrets.push(v.material);
  }
  const secret = (secretName: string, data: Record<string, Buffer | string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName, namespace: name, labels: { 'sovereign.dev/territory': name } },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const objects = [
    secret('backup-s3', { ACCESS_KEY_ID: s3.accessKeyId, ACCESS_SECRET_KEY: s3.secretAccessKey }),
    secret('territory-keyring', { 'keyring.json': keyringJson }),
    ...(kek ? [secret('authority-kek', { kek })] : []),
  ];
  ok(
    await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects })),
    'create Secrets',
  );

  await pg.sql(`create database "${database}"`);
  await pg.sql(
    `create table inscriptions (id serial primary key, eleve text not null, classe text, inscrit_le date, allergies jsonb);
     insert into inscriptions (eleve, classe, inscrit_le, allergies)
       select 'élève ' || g, 'CM' || (g % 2 + 1), date '2026-09-01' + (g % 30), jsonb_build_object('arachide', g % 7 = 0)
       from generate_series(1, 5000) g;
     create table menus (jour date primary key, plat text);
     insert into menus values ('2026-11-30', 'Galettes-saucisses'), ('2026-12-01', 'Kig ha farz');`,
    database,
  );

  const keyringFile = join(dir, `${name}.keyring.json`);
  await writeFile(keyringFile, keyringJson, { mode: 0o600 });
  const kekFile = join(dir, `${name}.kek`);
  if (kek) await writeFile(kekFile, kek, { mode: 0o600 });
  const backup = await spawnRun(process.execPath, [BACKUP_CLI, 'backup'], {
    ...backupCommandEnv(pg, s3, { territory: name, database, bucket: BUCKET, prefix: PREFIX, keyringFile }),
    ...(kek ? { KEK_FILE: kekFile } : {}),
  });
  ok(backup, 'territory-backup backup');
  return { name, database, ...(kek ? { kek } : {}) };
}

async function restoreInto(dump: string, database: string): Promise<void> {
  await pg.sql(`create database "${database}"`);
  ok(
    await spawnRun(
      join(pg.binDir, 'pg_restore'),
      [
        '--no-owner',
        '--no-privileges',
        '--single-transaction',
        '--exit-on-error',
        `--dbname=${database}`,
        dump,
      ],
      { ...process.env, ...pg.env },
    ),
    'pg_restore',
  );
}

async function checkBundle(out: string, run: Run): Promise<BundleManifest> {
  // Every file is listed in SHA256SUMS, and sha256sum itself agrees with it.
  const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8');
  const listed = sums
    .trim()
    .split('\n')
    .map((l) => l.slice(66));
  expect(listed).toEqual((await filesUnder(out)).filter((f) => f !== 'SHA256SUMS'));
  for (const line of sums.trim().split('\n')) {
    const [hash, file] = [line.slice(0, 64), line.slice(66)];
    expect(
      createHash('sha256')
        .update(await readFile(join(out, file)))
        .digest('hex'),
      file,
    ).toBe(hash);
  }
  ok(await spawnRun('sha256sum', ['-c', '--strict', 'SHA256SUMS'], process.env, out), 'sha256sum -c');

  const readme = await readFile(join(out, 'README.md'), 'utf8');
  expect(readme).toContain('# Export de réversibilité');
  expect(readme).toContain('# Reversibility export');
  expect(readme).toContain('pg_restore --host=<host>');

  // Manifests: the Territory's managed objects, portable, with no Secret value.
  const manifests = parseAllDocuments(await readFile(join(out, 'manifests.yaml'), 'utf8')).map(
    (d) => d.toJS() as { kind: string; metadata: Record<string, unknown>; data?: unknown },
  );
  const kinds = manifests.map((m) => m.kind);
  expect(kinds[0]).toBe('Namespace');
  expect(kinds).toEqual(expect.arrayContaining(['NetworkPolicy', 'Secret', 'Cluster', 'CronJob']));
  for (const m of manifests) {
    expect(m.metadata.uid).toBeUndefined();
    expect(m.metadata.resourceVersion).toBeUndefined();
    expect(m.metadata.managedFields).toBeUndefined();
    if (m.kind === 'Secret') expect(m.data).toBeUndefined();
  }
  const territory = parseYaml(await readFile(join(out, 'territory.yaml'), 'utf8')) as Record<string, unknown>;
  expect(territory.kind).toBe('Territory');
  expect(territory.status).toBeUndefined();

  // No secret anywhere: output, logs, files (an encrypted bundle's keyring is checked by the caller).
  noSecretIn(run.stdout + run.stderr, 'the output of export');
  for (const file of await filesUnder(out)) {
    if (file === 'keys/keyring.json') continue;
    noSecretIn((await readFile(join(out, file))).toString('latin1'), file);
    noSecretIn((await readFile(join(out, file))).toString('utf8'), file);
  }
  return JSON.parse(await readFile(join(out, 'bundle.json'), 'utf8')) as BundleManifest;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'territoryctl-export-'));
  await installCrds();
  [pg, s3] = await Promise.all([startPostgres(), startS3Server({ buckets: [BUCKET] })]);
  secrets.push(pg.password, s3.secretAccessKey);
}, 900_000);

afterAll(async () => {
  for (const name of territories) {
    await kubectl(['delete', 'territory', name, '--ignore-not-found', '--wait=false']);
    await kubectl(['delete', 'namespace', name, '--ignore-not-found', '--wait=false']);
  }
  await Promise.all([pg?.stop(), s3?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('territoryctl export', () => {
  it('writes a decrypted bundle from which a fresh PostgreSQL restores the same rows', {
    timeout: 300_000,
  }, async () => {
    const t = await prepare('export-plain', { wrapped: false });
    const out = join(dir, `${t.name}-bundle`);
    const run = ok(
      await territoryctl(['export', t.name, '--out', out, '--s3-endpoint', s3.endpoint]),
      'export',
    );
    expect(run.stdout).toContain(`Export of Territory ${t.name} (Acigné, commune 35001) in ${out}/`);
    expect(run.stderr).toMatch(/^downloading \d{8}T\d{6}\.\d{3}Z\.pgdump\.enc: .* \(100%\)/m);

    expect(await filesUnder(out)).toEqual(
      [
        'README.md',
        'SHA256SUMS',
        'bundle.json',
        `database/${t.name}.pgdump`,
        'manifests.yaml',
        'territory.yaml',
      ].sort(),
    );
    expect(existsSync(`${out}.partial`)).toBe(false);
    const bundle = await checkBundle(out, run);
    expect(bundle).toMatchObject({
      territory: t.name,
      mode: 'decrypted',
      dumpFile: `database/${t.name}.pgdump`,
    });
    expect(bundle.backup).toMatchObject({ keyId: expect.stringMatching(/^k1-\d{8}$/), authenticated: true });
    expect(bundle.backup.source).toMatch(new RegExp(`^s3://${BUCKET}/${PREFIX}${t.name}/`));

    await restoreInto(join(out, bundle.dumpFile), `${t.database}_restored`);
    const source = await tableChecksums(pg, t.database);
    expect(Object.keys(source)).toEqual(['inscriptions', 'menus']);
    expect(source.inscriptions).toMatch(/^5000:/);
    expect(await tableChecksums(pg, `${t.database}_restored`)).toEqual(source);
  });

  it('keeps the backup encrypted with its wrapped keyring, and `decrypt` opens it offline with the authority key', {
    timeout: 300_000,
  }, async () => {
    const t = await prepare('export-wrapped', { wrapped: true });
    if (!t.kek) throw new Error('no customer key');
    const out = join(dir, `${t.name}-bundle`);
    const run = ok(
      await territoryctl(['export', t.name, '--keep-encrypted', '--out', out, '--s3-endpoint', s3.endpoint]),
      'export --keep-encrypted',
    );
    const bundle = await checkBundle(out, run);
    expect(bundle.mode).toBe('encrypted');
    expect(bundle.dumpFile).toMatch(/^database\/\d{8}T\d{6}\.\d{3}Z\.pgdump\.enc$/);
    expect(bundle.keyring).toMatchObject({
      file: 'keys/keyring.json',
      wrapped: true,
      kekSecret: `${t.name}/authority-kek`,
    });
    expect(bundle.backup.authenticated).toBe(true); // the admin could read the authority key to check it
    const keyringText = await readFile(join(out, 'keys/keyring.json'), 'utf8');
    noSecretIn(keyringText, 'the wrapped keyring'); // wrapped material only, never the keys nor the KEK
    const readme = await readFile(join(out, 'README.md'), 'utf8');
    expect(readme).toContain(`--kek-file kek`);
    expect(readme).toContain(bundle.keyring?.kekFingerprint ?? 'no fingerprint');
    expect(run.stdout).toContain("wrapped by the authority's key");

    // Offline: without the authority's key, refused, and nothing written.
    const enc = join(out, bundle.dumpFile);
    const dump = join(dir, `${t.name}.pgdump`);
    const refused = await territoryctl(
      ['decrypt', enc, '--keyring', join(out, 'keys/keyring.json'), '--out', dump],
      {
        env: { KUBECONFIG: '/nonexistent' },
      },
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('no customer key was supplied');
    expect(refused.stderr).toContain('--kek-file');
    expect(existsSync(dump)).toBe(false);

    // With it: a plain pg_dump, restoring the same rows.
    const kekFile = join(dir, `${t.name}.kek`);
    const opened = ok(
      await territoryctl(
        ['decrypt', enc, '--keyring', join(out, 'keys/keyring.json'), '--kek-file', kekFile, '--out', dump],
        {
          env: { KUBECONFIG: '/nonexistent' },
        },
      ),
      'decrypt',
    );
    expect(opened.stdout).toContain(`${dump}: `);
    noSecretIn(opened.stdout + opened.stderr, 'the output of decrypt');
    await restoreInto(dump, `${t.database}_from_encrypted`);
    expect(await tableChecksums(pg, `${t.database}_from_encrypted`)).toEqual(
      await tableChecksums(pg, t.database),
    );

    // --decrypt of the same wrapped Territory reads the authority key from its Secret.
    const plain = join(dir, `${t.name}-plain`);
    const decrypted = ok(
      await territoryctl(['export', t.name, '--out', plain, '--s3-endpoint', s3.endpoint, '-o', 'json']),
      'export --decrypt of a wrapped keyring',
    );
    const manifest = JSON.parse(decrypted.stdout) as BundleManifest;
    expect(manifest.mode).toBe('decrypted');
    await restoreInto(join(plain, manifest.dumpFile), `${t.database}_from_plain`);
    expect(await tableChecksums(pg, `${t.database}_from_plain`)).toEqual(
      await tableChecksums(pg, t.database),
    );
  });

  it('refuses an older backup copied over a newer name (a rollback in the bucket), in both modes', {
    timeout: 300_000,
  }, async () => {
    const t = await prepare('export-rollback', { wrapped: false });
    const client = s3.client();
    const folder = `${PREFIX}${t.name}/`;
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: folder }));
    const original = listed.Contents?.map((o) => o.Key ?? '').find((k) => k.endsWith('.pgdump.enc')) ?? '';
    expect(original).not.toBe('');
    // Someone with write access to the bucket makes the old backup look like the newest one.
    const newer = `${folder}${backupStamp(new Date(Date.now() + 3_600_000))}.pgdump.enc`;
    await client.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: newer, CopySource: `${BUCKET}/${original}` }),
    );
    for (const mode of [[], ['--keep-encrypted']]) {
      const out = join(dir, `${t.name}-rollback${mode.length}`);
      const run = await territoryctl(['export', t.name, ...mode, '--out', out, '--s3-endpoint', s3.endpoint]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/copied or renamed/);
      expect(run.stderr).toContain(`taken at ${backupTime(original)?.toISOString()}`);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.partial`)).toBe(false);
    }
    // The genuine backup, named explicitly, still exports.
    const out = join(dir, `${t.name}-genuine`);
    const base = original.slice(original.lastIndexOf('/') + 1);
    ok(
      await territoryctl(['export', t.name, '--backup', base, '--out', out, '--s3-endpoint', s3.endpoint]),
      'export of the genuine backup',
    );
    client.destroy();
  });

  it('says what to do when the backup, the Territory or the output folder is wrong', {
    timeout: 120_000,
  }, async () => {
    const name = territories[0];
    if (!name) throw new Error('the first test did not prepare a Territory');
    const missing = await territoryctl([
      'export',
      name,
      '--out',
      join(dir, 'none'),
      '--s3-endpoint',
      s3.endpoint,
      '--backup',
      '20000101T000000.000Z.pgdump.enc',
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `no backup object s3://${BUCKET}/${PREFIX}${name}/20000101T000000.000Z.pgdump.enc`,
    );
    expect(missing.stderr).toContain('kubectl create job');
    expect(existsSync(join(dir, 'none'))).toBe(false);
    expect(existsSync(join(dir, 'none.partial'))).toBe(false);

    const unknown = await territoryctl(['export', 'no-such-territory']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no Territory named no-such-territory');

    const busy = join(dir, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'x'), 'x');
    const refused = await territoryctl(['export', name, '--out', busy]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${busy} already exists and is not empty`);

    const both = await territoryctl(['export', name, '--decrypt', '--keep-encrypted']);
    expect(both.code).toBe(2);
  });
});
