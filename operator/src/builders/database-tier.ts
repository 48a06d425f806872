// Where an authority's database lives: in a PostgreSQL cluster of its own (Dedicated, sized by
// database-sizing.ts), or as one database of a PostgreSQL cluster shared by the small authorities of its
// département (Shared). 35,000 communes with a cluster each would be 35,000 PostgreSQL servers, most of
// them idle; sharing is how a national platform stays within a few thousand.
//
// The shared tier is being built (docs/shared-tier.md): DatabasePools (api/pool.ts, builders/pool.ts) and
// the tier decision (territory/tier.ts) read their defaults here, which `territoryctl plan` counts for every
// authority of the official geography. Pure.

import type { AuthorityKind } from '../api/patterns.ts';
import { admittedQuantityValue } from '../api/quantity.ts';
import type { DatabaseTier } from '../api/stack.ts';
import { type CpuMemory, DATABASE_SIZES } from './database-sizing.ts';
import { autoProfile, PROFILE_NAMES, type QuotaProfileName } from './profile.ts';

// The tiers are the API's (spec.database.tier): one list for the schema, the plan and the builders.
export { DATABASE_TIERS, type DatabaseTier } from '../api/stack.ts';

/**
 * The tier an authority gets unless its Territory says otherwise, from its size profile: small
 * authorities (communes and EPCIs under 10,000 inhabitants, 94% of them) share; every other profile
 * has its own cluster, sized by its profile.
 */
export const DEFAULT_TIERS: Record<QuotaProfileName, DatabaseTier> = {
  small: 'Shared',
  medium: 'Dedicated',
  large: 'Dedicated',
  xlarge: 'Dedicated',
};

/**
 * One shared pool: a PostgreSQL cluster of two instances (a failover keeps every tenant served), each
 * instance sized by how many tenants it holds: a base plus a share per tenant.
 *
 * Why so little per tenant: a small authority's database is mostly idle. What it costs a shared server is
 * its catalog (a few MB of system tables, read into shared_buffers when touched), a connection now and
 * then (a backend's own memory, while it is open: few tenants have one open at any moment), and its data
 * (tens to hundreds of MB for a village, WAL included, hence 1Gi of volume each). The base is the server
 * itself: shared_buffers, WAL, autovacuum and the instance manager. Memory is requested in full, as for a
 * dedicated cluster (database-sizing.ts).
 *
 * Which tenants share which pool is the platform's to declare. The default layout, which `territoryctl
 * plan` assumes: one pool per département, holding its small communes and the small EPCIs whose
 * population mostly lives there (geography.ts gives an EPCI that home).
 */
export const SHARED_POOL = {
  instances: 2,
  base: { cpu: '500m', memory: '1Gi', storage: '10Gi' },
  perTenant: { cpu: '5m', memory: '16Mi', storage: '1Gi' },
} as const;

export interface SharedPoolSize {
  instances: number;
  /** Volume of each instance. */
  storage: string;
  /** Of each instance; the memory limit equals its request. */
  requests: CpuMemory;
}

/** The size of a shared pool holding `tenants` databases, in whole units (m, Mi, Gi). */
export function sharedPoolSize(tenants: number): SharedPoolSize {
  const { base, perTenant } = SHARED_POOL;
  const sum = (b: string, t: string, unit: number, suffix: string) =>
    `${Math.round((admittedQuantityValue(b) + tenants * admittedQuantityValue(t)) / unit)}${suffix}`;
  return {
    instances: SHARED_POOL.instances,
    storage: sum(base.storage, perTenant.storage, 2 ** 30, 'Gi'),
    requests: {
      cpu: sum(base.cpu, perTenant.cpu, 1e-3, 'm'),
      memory: sum(base.memory, perTenant.memory, 2 ** 20, 'Mi'),
    },
  };
}

/** The pool a small authority's database goes to by default: its département's. */
export function defaultPoolOf(authority: { departement?: string | undefined }): string {
  // Every commune and EPCI of the official data has one; any other shares one pool, not none.
  return authority.departement ?? '(none)';
}

/** An authority as the plan needs it: what its profile and pool are chosen from. */
export interface PlannedAuthority {
  kind: AuthorityKind;
  code: string;
  population?: number | undefined;
  departement?: string | undefined;
}

/** What databases cost the cluster: whole numbers, so sums are exact. */
export interface Footprint {
  /** Authorities whose database this counts. */
  authorities: number;
  /** PostgreSQL clusters. */
  clusters: number;
  /** PostgreSQL Pods: every instance of every cluster. */
  pods: number;
  /** CPU requested by those Pods, in millicores. */
  cpuMillicores: number;
  /** Memory requested by those Pods, in bytes. */
  memoryBytes: number;
  /** Their volumes, in bytes. */
  storageBytes: number;
}

export interface NationalPlan {
  /** With the default tiers. */
  tiers: Record<DatabaseTier, Footprint>;
  total: Footprint;
  /** Every authority with a cluster of its own, sized by its profile: the comparison. */
  dedicatedOnly: Footprint;
  /** The Shared tier's authorities with a cluster each: what sharing saves, where it applies. */
  sharedAsDedicated: Footprint;
  /** How many authorities each profile has, and the tier it gets. */
  profiles: Record<QuotaProfileName, { authorities: number; tier: DatabaseTier }>;
  /** The shared pools: how many, and the one with the most tenants. */
  pools: { count: number; largest?: { pool: string; tenants: number } };
}

const EMPTY: Footprint = {
  authorities: 0,
  clusters: 0,
  pods: 0,
  cpuMillicores: 0,
  memoryBytes: 0,
  storageBytes: 0,
};

function add(a: Footprint, b: Footprint): Footprint {
  return {
    authorities: a.authorities + b.authorities,
    clusters: a.clusters + b.clusters,
    pods: a.pods + b.pods,
    cpuMillicores: a.cpuMillicores + b.cpuMillicores,
    memoryBytes: a.memoryBytes + b.memoryBytes,
    storageBytes: a.storageBytes + b.storageBytes,
  };
}

function cluster(
  authorities: number,
  instances: number,
  each: { cpu: string; memory: string; storage: string },
): Footprint {
  return {
    authorities,
    clusters: 1,
    pods: instances,
    cpuMillicores: instances * Math.round(admittedQuantityValue(each.cpu) * 1000),
    memoryBytes: instances * admittedQuantityValue(each.memory),
    storageBytes: instances * admittedQuantityValue(each.storage),
  };
}

const dedicated = (profile: QuotaProfileName) => {
  const size = DATABASE_SIZES[profile];
  return cluster(1, size.instances, { ...size.requests, storage: size.storage });
};

/**
 * What every authority's database costs with the default tiers (each authority's profile from its kind
 * and population, as `auto` chooses), per tier and in total, and what it would cost with a dedicated
 * cluster each.
 */
export function planFootprint(authorities: Iterable<PlannedAuthority>): NationalPlan {
  const profiles = Object.fromEntries(
    PROFILE_NAMES.map((p) => [p, { authorities: 0, tier: DEFAULT_TIERS[p] }]),
  ) as NationalPlan['profiles'];
  // One authority's own cluster depends only on its profile: four footprints, not one per authority.
  const ownCluster = Object.fromEntries(PROFILE_NAMES.map((p) => [p, dedicated(p)])) as Record<
    QuotaProfileName,
    Footprint
  >;
  const tenantsByPool = new Map<string, number>();
  let dedicatedTier = EMPTY;
  let dedicatedOnly = EMPTY;
  let sharedAsDedicated = EMPTY;
  for (const authority of authorities) {
    const profile = autoProfile(authority.kind, authority.population);
    profiles[profile].authorities += 1;
    const own = ownCluster[profile];
    dedicatedOnly = add(dedicatedOnly, own);
    if (DEFAULT_TIERS[profile] === 'Dedicated') {
      dedicatedTier = add(dedicatedTier, own);
    } else {
      sharedAsDedicated = add(sharedAsDedicated, own);
      const pool = defaultPoolOf(authority);
      tenantsByPool.set(pool, (tenantsByPool.get(pool) ?? 0) + 1);
    }
  }
  let sharedTier = EMPTY;
  let largest: { pool: string; tenants: number } | undefined;
  for (const [pool, tenants] of tenantsByPool) {
    const size = sharedPoolSize(tenants);
    sharedTier = add(
      sharedTier,
      cluster(tenants, size.instances, { ...size.requests, storage: size.storage }),
    );
    if (!largest || tenants > largest.tenants) largest = { pool, tenants };
  }
  return {
    tiers: { Shared: sharedTier, Dedicated: dedicatedTier },
    total: add(sharedTier, dedicatedTier),
    dedicatedOnly,
    sharedAsDedicated,
    profiles,
    pools: { count: tenantsByPool.size, ...(largest ? { largest } : {}) },
  };
}
