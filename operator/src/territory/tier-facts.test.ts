import { describe, expect, it } from 'vitest';
import { territory } from '../builders/fixtures.test-helpers.ts';
import type { KubeObject, ObjectCache } from '../runtime/types.ts';
import { poolForCache } from './cache-shape.ts';
import type { TerritoryPorts } from './ports.ts';
import {
  cachedTierFacts,
  concernedByPool,
  confirmTierFacts,
  databaseTierOf,
  noDataStoreCached,
  readPools,
} from './tier-facts.ts';

/** A cache holding exactly these objects, keyed as the informers key them. */
function cacheOf(objects: KubeObject[]): ObjectCache {
  const key = (o: KubeObject) =>
    o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata.name ?? '');
  const byKey = new Map(objects.map((o) => [key(o), o]));
  return {
    get: (k) => byKey.get(k),
    list: () => [...byKey.values()],
    keys: () => [...byKey.keys()],
    listInNamespace: (ns) => objects.filter((o) => o.metadata.namespace === ns),
    countInNamespace: (ns) => objects.filter((o) => o.metadata.namespace === ns).length,
    hasSynced: () => true,
  };
}

/** The caches of these kinds; pools as the operator caches them (poolForCache: their status slimmed). */
function caches(byKind: Record<string, KubeObject[]>): Pick<TerritoryPorts, 'cache'> {
  const pools = (byKind.DatabasePool ?? []).map(poolForCache);
  return { cache: (_apiVersion, kind) => cacheOf(kind === 'DatabasePool' ? pools : (byKind[kind] ?? [])) };
}

const condition = (status: string) => ({
  type: 'Ready',
  status,
  reason: 'Serving',
  message: 'serving',
  lastTransitionTime: '2026-12-01T00:00:00Z',
});

function pool(name: string, extra: Partial<KubeObject> & { status?: unknown } = {}): KubeObject {
  return {
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'DatabasePool',
    metadata: { name, uid: `uid-${name}`, ...extra.metadata },
    spec: { namespace: `db-${name}`, maxTenants: 3, serves: { departements: ['35'] } },
    status: extra.status ?? { tenants: 0, conditions: [condition('True')] },
  } as KubeObject;
}

function database(namespace: string, name: string, pool: string): KubeObject {
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Database',
    metadata: {
      name,
      namespace,
      labels: { 'sovereign.dev/territory': name, 'sovereign.dev/pool': pool },
    },
  } as KubeObject;
}

const base = { territory: territory(), departement: '35', profile: 'small' as const };
const name = base.territory.metadata.name;

describe('readPools', () => {
  it('judges a pool by its spec, whatever its status holds, and counts its tenants from its Database objects', () => {
    const pools = readPools(
      caches({
        DatabasePool: [
          pool('pool-35'),
          pool('pool-deleting', {
            metadata: { name: 'pool-deleting', deletionTimestamp: '2026-12-08T00:00:00Z' },
          }),
          pool('pool-starting', { status: { conditions: [condition('False')] } }),
          { ...pool('pool-invalid'), spec: { namespace: 'kube-system' } } as KubeObject,
        ],
        Database: [
          database('db-pool-35', 'a', 'pool-35'),
          database('db-pool-35', 'b', 'pool-35'),
          database('db-pool-29', 'c', 'pool-29'),
        ],
      }),
    );
    expect(pools.map((p) => [p.name, p.ready, p.tenants])).toEqual([
      ['pool-35', true, 2],
      ['pool-deleting', false, 0],
      ['pool-starting', false, 0],
    ]);
  });
});

describe('cachedTierFacts', () => {
  it('stops at the cluster of its own, reading no pool', () => {
    const facts = cachedTierFacts(
      caches({
        Cluster: [{ metadata: { name: 'db', namespace: name } } as KubeObject],
        DatabasePool: [pool('pool-35')],
      }),
      base,
    );
    expect(facts).toMatchObject({ dedicatedClusterExists: true, pools: [] });
    expect(noDataStoreCached(facts)).toBe(false);
  });

  it('finds the pool whose namespace holds a Database named and labelled after the Territory', () => {
    const facts = cachedTierFacts(
      caches({ DatabasePool: [pool('pool-35')], Database: [database('db-pool-35', name, 'pool-35')] }),
      base,
    );
    expect(facts.currentPool).toBe('pool-35');
    expect(noDataStoreCached(facts)).toBe(false);
    const none = cachedTierFacts(caches({ DatabasePool: [pool('pool-35')] }), base);
    expect(noDataStoreCached(none)).toBe(true);
  });
});

describe('confirmTierFacts', () => {
  const facts = cachedTierFacts(caches({ DatabasePool: [pool('pool-35')] }), base);
  /** The API server holding these objects, by kind; the reads it answered, in order. */
  const apiServer = (objects: Record<string, KubeObject | undefined>) => {
    const reads: string[] = [];
    return {
      reads,
      ports: {
        kube: {
          get: async (ref: { kind: string; namespace?: string; name: string }) => {
            reads.push(`${ref.kind} ${ref.namespace ?? ''}/${ref.name}`);
            return objects[ref.kind];
          },
        } as unknown as TerritoryPorts['kube'],
      },
    };
  };
  const namespace = (pool?: string) =>
    ({ metadata: { name, labels: pool ? { 'sovereign.dev/pool': pool } : {} } }) as unknown as KubeObject;

  it('sees a cluster the cache has not seen yet', async () => {
    const { ports } = apiServer({ Cluster: { metadata: { name: 'db' } } as KubeObject });
    expect((await confirmTierFacts(ports, facts)).dedicatedClusterExists).toBe(true);
  });

  it('sees a Database the cache has not seen yet, in the pool its namespace is labelled for', async () => {
    const { ports, reads } = apiServer({
      Namespace: namespace('pool-35'),
      Database: database('db-pool-35', name, 'pool-35'),
    });
    expect((await confirmTierFacts(ports, facts)).currentPool).toBe('pool-35');
    expect(reads).toEqual([`Cluster ${name}/db`, `Namespace /${name}`, `Database db-pool-35/${name}`]);
  });

  it('leaves the facts as they are when the API server holds neither', async () => {
    expect(
      noDataStoreCached(await confirmTierFacts(apiServer({ Namespace: namespace() }).ports, facts)),
    ).toBe(true);
    // Labelled for a pool, but no Database there yet (the namespace is labelled first).
    const labelledOnly = apiServer({ Namespace: namespace('pool-35') });
    expect(noDataStoreCached(await confirmTierFacts(labelledOnly.ports, facts))).toBe(true);
  });
});

describe('concernedByPool', () => {
  const withDatabase = (database?: Record<string, string>) =>
    databaseTierOf({
      metadata: { name: 't' },
      status: database ? { database } : {},
    } as unknown as KubeObject);

  it("wakes a pool's tenants and the Territories whose tier is not decided, not those with a cluster of their own", () => {
    expect(concernedByPool(withDatabase({ tier: 'Shared', pool: 'pool-35' }), 'pool-35')).toBe(true);
    expect(concernedByPool(withDatabase({ tier: 'Shared', pool: 'pool-29' }), 'pool-35')).toBe(false);
    expect(concernedByPool(withDatabase(), 'pool-35')).toBe(true);
    expect(concernedByPool(withDatabase({ tier: 'Dedicated', endpoint: 'db-rw' }), 'pool-35')).toBe(false);
  });
});
