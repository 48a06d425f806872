import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pgChildEnv, writePassfile } from './postgres-tools.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the environment of pg_dump and pg_restore', () => {
  it('is an explicit minimum: connection settings and the passfile, never S3 keys, passwords or Node options', () => {
    const env = pgChildEnv(
      {
        PATH: '/usr/bin',
        HOME: '/tmp',
        PGHOST: 'db-rw',
        PGPORT: '5432',
        PGDATABASE: 'rennes',
        PGUSER: 'territory_backup',
        PGSSLMODE: 'verify-full',
        PGSSLROOTCERT: '/ca/ca.crt',
        PGPASSWORD: 'from-the-environment',
        PGPASSFILE: '/elsewhere/pgpass',
        PGSERVICEFILE: '/tmp/evil',
        PGHOSTADDR: '203.0.113.9',
        AWS_ACCESS_KEY_ID: 'AK',
        AWS_SECRET_ACCESS_KEY: 'SK',
        AWS_SESSION_TOKEN: 'ST',
        S3_ENDPOINT: 'https://oos.example',
        NODE_OPTIONS: '--require /tmp/x.js',
        LD_PRELOAD: '/tmp/x.so',
      },
      '/run/territory/pgpass',
    );
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/tmp',
      PGHOST: 'db-rw',
      PGPORT: '5432',
      PGDATABASE: 'rennes',
      PGUSER: 'territory_backup',
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: '/ca/ca.crt',
      PGPASSFILE: '/run/territory/pgpass',
      PGAPPNAME: 'territory-backup',
    });
  });

  it('keeps a passfile the caller gave when it has no password file of its own', () => {
    expect(pgChildEnv({ PGPASSFILE: '/home/me/.pgpass' })).toMatchObject({ PGPASSFILE: '/home/me/.pgpass' });
    expect(pgChildEnv({ PGPASSWORD: 'x' })).not.toHaveProperty('PGPASSWORD');
  });
});

describe('writePassfile', () => {
  it('writes a 0600 passfile for any host, escaping what libpq needs, and removes it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgpass-test-'));
    dirs.push(dir);
    const file = await writePassfile(dir, 'pa:ss\\word');
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
    expect(await readFile(file.path, 'utf8')).toBe('*:*:*:*:pa\\:ss\\\\word\n');
    await file.dispose();
    expect(existsSync(file.path)).toBe(false);
  });

  it('refuses a password libpq cannot carry in a passfile (a line break)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgpass-test-'));
    dirs.push(dir);
    await expect(writePassfile(dir, 'a\nb')).rejects.toThrow(/line break/);
  });
});
