// The Shared tier on a real node: a DatabasePool (a CloudNativePG Cluster the operator makes) and two small
// authorities in it. Each reads and writes its own database as each of its roles, over TLS verified against
// the pool's CA; every attempt on the other's database is refused, by pg_hba and by the network; a backup and
// a restore of one leave the other untouched; deleting one drops only its database and destroys its keys.
// The tests run in order, on the same pool and tenants.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { sharedNames } from '../../operator/src/builders/database-names.ts';
import { ok, territoryctl } from '../integration/territoryctl-support.ts';
import { PG_MAJOR } from '../node/images.ts';
import { applyManifests, kubectl } from '../node/kubectl.ts';
import { NODE_DATABASE_RESOURCES } from '../node/local-stack.ts';
import { waitFor } from '../support/kube.ts';
import { CHECKSUM_SQL, runBackupJob } from './continuity.ts';
import { runPod, secretEnv } from './pods.ts';
import { attemptConnectionTo, awaitHost, type DatabaseTarget, psqlAt } from './psql.ts';
import { recordFigure } from './report.ts';
import {
  clusterKubectl,
  conditionOf,
  exampleTerritory,
  getTerritory,
  kubectlJson,
  namespaceOf,
  provideAuthoritySecrets,
  type TerritoryObject,
  waitForTerritoryCondition,
} from './support.ts';

const POOL = `pool-e2e-${randomBytes(2).toString('hex')}`;
const POOL_LABEL = 'e2e.sovereign.dev/pool';
const HOST = `${POOL}-rw.${POOL}.svc`;

/** Two communes sharing the pool; the second is deleted at the end, the first and the pool after the file. */
const tenants: TerritoryObject[] = [];
const checksums = new Map<string, string>();

function tenant(i: 0 | 1): TerritoryObject {
  const t = tenants[i];
  if (!t) throw new Error('the tenants did not become Ready in the first test: see its failure');
  return t;
}

const targetOf = (t: TerritoryObject): DatabaseTarget => ({
  host: HOST,
  dbname: sharedNames(t.metadata.name).database,
});

/**
 * The commune example, in the pool: no size of its own, no physical backups (the pool's are the platform's),
 * deleted with its data (the suite's node is shared by the files after this one).
 */
function sharedTerritory(): TerritoryObject {
  const t = exampleTerritory('commune-acigne.yaml', inject('nodeRegion'), inject('objectStore'));
  const { physical: _physical, ...backup } = t.spec.backup as TerritoryObject['spec']['backup'] & {
    physical?: unknown;
  };
  return {
    ...t,
    metadata: { ...t.metadata, labels: { ...t.metadata.labels, [POOL_LABEL]: POOL } },
    spec: { ...t.spec, deletionPolicy: 'Delete', database: { tier: 'Shared', pool: POOL }, backup },
  };
}

/** Runs psql lines in a Pod of `from`'s namespace, as the role of its Secret `secret`, against `target`. */
async function sqlAs(
  from: TerritoryObject,
  secret: string,
  target: DatabaseTarget,
  lines: string[],
  opts: { password?: string; user?: string } = {},
): Promise<{ ok: boolean; logs: string }> {
  const name = `e2e-sql-${randomBytes(3).toString('hex')}`;
  const run = await runPod({
    namespace: namespaceOf(from),
    name,
    image: inject('postgresImage'),
    env: [
      opts.user ? { name: 'PGUSER', value: opts.user } : secretEnv('PGUSER', secret, 'username'),
      opts.password
        ? { name: 'PGPASSWORD', value: opts.password }
        : secretEnv('PGPASSWORD', secret, 'password'),
    ],
    volumes: [{ name: 'ca', secret: 'db-ca', mountPath: '/ca' }],
    script: [awaitHost(target.host), ...lines.map((sql) => `${psqlAt(target, sql)} 2>&1`)].join(' && '),
  });
  return { ok: run.phase === 'Succeeded', logs: run.logs };
}

async function mustRun(from: TerritoryObject, secret: string, target: DatabaseTarget, lines: string[]) {
  const run = await sqlAs(from, secret, target, lines);
  if (!run.ok) throw new Error(`as ${secret} of ${from.metadata.name} on ${target.dbname}:\n${run.logs}`);
  return run.logs.trim().split('\n');
}

async function passwordOf(t: TerritoryObject, secret: string): Promise<string> {
  const s = await kubectlJson<{ data: Record<string, string> }>([
    '-n',
    namespaceOf(t),
    'get',
    'secret',
    secret,
  ]);
  return Buffer.from(s.data.password ?? '', 'base64').toString();
}

afterAll(async () => {
  // Best effort, not waited for: the pool goes once its last tenant has.
  for (const t of tenants.slice(0, 1)) {
    await kubectl(clusterKubectl(), ['delete', 'territories.sovereign.dev', t.metadata.name, '--wait=false']);
  }
  await kubectl(clusterKubectl(), ['delete', 'databasepools.sovereign.dev', POOL, '--wait=false']).catch(
    () => undefined,
  );
});

describe.sequential('two small authorities in one DatabasePool on a real node', () => {
  it('the pool, then each Territory in it, reach Ready', async () => {
    const started = Date.now();
    await applyManifests(clusterKubectl(), [
      {
        apiVersion: 'sovereign.dev/v1alpha1',
        kind: 'DatabasePool',
        metadata: { name: POOL },
        spec: {
          namespace: POOL,
          instances: 1,
          postgresVersion: String(PG_MAJOR),
          maxTenants: 10,
          serves: { territorySelector: { matchLabels: { [POOL_LABEL]: POOL } } },
          hosting: { level: 'standard', regions: [inject('nodeRegion')] },
          resources: NODE_DATABASE_RESOURCES,
          storage: { size: '2Gi' },
        },
      },
    ]);
    await waitFor(
      async () => {
        const pool = await kubectlJson<TerritoryObject>(['get', 'databasepools.sovereign.dev', POOL]);
        return conditionOf(pool, 'Ready')?.status === 'True' ? pool : undefined;
      },
      { what: `DatabasePool ${POOL} Ready`, timeoutMs: 600_000, intervalMs: 2_000 },
    );
    recordFigure(inject('resultsDir'), {
      section: 'time from kubectl apply to Ready',
      subject: 'a DatabasePool (1 instance)',
      value: (Date.now() - started) / 1000,
      unit: 's',
    });
    for (let i = 0; i < 2; i++) {
      const t = sharedTerritory();
      const applied = Date.now();
      await applyManifests(clusterKubectl(), [t as unknown as Record<string, unknown>]);
      await provideAuthoritySecrets(t, inject('objectStore'));
      const ready = await waitForTerritoryCondition(t.metadata.name, 'Ready', 'True', 600_000);
      recordFigure(inject('resultsDir'), {
        section: 'time from kubectl apply to Ready',
        subject: 'commune-acigne.yaml in a ready DatabasePool (Shared tier)',
        value: (Date.now() - applied) / 1000,
        unit: 's',
      });
      expect(ready.status?.database).toMatchObject({ tier: 'Shared', pool: POOL, endpoint: `${HOST}:5432` });
      // No cluster of its own.
      const clusters = await kubectlJson<{ items: unknown[] }>([
        '-n',
        namespaceOf(t),
        'get',
        'clusters.postgresql.cnpg.io',
      ]);
      expect(clusters.items).toEqual([]);
      tenants.push(ready);
    }
  });

  it('serves each Territory its own database, as its owner and as each purpose, over TLS verified against the pool', async () => {
    for (const t of [tenant(0), tenant(1)]) {
      const note = `rows of ${t.metadata.name}`;
      await mustRun(t, 'db-owner', targetOf(t), [
        'CREATE TABLE continuity (id int PRIMARY KEY, note text)',
        `INSERT INTO continuity SELECT g, '${note} ' || g FROM generate_series(1, 500) g`,
      ]);
      const [checksum] = await mustRun(t, 'db-owner', targetOf(t), [CHECKSUM_SQL]);
      expect(checksum).toMatch(/^500 [0-9a-f]{32}$/);
      checksums.set(t.metadata.name, checksum ?? '');
      // The owner gives a purpose a schema of its own (as in a cluster of the Territory's own), where the
      // purpose's role creates and reads its table.
      const purpose = (t.spec.controller as { purposes: { name: string }[] }).purposes[0]?.name ?? '';
      const role = sharedNames(t.metadata.name).purpose(purpose);
      const schema = purpose.replace(/-/g, '_');
      await mustRun(t, 'db-owner', targetOf(t), [
        `CREATE SCHEMA ${schema}; GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}`,
      ]);
      const lines = await mustRun(t, `db-purpose-${purpose}`, targetOf(t), [
        `CREATE TABLE ${schema}.notes (n text); INSERT INTO ${schema}.notes VALUES ('a'), ('b')`,
        `SELECT count(*) FROM ${schema}.notes`,
      ]);
      expect(lines.at(-1)).toBe('2');
    }
  });

  it("refuses every role of one Territory on the other's database, and every other database of the pool", async () => {
    const [a, b] = [tenant(0), tenant(1)];
    for (const secret of ['db-owner', 'db-backup']) {
      for (const dbname of [targetOf(b).dbname, 'app', 'postgres']) {
        const attempt = await sqlAs(a, secret, { host: HOST, dbname }, ['SELECT 1']);
        expect(attempt.ok, `${secret} of ${a.metadata.name} reached ${dbname}:\n${attempt.logs}`).toBe(false);
        expect(attempt.logs).toMatch(/pg_hba\.conf rejects connection/);
      }
    }
    // B's role name with A's password: the passwords are each Territory's own.
    const aPassword = await passwordOf(a, 'db-owner');
    const impersonation = await sqlAs(a, 'db-owner', targetOf(b), ['SELECT 1'], {
      user: sharedNames(b.metadata.name).owner,
      password: aPassword,
    });
    expect(impersonation.ok).toBe(false);
    expect(impersonation.logs).toMatch(/password authentication failed/);
    // What PostgreSQL shows every role: the other database's name, never its tables.
    const [names] = await mustRun(a, 'db-backup', targetOf(a), [
      "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 't\\_%'",
    ]);
    expect(names?.split(',')).toContain(targetOf(b).dbname);
  });

  it("keeps the pool's port closed to a namespace that is not its tenant's", async () => {
    const outsider = `e2e-outsider-${randomBytes(2).toString('hex')}`;
    await kubectl(clusterKubectl(), ['create', 'namespace', outsider]);
    await kubectl(clusterKubectl(), [
      'label',
      'namespace',
      outsider,
      'pod-security.kubernetes.io/enforce=restricted',
    ]);
    try {
      const script = attemptConnectionTo({ host: HOST, dbname: 'postgres' });
      const refused = await runPod({
        namespace: outsider,
        name: 'e2e-outsider',
        image: inject('postgresImage'),
        script,
      });
      expect(refused.logs).toMatch(/Connection refused|timeout expired|timed out/);
      expect(refused.logs).not.toMatch(/password authentication failed|pg_hba/);
      // From a tenant's namespace the same attempt reaches PostgreSQL (which then refuses the user).
      const allowed = await runPod({
        namespace: namespaceOf(tenant(0)),
        name: 'e2e-tenant-reaches-pool',
        image: inject('postgresImage'),
        script,
      });
      expect(allowed.logs).toMatch(/pg_hba|password authentication failed/);
    } finally {
      await kubectl(clusterKubectl(), ['delete', 'namespace', outsider, '--wait=false']);
    }
  });

  it("backs up and restores one Territory's database, leaving the other's untouched", async () => {
    const [a, b] = [tenant(0), tenant(1)];
    const backup = await runBackupJob(a);
    expect(backup.succeeded, backup.logs).toBe(true);
    await mustRun(a, 'db-owner', targetOf(a), ["INSERT INTO continuity VALUES (501, 'after the backup')"]);
    const started = Date.now();
    const run = await territoryctl([
      'restore',
      a.metadata.name,
      '--replace-existing-data',
      '--timeout',
      '10m',
      '-o',
      'json',
    ]);
    ok(run, 'territoryctl restore');
    expect(JSON.parse(run.stdout)).toMatchObject({ phase: 'Succeeded' });
    recordFigure(inject('resultsDir'), {
      section: 'logical backup',
      subject: 'declarative restore of a database in a pool (500 rows), request to Succeeded',
      value: (Date.now() - started) / 1000,
      unit: 's',
    });
    const [restored] = await mustRun(a, 'db-owner', targetOf(a), [CHECKSUM_SQL]);
    expect(restored).toBe(checksums.get(a.metadata.name));
    const [other] = await mustRun(b, 'db-owner', targetOf(b), [CHECKSUM_SQL]);
    expect(other).toBe(checksums.get(b.metadata.name));
  });

  it('deleted with deletionPolicy Delete, one Territory loses its database and its keys; the other keeps its own', async () => {
    const [a, b] = [tenant(0), tenant(1)];
    const backup = await runBackupJob(b);
    expect(backup.succeeded, backup.logs).toBe(true);
    await kubectl(clusterKubectl(), ['delete', 'territories.sovereign.dev', b.metadata.name, '--wait=false']);
    await waitFor(async () => ((await getTerritory(b.metadata.name)) ? undefined : true), {
      what: `Territory ${b.metadata.name} gone`,
      timeoutMs: 300_000,
      intervalMs: 2_000,
    });
    // Its database is dropped from the pool: no role of the pool sees it any more.
    const [left] = await mustRun(a, 'db-owner', targetOf(a), [
      `SELECT count(*) FROM pg_database WHERE datname = '${targetOf(b).dbname}'`,
    ]);
    expect(left).toBe('0');
    // Its keyring went with its namespace: the backups it left in the bucket cannot be decrypted.
    await waitFor(
      async () => {
        const gone = await kubectl(clusterKubectl(), ['get', 'namespace', namespaceOf(b)]).then(
          () => false,
          (e: Error) => /NotFound/.test(e.message),
        );
        return gone ? true : undefined;
      },
      { what: `namespace ${namespaceOf(b)} deleted`, timeoutMs: 300_000, intervalMs: 2_000 },
    );
    const [still] = await mustRun(a, 'db-owner', targetOf(a), [CHECKSUM_SQL]);
    expect(still).toBe(checksums.get(a.metadata.name));
    const pool = await kubectlJson<{ status?: { tenants?: number } }>([
      'get',
      'databasepools.sovereign.dev',
      POOL,
    ]);
    expect(pool.status?.tenants).toBe(1);
    expect(conditionOf(await getTerritory(a.metadata.name), 'Ready')?.status).toBe('True');
  });
});
