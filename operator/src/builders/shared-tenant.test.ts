// A Territory whose database is in a pool, as its own namespace sees it: no cluster of its own, its Pods
// reaching the pool, and backups and restores unchanged but for the host, the roles and the CA they use.
import { describe, expect, it } from 'vitest';
import { buildLogicalBackupCronJob } from './backup.ts';
import { LABELS, type Owned } from './context.ts';
import { credentialRoles, databaseEndpoint, databaseHost } from './database.ts';
import { context, databasePool, inPool, territory, withPhysicalBackups } from './fixtures.test-helpers.ts';
import { buildDesiredState } from './index.ts';
import { effectiveQuota } from './quota.ts';
import { buildRestoreJob } from './restore.ts';

const all = (s: ReturnType<typeof buildDesiredState>): Owned[] => [
  s.namespace,
  ...s.tenancy,
  ...s.database,
  ...s.backup,
];
const spec = (o: Owned) => o.spec as Record<string, unknown>;

/** The first container's env, as a map, of a CronJob or a Job. */
function envOf(o: Owned): Map<string, string | undefined> {
  const s = spec(o) as {
    jobTemplate?: {
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    };
    template?: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
  };
  const pod = s.jobTemplate?.spec.template.spec ?? s.template?.spec;
  return new Map((pod?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
}

const ctx = inPool();

describe('a Territory whose database is in a pool', () => {
  const state = buildDesiredState(ctx);

  it('has no cluster, object store or physical backup of its own', () => {
    const kinds = all(state).map((o) => o.kind);
    for (const kind of ['Cluster', 'ObjectStore', 'ScheduledBackup']) expect(kinds).not.toContain(kind);
    expect(state.database.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`)).toEqual([
      'Secret/rennes-metropole/db-ca',
      'DatabaseRole/db-pool-35/rennes-metropole',
      'DatabaseRole/db-pool-35/rennes-metropole.db-purpose-mobility',
      'DatabaseRole/db-pool-35/rennes-metropole.db-purpose-waste',
      'DatabaseRole/db-pool-35/rennes-metropole.db-owner',
      'DatabaseRole/db-pool-35/rennes-metropole.db-backup',
      'Database/db-pool-35/rennes-metropole',
    ]);
  });

  it('builds no physical backup even when its spec asks for them (they are the pool’s)', () => {
    const physical = buildDesiredState(inPool(context(withPhysicalBackups())));
    const kinds = all(physical).map((o) => o.kind);
    for (const kind of ['ObjectStore', 'ScheduledBackup']) expect(kinds).not.toContain(kind);
    expect(physical.database.filter((o) => o.metadata?.name === 'backup-s3-region')).toEqual([]);
  });

  it('labels its namespace for its pool, which lets it in', () => {
    expect(state.namespace.metadata?.labels?.[LABELS.pool]).toBe('pool-35');
    expect(buildDesiredState(context()).namespace.metadata?.labels?.[LABELS.pool]).toBeUndefined();
  });

  it('opens egress to its pool’s instances on 5432 instead of its own database’s policies', () => {
    const policies = state.tenancy.filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.map((p) => p.metadata?.name)).toEqual([
      'default-deny',
      'allow-dns',
      'allow-same-namespace',
      'allow-database-pool',
      'allow-backup-destination',
    ]);
    expect(spec(policies.find((p) => p.metadata?.name === 'allow-database-pool') as Owned)).toEqual({
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'db-pool-35' } },
              podSelector: { matchLabels: { 'cnpg.io/cluster': 'pool-35' } },
            },
          ],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
      ],
    });
  });

  it('keeps every object of its own namespace labelled and owned as before', () => {
    for (const o of [state.namespace, ...state.tenancy, ...state.backup]) {
      expect(o.metadata?.labels?.[LABELS.territory]).toBe('rennes-metropole');
      expect(o.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Territory' })]);
      if (o.kind !== 'Namespace') expect(o.metadata?.namespace).toBe('rennes-metropole');
    }
  });

  it('gives its Pods the pool’s endpoint, and its applications the same Secret names as a cluster of its own', () => {
    expect(databaseHost(ctx)).toBe('pool-35-rw.db-pool-35.svc');
    expect(databaseEndpoint(ctx)).toBe('pool-35-rw.db-pool-35.svc:5432');
    expect(databaseEndpoint(context())).toBe('db-rw.rennes-metropole.svc:5432');
    expect(credentialRoles(ctx)).toEqual([
      { secret: 'db-owner', username: 't_rennes_metropole__owner' },
      { secret: 'db-purpose-mobility', username: 't_rennes_metropole__p_mobility' },
      { secret: 'db-purpose-waste', username: 't_rennes_metropole__p_waste' },
      { secret: 'db-backup', username: 't_rennes_metropole__backup' },
    ]);
  });

  it('backs up as its backup role, from the pool, verifying the pool’s certificate with db-ca', () => {
    const cronJob = buildLogicalBackupCronJob(ctx);
    const env = envOf(cronJob);
    expect(env.get('PGHOST')).toBe('pool-35-rw.db-pool-35.svc');
    expect(env.get('PGDATABASE')).toBe('t_rennes_metropole');
    expect(env.get('PGUSER')).toBe('t_rennes_metropole__backup');
    expect(env.get('PGSSLMODE')).toBe('verify-full');
    // The same volumes as in a cluster of its own: db-ca and db-backup, in the Territory's namespace.
    const dedicated = buildLogicalBackupCronJob(context());
    const volumes = (o: Owned) =>
      JSON.stringify((spec(o) as { jobTemplate: unknown }).jobTemplate).match(/"secretName":"[^"]+"/g);
    expect(volumes(cronJob)).toEqual(volumes(dedicated));
  });

  it('restores as its owner and checks as its backup role, in the pool', () => {
    const env = envOf(buildRestoreJob(ctx, { from: 'LogicalBackup' }, 'abc123'));
    expect(env.get('PGHOST')).toBe('pool-35-rw.db-pool-35.svc');
    expect(env.get('PGUSER')).toBe('t_rennes_metropole__owner');
    expect(env.get('PG_CHECK_USER')).toBe('t_rennes_metropole__backup');
  });

  it('changes nothing else of the backup and restore Pods', () => {
    const strip = (o: Owned) =>
      JSON.stringify(o)
        .replace(/pool-35-rw\.db-pool-35\.svc|db-rw/g, 'HOST')
        .replace(/t_rennes_metropole__backup|territory_backup/g, 'BACKUP')
        .replace(/t_rennes_metropole__owner|rennes_metropole_owner/g, 'OWNER')
        .replace(/t_rennes_metropole|rennes_metropole/g, 'DB');
    expect(strip(buildLogicalBackupCronJob(ctx))).toBe(strip(buildLogicalBackupCronJob(context())));
    const request = { from: 'LogicalBackup' as const };
    expect(strip(buildRestoreJob(ctx, request, 'abc123'))).toBe(
      strip(buildRestoreJob(context(), request, 'abc123')),
    );
  });

  it('keeps the profile’s quota: the database’s volumes are the pool’s', () => {
    const big = { liveDatabaseStorage: '10Ti' };
    expect(effectiveQuota(context(territory(), big)).requestsStorage).toBe('20480Gi');
    expect(effectiveQuota(inPool(context(territory(), big))).requestsStorage).toBe('500Gi');
  });

  it('builds the pool-side objects of the pool it is given', () => {
    const other = buildDesiredState(
      inPool(context(), { pool: databasePool('pool-29', { namespace: 'pools-29' }) }),
    );
    for (const o of other.database.slice(1)) {
      expect(o.metadata?.namespace).toBe('pools-29');
      expect((spec(o).cluster as { name: string }).name).toBe('pool-29');
    }
  });
});
