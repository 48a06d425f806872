// Issue 20: two Territories in one shared PostgreSQL, and every way one could reach the other, tried
// against a real server with the pool's own pg_hba (POOL_PG_HBA, TLS) and the roles, database and grants the
// builders declare for each Territory. CloudNativePG's part (turning the Database and DatabaseRole objects
// into CREATE ROLE and CREATE DATABASE) is done here by the superuser, the way its instance manager does it;
// the e2e suite runs the same through CloudNativePG on a node. What this file proves is PostgreSQL's side of
// the isolation: the names, the pg_hba lines and the grants are enough, and what every role can still see.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDatabaseAccess } from '../../operator/src/backup/database-access.ts';
import type { BuildContext, Owned } from '../../operator/src/builders/context.ts';
import { context, inPool, territory } from '../../operator/src/builders/fixtures.test-helpers.ts';
import { POOL_PG_HBA } from '../../operator/src/builders/pool.ts';
import { buildTenantDatabase, buildTenantRoles } from '../../operator/src/builders/shared-database.ts';
import { type PostgresServer, startPostgres } from '../support/postgres.ts';

const execFileAsync = promisify(execFile);

type RoleSpec = {
  name: string;
  login?: boolean;
  bypassrls?: boolean;
  connectionLimit?: number;
  inRoles?: string[];
};
type DatabaseSpec = { name: string; owner: string; connectionLimit?: number };

interface Tenant {
  ctx: BuildContext;
  database: string;
  owner: string;
  backup: string;
  purpose: string;
  passwords: Map<string, string>;
}

const spec = <T>(o: Owned) => o.spec as T;
const q = (identifier: string) => `"${identifier}"`;

let pg: PostgresServer;
const tenants: Record<'rennes' | 'acigne', Tenant> = {} as Record<'rennes' | 'acigne', Tenant>;

/** What CloudNativePG's instance manager does with the Territory's DatabaseRole and Database objects. */
async function createInPool(ctx: BuildContext): Promise<Tenant> {
  const roles = buildTenantRoles(ctx).map((o) => spec<RoleSpec>(o));
  const database = spec<DatabaseSpec>(buildTenantDatabase(ctx));
  const passwords = new Map<string, string>();
  for (const role of roles) {
    const password = randomBytes(16).toString('hex');
    if (role.login) passwords.set(role.name, password);
    await pg.sql(
      `CREATE ROLE ${q(role.name)} ${role.login ? 'LOGIN' : 'NOLOGIN'}${role.bypassrls ? ' BYPASSRLS' : ''}` +
        ` CONNECTION LIMIT ${role.connectionLimit ?? -1}${role.login ? ` PASSWORD '${password}'` : ''}`,
    );
  }
  for (const role of roles) {
    for (const member of role.inRoles ?? []) await pg.sql(`GRANT ${q(member)} TO ${q(role.name)}`);
  }
  await pg.sql(
    `CREATE DATABASE ${q(database.name)} OWNER ${q(database.owner)} CONNECTION LIMIT ${database.connectionLimit ?? -1}`,
  );
  const login = roles.filter((r) => r.login).map((r) => r.name);
  const tenant: Tenant = {
    ctx,
    database: database.name,
    owner: database.owner,
    backup: login.find((r) => r.endsWith('__backup')) ?? '',
    purpose: login.find((r) => r.includes('__p_')) ?? '',
    passwords,
  };
  // The Territory's database-access Job: the command itself, as the owner, its password in a file.
  const dir = await mkdtemp(join(tmpdir(), 'database-access-'));
  try {
    const passwordFile = join(dir, 'password');
    await writeFile(passwordFile, passwords.get(database.owner) ?? '', { mode: 0o600 });
    const logged: string[] = [];
    await runDatabaseAccess(
      { database: database.name, passwordFile, binDir: pg.binDir },
      {
        log: { info: (_o, msg) => logged.push(msg), warn: (_o, msg) => logged.push(msg) },
        pgEnv: { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: database.owner, PGSSLMODE: 'require' },
      },
    );
    expect(logged).toEqual(['database access restricted to its Territory']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return tenant;
}

interface Attempt {
  code: number;
  stdout: string;
  stderr: string;
}

/** psql as one of a tenant's roles, over TCP, the way an application connects to the pool's Service. */
async function as(
  tenant: Tenant,
  role: string,
  database: string,
  statement: string,
  sslmode = 'require',
): Promise<Attempt> {
  try {
    const { stdout, stderr } = await execFileAsync(
      join(pg.binDir, 'psql'),
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-A', '-t', '-c', statement],
      {
        env: {
          PATH: process.env.PATH ?? '',
          PGHOST: pg.host,
          PGPORT: String(pg.port),
          PGUSER: role,
          PGPASSWORD: tenant.passwords.get(role) ?? '',
          PGDATABASE: database,
          PGSSLMODE: sslmode,
          PGCONNECT_TIMEOUT: '10',
        },
      },
    );
    return { code: 0, stdout: stdout.trim(), stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

function expectConnected(attempt: Attempt): Attempt {
  expect(attempt.stderr, 'the statement ran').toBe('');
  expect(attempt.code).toBe(0);
  return attempt;
}

/** Refused by pg_hba before any password is checked: the line, not a wrong password, said no. */
function expectRejected(attempt: Attempt): void {
  expect(attempt.code).not.toBe(0);
  expect(attempt.stderr).toMatch(/pg_hba\.conf rejects connection/);
}

beforeAll(async () => {
  pg = await startPostgres({ hba: POOL_PG_HBA, tls: true });
  // CloudNativePG's own application database, which a pool keeps and no Territory owns.
  await pg.sql('CREATE DATABASE app');
  tenants.rennes = await createInPool(inPool());
  tenants.acigne = await createInPool(inPool(context(territory({ name: 'acigne' }))));
  // Data only Rennes may read.
  expectConnected(
    await as(
      tenants.rennes,
      tenants.rennes.owner,
      tenants.rennes.database,
      "CREATE TABLE residents (name text); INSERT INTO residents VALUES ('Anne'), ('Yann')",
    ),
  );
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

describe('two Territories in one pool', () => {
  it('each role reaches its own database over TLS (so that every refusal below is a refusal)', async () => {
    const { rennes, acigne } = tenants;
    for (const tenant of [rennes, acigne]) {
      for (const role of tenant.passwords.keys()) {
        const r = expectConnected(await as(tenant, role, tenant.database, 'SELECT current_database()'));
        expect(r.stdout).toBe(tenant.database);
      }
    }
    const read = expectConnected(
      await as(rennes, rennes.backup, rennes.database, 'SELECT count(*) FROM residents'),
    );
    expect(read.stdout).toBe('2');
  });

  it("refuses every role of one Territory on the other's database, with the right password", async () => {
    const { rennes, acigne } = tenants;
    for (const role of acigne.passwords.keys()) {
      expectRejected(await as(acigne, role, rennes.database, 'SELECT count(*) FROM residents'));
    }
    for (const role of rennes.passwords.keys()) {
      expectRejected(await as(rennes, role, acigne.database, 'SELECT 1'));
    }
  });

  it('refuses them on the databases that belong to no Territory', async () => {
    const { acigne } = tenants;
    for (const database of ['postgres', 'template1', 'app']) {
      expectRejected(await as(acigne, acigne.owner, database, 'SELECT 1'));
    }
  });

  it('refuses a connection without TLS, even to its own database', async () => {
    const { acigne } = tenants;
    expectRejected(await as(acigne, acigne.owner, acigne.database, 'SELECT 1', 'disable'));
  });

  it('keeps the second lock: PUBLIC has no CONNECT, so pg_read_all_data opens no other database', async () => {
    const { rennes, acigne } = tenants;
    const can = (role: string, database: string) =>
      pg.sql(`SELECT has_database_privilege('${role}', '${database}', 'CONNECT')`);
    expect(await can(acigne.backup, rennes.database)).toBe('f');
    expect(await can(acigne.owner, rennes.database)).toBe('f');
    expect(await can(rennes.backup, rennes.database)).toBe('t');
    expect(await can(rennes.purpose, rennes.database)).toBe('t');
  });

  it('gives a tenant no way around them from inside its own database', async () => {
    const { acigne, rennes } = tenants;
    for (const extension of ['dblink', 'postgres_fdw']) {
      const r = await as(acigne, acigne.owner, acigne.database, `CREATE EXTENSION ${extension}`);
      expect(r.code, `CREATE EXTENSION ${extension}`).not.toBe(0);
      expect(r.stderr).toMatch(/permission denied to create extension/);
    }
    const grant = await as(
      acigne,
      acigne.owner,
      acigne.database,
      `GRANT ${q(rennes.database)} TO ${q(acigne.owner)}`,
    );
    expect(grant.code).not.toBe(0);
    expect(grant.stderr).toMatch(/permission denied|must have admin option/);
  });

  it('shows every role what PostgreSQL shows every role: database and role names, sessions without their queries', async () => {
    const { rennes, acigne } = tenants;
    const databases = expectConnected(
      await as(acigne, acigne.purpose, acigne.database, 'SELECT datname FROM pg_database ORDER BY 1'),
    );
    expect(databases.stdout.split('\n')).toContain(rennes.database);
    // A Rennes session, busy: Acigné sees that it exists, not what it runs nor where from.
    const busy = as(rennes, rennes.purpose, rennes.database, 'SELECT pg_sleep(3)');
    const seen = await (async () => {
      for (let i = 0; i < 50; i++) {
        const r = expectConnected(
          await as(
            acigne,
            acigne.purpose,
            acigne.database,
            `SELECT coalesce(query, '') || '|' || coalesce(host(client_addr), '') FROM pg_stat_activity WHERE usename = '${rennes.purpose}'`,
          ),
        );
        if (r.stdout) return r.stdout;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return '';
    })();
    await busy;
    expect(seen).toBe('<insufficient privilege>|');
  });
});
