// The facts decideTier (tier.ts) judges, read for one Territory: the DatabasePools and their tenants, whether
// its own cluster exists, which pool holds its database. From the caches on every reconcile; confirmed by
// reads of the API server before a data store is first created (confirmTierFacts), because the caches of
// two kinds are not in step with each other (b747cf5): a Cluster created a moment ago may not be in the
// Cluster cache yet, and deciding on that would give a Territory a database in both tiers.
import { type DatabasePool, POOL_API_VERSION, POOL_KIND, parseDatabasePool } from '../api/pool.ts';
import type { Territory } from '../api/territory.ts';
import { LABELS, namespaceOf } from '../builders/context.ts';
import { CLUSTER_NAME } from '../builders/database.ts';
import { DATABASE_API_VERSION } from '../builders/shared-database.ts';
import type { KubeObject } from '../runtime/types.ts';
import { cacheKey } from './owned-kinds.ts';
import type { TerritoryPorts } from './ports.ts';
import type { PoolFacts, TierFacts } from './tier.ts';

type Caches = Pick<TerritoryPorts, 'cache'>;

/**
 * A pool's parsed spec, kept per version (uid and resourceVersion: the caches hand out a new object on every
 * read): a pool is parsed once per change, not once per reconcile.
 */
const parsed = new Map<string, { resourceVersion: string; pool: DatabasePool | null }>();

function parsedPool(object: KubeObject): DatabasePool | undefined {
  const key = object.metadata.uid ?? object.metadata.name ?? '';
  const resourceVersion = object.metadata.resourceVersion ?? '';
  let pool = parsed.get(key)?.resourceVersion === resourceVersion ? parsed.get(key)?.pool : undefined;
  if (pool === undefined) {
    // The spec is what is judged; the status (slimmed for the cache: poolForCache) is read apart.
    const { status: _status, ...rest } = object;
    const result = parseDatabasePool(rest);
    pool = result.ok ? result.pool : null;
    parsed.set(key, { resourceVersion, pool });
  }
  return pool ?? undefined;
}

/** Whether a pool says it serves: its Ready condition is True, and it is not being deleted. */
export function poolReady(object: KubeObject): boolean {
  if (object.metadata.deletionTimestamp) return false;
  const conditions = (object.status as { conditions?: { type: string; status: string }[] } | undefined)
    ?.conditions;
  return conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * The Territories' Database objects in a pool's namespace, from the cache: its tenants. Counted, not decoded:
 * this runs for every pool on every reconcile, and a pool holds up to 2,000 of them.
 */
function tenantsOf(ports: Caches, pool: DatabasePool): number {
  return ports.cache(DATABASE_API_VERSION, 'Database')?.countInNamespace(pool.spec.namespace) ?? 0;
}

/** Every valid DatabasePool, with its readiness and tenants (an invalid one serves no one). */
export function readPools(ports: Caches): PoolFacts[] {
  const objects = ports.cache(POOL_API_VERSION, POOL_KIND)?.list() ?? [];
  return objects.flatMap((object) => {
    const pool = parsedPool(object);
    if (!pool) return [];
    return [
      {
        name: pool.metadata.name,
        spec: pool.spec,
        ready: poolReady(object),
        tenants: tenantsOf(ports, pool),
      },
    ];
  });
}

/** The pool whose namespace holds the Territory's Database object (named and labelled after it), if any. */
export function cachedPoolOf(ports: Caches, t: Territory, pools: readonly PoolFacts[]): string | undefined {
  const name = t.metadata.name;
  const cache = ports.cache(DATABASE_API_VERSION, 'Database');
  return pools.find((pool) => {
    const database = cache?.get(cacheKey(pool.spec.namespace, name));
    return database?.metadata.labels?.[LABELS.territory] === name;
  })?.name;
}

/** Where the database is, as the caches say. Pools are only read when the database has no cluster of its own. */
export function cachedTierFacts(
  ports: Caches,
  base: Pick<TierFacts, 'territory' | 'departement' | 'profile'>,
): TierFacts {
  const t = base.territory;
  const cluster = ports
    .cache('postgresql.cnpg.io/v1', 'Cluster')
    ?.get(cacheKey(namespaceOf(t), CLUSTER_NAME));
  if (cluster) return { ...base, dedicatedClusterExists: true, pools: [] };
  const pools = readPools(ports);
  return { ...base, dedicatedClusterExists: false, currentPool: cachedPoolOf(ports, t, pools), pools };
}

/** Whether the caches saw no data store of this Territory's at all: the decision is about to create one. */
export function noDataStoreCached(facts: TierFacts): boolean {
  return !facts.dedicatedClusterExists && facts.currentPool === undefined;
}

/**
 * The same facts, with where the database is read from the API server: a GET of its own Cluster, of its
 * namespace (the operator labels it for the pool it decides, before creating anything in that pool) and of
 * its Database in that pool. Three reads, made only while the caches see no data store of the Territory's;
 * a LIST of the Databases by label across the cluster would cost the API server every pool's tenants, for
 * every new Territory.
 */
export async function confirmTierFacts(
  ports: Pick<TerritoryPorts, 'kube'>,
  facts: TierFacts,
): Promise<TierFacts> {
  const t = facts.territory;
  const name = t.metadata.name;
  const cluster = await ports.kube.get({
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    namespace: namespaceOf(t),
    name: CLUSTER_NAME,
  });
  if (cluster) return { ...facts, dedicatedClusterExists: true };
  const namespace = await ports.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: namespaceOf(t) });
  const labelled = namespace?.metadata.labels?.[LABELS.pool];
  const pool = facts.pools.find((p) => p.name === labelled);
  if (!pool) return facts;
  const database = await ports.kube.get({
    apiVersion: DATABASE_API_VERSION,
    kind: 'Database',
    namespace: pool.spec.namespace,
    name,
  });
  return database?.metadata.labels?.[LABELS.territory] === name
    ? { ...facts, currentPool: pool.name }
    : facts;
}

/** Where a Territory's database is, as its status says: its tier, and its pool when Shared. */
export interface DatabaseTier {
  tier?: string;
  pool?: string;
}

export function databaseTierOf(territory: KubeObject): DatabaseTier {
  const database = (territory.status as { database?: DatabaseTier } | undefined)?.database;
  return {
    ...(database?.tier ? { tier: database.tier } : {}),
    ...(database?.pool ? { pool: database.pool } : {}),
  };
}

/** Whether a change of pool `pool` may change a Territory's database: the pool's tenants, and the undecided. */
export function concernedByPool(database: DatabaseTier, pool: string): boolean {
  return database.tier === undefined || database.pool === pool;
}
