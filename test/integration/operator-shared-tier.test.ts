import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KEYRING_SECRET } from '../../operator/src/builders/keys.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { LEAVE_PHYSICAL_BACKUPS_ANNOTATION } from '../../operator/src/territory/physical-erasure.ts';
import { selfSignedCertificate } from '../support/certificate.ts';
import { endJob, jobRef } from '../support/jobs.ts';
import { uniqueName, waitFor } from '../support/kube.ts';
import { createWithBackupCredentials, startTestOperator, type TestOperator } from '../support/operator.ts';
import { OUTSCALE_ATTESTATION, rennesTerritory } from '../support/territories.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type T = KubeObject & {
  status?: { conditions?: Cond[]; database?: { tier?: string; pool?: string; endpoint?: string } };
};

const CNPG = 'postgresql.cnpg.io/v1';
let op: TestOperator;
let caPem: string;
let caKey: string;

beforeAll(async () => {
  op = await startTestOperator({
    kubeconfigPath: inject('kubeconfigPath'),
    shard: uniqueName('shared'),
    config: { cluster: OUTSCALE_ATTESTATION },
  });
  const dir = await mkdtemp(join(tmpdir(), 'pool-ca-'));
  try {
    await selfSignedCertificate({
      commonName: 'pool-ca',
      keyFile: join(dir, 'ca.key'),
      certFile: join(dir, 'ca.crt'),
    });
    caPem = await readFile(join(dir, 'ca.crt'), 'utf8');
    caKey = await readFile(join(dir, 'ca.key'), 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
afterAll(async () => {
  await op?.stop();
});

const get = (ref: { apiVersion: string; kind: string; name: string; namespace?: string }) =>
  op.client.get(ref);
const territoryRef = (name: string) => ({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'Territory', name });
const condition = (t: T | undefined, type: string) => t?.status?.conditions?.find((c) => c.type === type);
const b64 = (s: string) => Buffer.from(s).toString('base64');
const decoded = (secret: KubeObject | undefined, key: string) =>
  Buffer.from((secret as { data?: Record<string, string> })?.data?.[key] ?? '', 'base64').toString();

/** The Territory's Database in its pool, once made; a timeout says what the Territory's conditions said. */
async function databaseOf(pool: { name: string; namespace: string }, name: string): Promise<KubeObject> {
  let said = 'nothing yet';
  return waitFor(
    async () => {
      const database = await get({ apiVersion: CNPG, kind: 'Database', namespace: pool.namespace, name });
      if (database) return database;
      const t = (await get(territoryRef(name))) as T | undefined;
      said = JSON.stringify(
        t?.status?.conditions?.map((c) => `${c.type}=${c.status} ${c.reason}: ${c.message}`),
      );
      return undefined;
    },
    {
      what: () => `the Database of ${name} in pool ${pool.name} (the Territory says ${said})`,
      timeoutMs: 20_000,
    },
  );
}

/** A pool with a Ready Cluster and its CA, as CloudNativePG would leave them. */
async function readyPool(maxTenants = 5): Promise<{ name: string; namespace: string }> {
  const name = uniqueName('pool');
  const namespace = `${name}-ns`;
  await op.client.create(
    op.label({
      apiVersion: 'sovereign.dev/v1alpha1',
      kind: 'DatabasePool',
      metadata: { name },
      spec: {
        namespace,
        instances: 1,
        maxTenants,
        serves: { territorySelector: { matchLabels: { pool: name } } },
      },
    }),
  );
  const cluster = { apiVersion: CNPG, kind: 'Cluster', name, namespace };
  await waitFor(() => get(cluster), { what: `pool ${name}'s Cluster`, timeoutMs: 20_000 });
  await op.client.patch(
    cluster,
    { status: { phase: 'Cluster in healthy state', instances: 1, readyInstances: 1 } },
    'merge',
    { subresource: 'status' },
  );
  await op.client.create({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${name}-ca`, namespace },
    data: { 'ca.crt': b64(caPem), 'ca.key': b64(caKey) },
  });
  await waitFor(
    async () => {
      const pool = (await get({ apiVersion: 'sovereign.dev/v1alpha1', kind: 'DatabasePool', name })) as T;
      return condition(pool, 'Ready')?.status === 'True' ? pool : undefined;
    },
    { what: `pool ${name} Ready`, timeoutMs: 20_000 },
  );
  return { name, namespace };
}

/** A Territory that asks for `pool`, with its backup credentials. */
async function sharedTerritory(pool: string, over: Record<string, unknown> = {}): Promise<string> {
  const t = rennesTerritory(uniqueName('shared'), { database: { tier: 'Shared', pool }, ...over });
  return createWithBackupCredentials(op, { ...t, metadata: { ...t.metadata, labels: { pool } } });
}

/** Marks the Territory's Database and roles applied, as CloudNativePG does once PostgreSQL has them. */
async function applyInPostgres(name: string, namespace: string): Promise<void> {
  const objects = await op.client.list({
    apiVersion: CNPG,
    kind: 'DatabaseRole',
    namespace,
    labelSelector: `sovereign.dev/territory=${name}`,
  });
  const database = await get({ apiVersion: CNPG, kind: 'Database', namespace, name });
  for (const o of [...objects.items, database].filter((o): o is KubeObject => o !== undefined)) {
    await op.client.patch(
      { apiVersion: CNPG, kind: o.kind, name: o.metadata.name ?? '', namespace },
      { status: { applied: true, observedGeneration: o.metadata.generation } },
      'merge',
      { subresource: 'status' },
    );
  }
}

describe('a Territory in a DatabasePool', () => {
  let pool: { name: string; namespace: string };
  beforeAll(async () => {
    pool = await readyPool();
  });

  it('gets its database, roles and verifiers in the pool, the CA alone in its namespace, and no cluster of its own', async () => {
    const name = await sharedTerritory(pool.name);
    const database = await databaseOf(pool, name);
    const key = name.replace(/-/g, '_');
    expect(database.spec).toMatchObject({
      cluster: { name: pool.name },
      name: `t_${key}`,
      owner: `t_${key}__owner`,
      databaseReclaimPolicy: 'retain',
    });
    expect(database.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Territory', name });

    const roles = await op.client.list({
      apiVersion: CNPG,
      kind: 'DatabaseRole',
      namespace: pool.namespace,
      labelSelector: `sovereign.dev/territory=${name}`,
    });
    const roleNames = roles.items.map((r) => (r.spec as { name: string }).name).sort();
    expect(roleNames).toEqual(
      [`t_${key}`, `t_${key}__owner`, `t_${key}__p_etat_civil`, `t_${key}__backup`].sort(),
    );

    // Each login role's password reaches the pool as a SCRAM verifier of the Territory's own password.
    const owner = await get({ apiVersion: 'v1', kind: 'Secret', namespace: name, name: 'db-owner' });
    const copy = await waitFor(
      () => get({ apiVersion: 'v1', kind: 'Secret', namespace: pool.namespace, name: `${name}.db-owner` }),
      { what: 'the owner password copy', timeoutMs: 10_000 },
    );
    expect(decoded(copy, 'username')).toBe(`t_${key}__owner`);
    expect(decoded(copy, 'password')).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(decoded(copy, 'password')).not.toContain(decoded(owner, 'password'));

    // The pool's CA, certificates only: its private key signs the pool's client certificates too.
    const ca = await waitFor(
      () => get({ apiVersion: 'v1', kind: 'Secret', namespace: name, name: 'db-ca' }),
      {
        what: "the Territory's db-ca",
        timeoutMs: 10_000,
      },
    );
    expect(decoded(ca, 'ca.crt')).toContain('BEGIN CERTIFICATE');
    expect(decoded(ca, 'ca.crt')).not.toContain('PRIVATE KEY');
    expect(Object.keys((ca as { data?: object }).data ?? {})).toEqual(['ca.crt']);

    const ns = await get({ apiVersion: 'v1', kind: 'Namespace', name });
    expect(ns?.metadata.labels?.['sovereign.dev/pool']).toBe(pool.name);
    expect(await get({ apiVersion: CNPG, kind: 'Cluster', namespace: name, name: 'db' })).toBeUndefined();

    const cronJob = (await waitFor(
      () => get({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: name, name: 'logical-backup' }),
      { what: 'the backup CronJob', timeoutMs: 10_000 },
    )) as KubeObject & {
      spec: {
        jobTemplate: {
          spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
        };
      };
    };
    const env = Object.fromEntries(
      (cronJob.spec.jobTemplate.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      PGHOST: `${pool.name}-rw.${pool.namespace}.svc`,
      PGDATABASE: `t_${key}`,
      PGUSER: `t_${key}__backup`,
    });

    // Not ready until CloudNativePG has applied the database and every role, then until the Territory's
    // database-access Job has taken CONNECT away from every other role of the pool.
    const pending = (await get(territoryRef(name))) as T;
    expect(condition(pending, 'DatabaseReady')).toMatchObject({ status: 'False' });
    await applyInPostgres(name, pool.namespace);
    const accessJob = `database-access-${(database.metadata.uid ?? '').replace(/-/g, '').slice(0, 12)}`;
    const job = await waitFor(() => get(jobRef(name, accessJob)), {
      what: 'the database-access Job',
      timeoutMs: 20_000,
    });
    expect(
      (job as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } }).spec.template
        .spec.containers[0]?.args,
    ).toEqual(['database-access']);
    const restricting = await waitFor(
      async () => {
        const t = (await get(territoryRef(name))) as T;
        return condition(t, 'DatabaseReady')?.reason === 'RestrictingAccess' ? t : undefined;
      },
      { what: 'DatabaseReady RestrictingAccess', timeoutMs: 20_000 },
    );
    expect(condition(restricting, 'DatabaseReady')?.status).toBe('False');
    await endJob(op.client, { namespace: name, name: accessJob, exitCode: 0, durationSeconds: 2 });
    const ready = await waitFor(
      async () => {
        const t = (await get(territoryRef(name))) as T;
        return condition(t, 'DatabaseReady')?.status === 'True' ? t : undefined;
      },
      { what: 'DatabaseReady True', timeoutMs: 20_000 },
    );
    expect(ready.status?.database).toMatchObject({
      tier: 'Shared',
      pool: pool.name,
      endpoint: `${pool.name}-rw.${pool.namespace}.svc:5432`,
    });
  });

  it('waits, building nothing, when the pool it names does not exist', async () => {
    const name = await sharedTerritory(uniqueName('nowhere'));
    const t = await waitFor(
      async () => {
        const t = (await get(territoryRef(name))) as T;
        return condition(t, 'DatabaseReady')?.reason === 'PoolNotFound' ? t : undefined;
      },
      { what: 'DatabaseReady PoolNotFound', timeoutMs: 20_000 },
    );
    expect(condition(t, 'DatabaseReady')?.message).toContain('does not exist');
    expect(await get({ apiVersion: CNPG, kind: 'Cluster', namespace: name, name: 'db' })).toBeUndefined();
    const databases = await op.client.list({
      apiVersion: CNPG,
      kind: 'Database',
      labelSelector: `sovereign.dev/territory=${name}`,
    });
    expect(databases.items).toEqual([]);
    expect(
      await get({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: name, name: 'logical-backup' }),
    ).toBeUndefined();
  });

  it('deleted with deletionPolicy Delete: its Database goes first, then its roles and their passwords, then its keys', async () => {
    const name = await sharedTerritory(pool.name, { deletionPolicy: 'Delete' });
    const database = await databaseOf(pool, name);
    expect(database.spec).toMatchObject({ databaseReclaimPolicy: 'delete' });
    await waitFor(
      () => get({ apiVersion: 'v1', kind: 'Secret', namespace: pool.namespace, name: `${name}.db-owner` }),
      { what: 'the password copies', timeoutMs: 10_000 },
    );
    // CloudNativePG holds a Database until PostgreSQL has dropped it: a finalizer of its own, as here.
    await op.client.patch(
      { apiVersion: CNPG, kind: 'Database', namespace: pool.namespace, name },
      { metadata: { finalizers: ['test.sovereign.dev/dropping'] } },
      'merge',
    );
    // Its bucket is fictional: a person accepts leaving the physical backups (a Territory in a pool has none
    // of its own, but one that had a cluster of its own before may have left some).
    await op.client.patch(
      territoryRef(name),
      {
        metadata: {
          annotations: { [LEAVE_PHYSICAL_BACKUPS_ANNOTATION]: 'shared-tier test: no such bucket' },
        },
      },
      'merge',
    );
    await op.client.delete(territoryRef(name));
    await waitFor(
      async () => {
        const d = await get({ apiVersion: CNPG, kind: 'Database', namespace: pool.namespace, name });
        return d?.metadata.deletionTimestamp ? d : undefined;
      },
      { what: 'the Database being deleted', timeoutMs: 20_000 },
    );
    // While the database is being dropped, its roles and keys stay.
    const roles = () =>
      op.client.list({
        apiVersion: CNPG,
        kind: 'DatabaseRole',
        namespace: pool.namespace,
        labelSelector: `sovereign.dev/territory=${name}`,
      });
    expect((await roles()).items.length).toBe(4);
    expect(
      await get({ apiVersion: 'v1', kind: 'Secret', namespace: name, name: KEYRING_SECRET }),
    ).toBeDefined();
    await op.client.patch(
      { apiVersion: CNPG, kind: 'Database', namespace: pool.namespace, name },
      { metadata: { finalizers: null } },
      'merge',
    );
    await waitFor(async () => ((await get(territoryRef(name))) ? undefined : true), {
      what: 'the Territory gone',
      timeoutMs: 30_000,
    });
    expect((await roles()).items.filter((r) => !r.metadata.deletionTimestamp)).toEqual([]);
    const copies = await op.client.list({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace: pool.namespace,
      labelSelector: `sovereign.dev/territory=${name}`,
    });
    expect(copies.items.filter((s) => !s.metadata.deletionTimestamp)).toEqual([]);
  });

  it('deleted with deletionPolicy Retain: its database and roles stay in the pool, released from the Territory', async () => {
    const name = await sharedTerritory(pool.name);
    await databaseOf(pool, name);
    await op.client.delete(territoryRef(name));
    await waitFor(async () => ((await get(territoryRef(name))) ? undefined : true), {
      what: 'the Territory gone',
      timeoutMs: 30_000,
    });
    const database = await get({ apiVersion: CNPG, kind: 'Database', namespace: pool.namespace, name });
    expect(database?.metadata.deletionTimestamp).toBeUndefined();
    expect(database?.metadata.ownerReferences ?? []).toEqual([]);
    expect(database?.spec).toMatchObject({ databaseReclaimPolicy: 'retain' });
  });
});
