import { describe, expect, it } from 'vitest';
import { LABELS, type Owned } from './context.ts';
import { context, databasePool, inPool, POOL_CA_PEM, territory } from './fixtures.test-helpers.ts';
import {
  buildPoolCaSecret,
  buildPoolCredentialSecret,
  buildSharedDatabase,
  buildTenantDatabase,
  buildTenantRoles,
  certificatesOnly,
  poolLoginRoles,
} from './shared-database.ts';

const spec = (o: Owned) => o.spec as Record<string, unknown>;
const rolesByName = (objects: Owned[]) => new Map(objects.map((o) => [spec(o).name as string, spec(o)]));

describe('the Database of a Territory in a pool', () => {
  it('lives beside the pool’s Cluster, named for the Territory, owned by its owner role', () => {
    const db = buildTenantDatabase(inPool());
    expect(db).toMatchObject({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Database',
      metadata: { name: 'rennes-metropole', namespace: 'db-pool-35' },
      spec: {
        cluster: { name: 'pool-35' },
        name: 't_rennes_metropole',
        owner: 't_rennes_metropole__owner',
        ensure: 'present',
        databaseReclaimPolicy: 'retain',
        connectionLimit: 20,
      },
    });
  });

  it('is dropped with the Territory only under deletionPolicy Delete', () => {
    const deleting = inPool(context(territory({ spec: { deletionPolicy: 'Delete' } })));
    expect(spec(buildTenantDatabase(deleting)).databaseReclaimPolicy).toBe('delete');
    for (const role of buildTenantRoles(deleting))
      expect(spec(role).databaseRoleReclaimPolicy).toBe('delete');
    for (const role of buildTenantRoles(inPool()))
      expect(spec(role).databaseRoleReclaimPolicy).toBe('retain');
  });

  it('takes the pool’s per-tenant connection limit', () => {
    const ctx = inPool(context(), { pool: databasePool('pool-35', { limits: { connectionsPerTenant: 7 } }) });
    expect(spec(buildTenantDatabase(ctx)).connectionLimit).toBe(7);
    for (const role of buildTenantRoles(ctx).slice(1)) expect(spec(role).connectionLimit).toBe(7);
  });
});

describe('the roles of a Territory in a pool', () => {
  const roles = buildTenantRoles(inPool());
  const byName = rolesByName(roles);

  it('are a NOLOGIN group named like the database, then purposes, owner and backup, all members of it', () => {
    expect(roles.map((r) => [r.metadata?.name, spec(r).name])).toEqual([
      ['rennes-metropole', 't_rennes_metropole'],
      ['rennes-metropole.db-purpose-mobility', 't_rennes_metropole__p_mobility'],
      ['rennes-metropole.db-purpose-waste', 't_rennes_metropole__p_waste'],
      ['rennes-metropole.db-owner', 't_rennes_metropole__owner'],
      ['rennes-metropole.db-backup', 't_rennes_metropole__backup'],
    ]);
    expect(byName.get('t_rennes_metropole')).toMatchObject({ login: false, disablePassword: true });
    expect(byName.get('t_rennes_metropole')?.passwordSecret).toBeUndefined();
    for (const r of roles.slice(1)) {
      expect(spec(r)).toMatchObject({ login: true, cluster: { name: 'pool-35' } });
      expect(spec(r).inRoles).toContain('t_rennes_metropole');
      expect(spec(r).passwordSecret).toEqual({ name: r.metadata?.name });
    }
  });

  it('make the owner a member of each purpose, as in a cluster of its own', () => {
    expect(byName.get('t_rennes_metropole__owner')?.inRoles).toEqual([
      't_rennes_metropole',
      't_rennes_metropole__p_mobility',
      't_rennes_metropole__p_waste',
    ]);
  });

  it('give the backup role read access and nothing that writes', () => {
    const backup = byName.get('t_rennes_metropole__backup');
    expect(backup).toMatchObject({ inRoles: ['t_rennes_metropole', 'pg_read_all_data'], bypassrls: true });
    for (const r of roles) {
      expect(spec(r).superuser, String(r.metadata?.name)).toBeUndefined();
      expect(spec(r).createdb).toBeUndefined();
      expect(spec(r).createrole).toBeUndefined();
      expect(spec(r).replication).toBeUndefined();
    }
  });

  it('never use a name CloudNativePG reserves', () => {
    for (const r of roles) {
      const name = spec(r).name as string;
      expect(name.startsWith('pg_') || name.startsWith('cnpg_') || name === 'postgres').toBe(false);
    }
  });

  it('have a password Secret for each credential of the Territory, and one only', () => {
    expect(poolLoginRoles(inPool())).toEqual([
      { role: 't_rennes_metropole__owner', secret: 'db-owner', copy: 'rennes-metropole.db-owner' },
      {
        role: 't_rennes_metropole__p_mobility',
        secret: 'db-purpose-mobility',
        copy: 'rennes-metropole.db-purpose-mobility',
      },
      {
        role: 't_rennes_metropole__p_waste',
        secret: 'db-purpose-waste',
        copy: 'rennes-metropole.db-purpose-waste',
      },
      { role: 't_rennes_metropole__backup', secret: 'db-backup', copy: 'rennes-metropole.db-backup' },
    ]);
  });
});

describe('every pool-side object', () => {
  const objects = buildSharedDatabase(inPool());

  it('is in the pool’s namespace, labelled with its Territory and pool, owned by the Territory', () => {
    expect(objects.map((o) => o.kind)).toEqual([...Array(5).fill('DatabaseRole'), 'Database']);
    for (const o of objects) {
      expect(o.metadata?.namespace).toBe('db-pool-35');
      expect(o.metadata?.labels).toMatchObject({
        [LABELS.managedBy]: 'territory-operator',
        [LABELS.territory]: 'rennes-metropole',
        [LABELS.pool]: 'pool-35',
      });
      expect(o.metadata?.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Territory', name: 'rennes-metropole', controller: true }),
      ]);
    }
  });

  it('is released, not owned, when the Territory is deleted with deletionPolicy Retain', () => {
    for (const o of buildSharedDatabase(inPool(context(territory(), { orphan: true })))) {
      expect(o.metadata?.ownerReferences).toBeUndefined();
    }
  });

  it('has a name of its own per Territory, so two Territories of a pool never share an object', () => {
    const other = buildSharedDatabase(inPool(context(territory({ name: 'rennes' }))));
    const names = new Set(objects.map((o) => `${o.kind}/${o.metadata?.name}`));
    expect(other.filter((o) => names.has(`${o.kind}/${o.metadata?.name}`))).toEqual([]);
  });

  it('cannot be built for a Territory that is not in a pool', () => {
    expect(() => buildSharedDatabase(context())).toThrow(/no database in a pool/);
  });
});

describe('the pool-side password Secret', () => {
  it('holds the role and its verifier, tagged with the rotation it copies, for CloudNativePG to reload', () => {
    const secret = buildPoolCredentialSecret(inPool(), 'rennes-metropole.db-owner', {
      username: 't_rennes_metropole__owner',
      verifier: 'SCRAM-SHA-256$4096:c2FsdA==$x:y',
      rotatedAt: '2026-12-01T00:00:00Z',
    });
    expect(secret).toMatchObject({
      kind: 'Secret',
      type: 'kubernetes.io/basic-auth',
      metadata: {
        name: 'rennes-metropole.db-owner',
        namespace: 'db-pool-35',
        labels: { 'cnpg.io/reload': 'true', [LABELS.pool]: 'pool-35' },
        annotations: { 'sovereign.dev/rotated-at': '2026-12-01T00:00:00Z' },
      },
      stringData: { username: 't_rennes_metropole__owner', password: 'SCRAM-SHA-256$4096:c2FsdA==$x:y' },
    });
  });
});

describe('db-ca of a Territory in a pool', () => {
  const KEY = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n';

  it('holds the pool’s CA certificate under the name and key its Pods already mount', () => {
    const secret = buildPoolCaSecret(inPool());
    expect(secret).toMatchObject({
      kind: 'Secret',
      metadata: { name: 'db-ca', namespace: 'rennes-metropole' },
      data: { 'ca.crt': Buffer.from(POOL_CA_PEM).toString('base64') },
    });
    expect(Object.keys(secret?.data as object)).toEqual(['ca.crt']);
  });

  it('never carries a private key, even when handed one', () => {
    const secret = buildPoolCaSecret(inPool(context(), { serverCa: `${KEY}${POOL_CA_PEM}` }));
    const data = (secret?.data ?? {}) as Record<string, string>;
    const text = Buffer.from(data['ca.crt'] ?? '', 'base64').toString();
    expect(text).toBe(POOL_CA_PEM);
    expect(certificatesOnly(KEY)).toBe('');
    expect(certificatesOnly(`${POOL_CA_PEM}${POOL_CA_PEM.replace(/\n/g, '\r\n')}`)).toBe(
      `${POOL_CA_PEM}${POOL_CA_PEM}`,
    );
  });

  it('waits for the pool’s CA to be read', () => {
    expect(buildPoolCaSecret(inPool(context(), { serverCa: null }))).toBeUndefined();
    expect(buildPoolCaSecret(inPool(context(), { serverCa: KEY }))).toBeUndefined();
  });
});
