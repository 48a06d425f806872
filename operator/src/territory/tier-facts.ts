// The facts decideTier (tier.ts) judges, read for one Territory: the DatabasePools and their tenants, whether
// its own cluster exists, which pool holds its database. From the caches on every reconcile; confirmed by
// reads of the API server before a data store is first created (confirmTierFacts), because the caches of
// two kinds are not in step with each other (b747cf5): a Cluster created a moment ago may not be in the
// Cluster cache yet, and deciding on that would give a Territory a database in both tiers.
import { type DatabasePool, POOL_API_VERSION, POOL_KIND, parseDatabasePool } from '../api/pool.ts';
import type { Territory } from '../api/territory.ts';
import { LABELS, MANAGED_BY, namespaceOf } from '../builders/context.ts';
import { CLUSTER_NAME } from '../builders/database.ts';
import { DATABASE_API_VERSION } from '../builders/shared-database.ts';
import type { KubeObject } from '../runtime/types.ts';
import { cacheKey } from './owned-kinds.ts';
import type { TerritoryPorts } from './ports.ts';
import type { PoolFacts, TierFacts } from './tier.ts';

type Caches = Pick<TerritoryPorts, 'cache'>;

/** A pool's parsed spec, kept per cached object: a pool is parsed once per change, not once per reconcile. */
const parsed = new WeakMap<KubeObject, DatabasePool | null>();

function parsedPool(object: KubeObject): DatabasePool | undefined {
  let pool = parsed.get(object);
  if (pool === undefined) {
    // The spec is what is judged; the status (slimmed for the cache: poolForCache) is read apart.
    const { status: _status, ...rest } = object;
    const result = parseDatabasePool(rest);
    pool = result.ok ? result.pool : null;
    parsed.set(object, pool);
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

/** The Territories' Database objects in a pool's namespace, from the cache: its tenants. */
function tenantsOf(ports: Caches, pool: DatabasePool): number {
  const databases = ports.cache(DATABASE_API_VERSION, 'Database')?.listInNamespace(pool.spec.namespace) ?? [];
  return databases.filter((d) => d.metadata.labels?.[LABELS.pool] === pool.metadata.name).length;
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
 * The same facts, with where the database is read from the API server: a GET of its own Cluster and a LIST
 * of the Database objects labelled for it, in any namespace (two reads, made only while the caches see
 * neither). A Database found in a namespace that is no pool's any more is reported as its pool by label.
 */
export async function confirmTierFacts(
  ports: Pick<TerritoryPorts, 'kube'>,
  facts: TierFacts,
): Promise<TierFacts> {
  const t = facts.territory;
  const cluster = await ports.kube.get({
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    namespace: namespaceOf(t),
    name: CLUSTER_NAME,
  });
  if (cluster) return { ...facts, dedicatedClusterExists: true };
  const { items } = await ports.kube.list({
    apiVersion: DATABASE_API_VERSION,
    kind: 'Database',
    labelSelector: `${LABELS.managedBy}=${MANAGED_BY},${LABELS.territory}=${t.metadata.name}`,
  });
  const database = items.find((d) => d.metadata.name === t.metadata.name && d.metadata.labels?.[LABELS.pool]);
  const pool = database?.metadata.labels?.[LABELS.pool];
  return pool === undefined ? facts : { ...facts, currentPool: pool };
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
