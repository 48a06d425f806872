// Which tier a Territory's database is in, decided on every reconcile from live facts (the Territory, its
// profile, whether its own cluster or a pool already holds its database, the pools and their tenants),
// never from the Territory's status: a status can lag the cluster (b747cf5), a cluster cannot. Pure.
//
// The rules, in order (docs/shared-tier.md):
// 1. A database never moves by itself: a Territory whose own cluster exists stays Dedicated, one whose
//    database is in a pool stays there. A spec asking for the other tier is reported (moving between tiers
//    is not built yet), not acted on.
// 2. A tier or a pool the spec names is honoured, or refused with the reason: a named pool that does not
//    exist, does not serve the Territory, is full, or does not meet its hosting. A refusal builds no
//    database at all: the Territory waits rather than getting the other tier behind its back.
// 3. Otherwise (automatic): Dedicated when the profile's default tier is (DEFAULT_TIERS) or the Territory
//    asks for what only a cluster of its own gives (physical backups, a size of its own); else Shared in a
//    ready pool that serves it, meets its hosting and has room; waiting while such a pool is only not ready
//    yet; else Dedicated.

import { matchesSelector } from '../api/label-selector.ts';
import type { DatabasePoolSpec } from '../api/pool.ts';
import { sharedAsked } from '../api/stack.ts';
import type { Territory } from '../api/territory.ts';
import type { DatabasePoolPlacement } from '../builders/context.ts';
import { DEFAULT_TIERS } from '../builders/database-tier.ts';
import type { QuotaProfileName } from '../builders/profile.ts';

/** A DatabasePool as the decision sees it: its spec, and what the reconciler read of it. */
export interface PoolFacts {
  name: string;
  spec: DatabasePoolSpec;
  /** Its Ready condition is True: its cluster is healthy and takes tenants. */
  ready: boolean;
  /** Territories whose database it holds now (its Database objects), this one included if it is one. */
  tenants: number;
}

export interface TierFacts {
  territory: Territory;
  /** The authority's official département (AuthorityFacts.departement), which the pools serve. */
  departement: string | undefined;
  profile: QuotaProfileName;
  /** The Territory's own database Cluster exists, in its namespace. */
  dedicatedClusterExists: boolean;
  /** The pool whose namespace holds the Territory's Database object, if one does. */
  currentPool?: string | undefined;
  pools: readonly PoolFacts[];
}

export type TierReason =
  /** Rule 1. */
  | 'DedicatedClusterExists'
  | 'InPool'
  | 'MoveNotSupported'
  /** Rule 2. */
  | 'Requested'
  | 'PoolNotFound'
  | 'PoolDoesNotServe'
  | 'PoolFull'
  | 'PoolHostingMismatch'
  | 'NoPoolServes'
  /** Rule 3. */
  | 'ProfileDefault'
  | 'NeedsOwnCluster'
  | 'NoPoolAvailable'
  | 'PoolNotReady';

export type TierDecision =
  | { tier: 'Dedicated'; reason: TierReason; message: string }
  | { tier: 'Shared'; pool: PoolFacts; reason: TierReason; message: string }
  /** The spec's own request cannot be met: no database is built, and DatabaseReady says why. */
  | { tier: null; reason: TierReason; message: string };

const dedicated = (reason: TierReason, message: string): TierDecision => ({
  tier: 'Dedicated',
  reason,
  message,
});
const shared = (pool: PoolFacts, reason: TierReason, message: string): TierDecision => ({
  tier: 'Shared',
  pool,
  reason,
  message,
});
const refused = (reason: TierReason, message: string): TierDecision => ({ tier: null, reason, message });

/**
 * Why `pool`'s hosting does not meet the Territory's, or undefined when it does: a secnumcloud Territory
 * only in a secnumcloud pool; a Territory that names regions only in a pool whose regions are all among
 * them (a pool naming none may run in any French region).
 */
export function hostingMismatch(territory: Territory, pool: PoolFacts): string | undefined {
  const wanted = territory.spec.hosting;
  const offered = pool.spec.hosting;
  if (wanted.level === 'secnumcloud' && offered.level !== 'secnumcloud') {
    return `pool ${pool.name} is hosted at level ${offered.level}, and the Territory requires secnumcloud`;
  }
  const regions = wanted.regions ?? [];
  if (regions.length === 0) return undefined;
  const poolRegions = offered.regions ?? [];
  if (poolRegions.length === 0) {
    return `pool ${pool.name} may run in any French region, and the Territory allows only ${regions.join(', ')}`;
  }
  const outside = poolRegions.filter((r) => !regions.includes(r));
  if (outside.length > 0) {
    return `pool ${pool.name} may run in ${outside.join(', ')}, outside the Territory's regions (${regions.join(', ')})`;
  }
  return undefined;
}

/** Whether `pool` takes this Territory: its département is listed, or its selector matches the Territory. */
export function poolServes(pool: PoolFacts, territory: Territory, departement: string | undefined): boolean {
  const { departements, territorySelector } = pool.spec.serves;
  if (departement !== undefined && departements?.includes(departement)) return true;
  return territorySelector !== undefined && matchesSelector(territorySelector, territory.metadata.labels);
}

const hasRoom = (pool: PoolFacts) => pool.tenants < pool.spec.maxTenants;

/** Why `pool` cannot take a new tenant, or undefined when it can (readiness aside). */
function whyNot(pool: PoolFacts, facts: TierFacts): { reason: TierReason; message: string } | undefined {
  const { territory, departement } = facts;
  if (!poolServes(pool, territory, departement)) {
    return {
      reason: 'PoolDoesNotServe',
      message: `pool ${pool.name} does not serve the Territory (${departement ? `département ${departement}` : 'no département'}, and its territorySelector does not select it)`,
    };
  }
  const mismatch = hostingMismatch(territory, pool);
  if (mismatch) return { reason: 'PoolHostingMismatch', message: mismatch };
  if (!hasRoom(pool)) {
    return {
      reason: 'PoolFull',
      message: `pool ${pool.name} is full (${pool.tenants} of ${pool.spec.maxTenants} tenants)`,
    };
  }
  return undefined;
}

/** What a Territory asks for that only a cluster of its own gives, as the fields that ask it. */
export function ownClusterFields(territory: Territory): string[] {
  const { database, backup, restore } = territory.spec;
  const fields: [string, boolean][] = [
    ['spec.backup.physical.enabled', backup.physical.enabled],
    ['spec.restore.from: PointInTime', restore?.from === 'PointInTime'],
    ['spec.database.instances', database.instances !== undefined],
    ['spec.database.storage.size', database.storage.size !== undefined],
    ['spec.database.storage.storageClass', database.storage.storageClass !== undefined],
    ['spec.database.resources', database.resources !== undefined],
  ];
  return fields.filter(([, asked]) => asked).map(([field]) => field);
}

/** Ready pools first, then by name: the same facts always give the same pool. */
const byPreference = (a: PoolFacts, b: PoolFacts) =>
  Number(b.ready) - Number(a.ready) || a.name.localeCompare(b.name);

export function decideTier(facts: TierFacts): TierDecision {
  const { territory, pools } = facts;
  const database = territory.spec.database;
  const asksShared = sharedAsked(database);
  const asksDedicated = database.tier === 'Dedicated';

  // 1. Where the database is, it stays.
  if (facts.dedicatedClusterExists) {
    return asksShared
      ? dedicated(
          'MoveNotSupported',
          'spec.database asks for the Shared tier, but the database has a cluster of its own: it stays there (moving a database between tiers is not supported yet)',
        )
      : dedicated('DedicatedClusterExists', 'the database has a cluster of its own, and stays there');
  }
  if (facts.currentPool !== undefined) {
    const current = pools.find((p) => p.name === facts.currentPool);
    if (!current) {
      return refused(
        'PoolNotFound',
        `the database is in pool ${facts.currentPool}, which no longer exists: restore the DatabasePool, or restore the Territory's data from its logical backups`,
      );
    }
    const mismatch = hostingMismatch(territory, current);
    if (mismatch)
      return refused('PoolHostingMismatch', `the database is in pool ${current.name}, but ${mismatch}`);
    if (asksDedicated || (database.pool !== undefined && database.pool !== current.name)) {
      return shared(
        current,
        'MoveNotSupported',
        `spec.database asks for ${asksDedicated ? 'a cluster of its own' : `pool ${database.pool}`}, but the database is in pool ${current.name}: it stays there (moving a database between tiers or pools is not supported yet)`,
      );
    }
    return shared(current, 'InPool', `the database is in pool ${current.name}`);
  }

  // 2. What the spec names.
  if (asksDedicated) return dedicated('Requested', 'spec.database.tier is Dedicated');
  if (database.pool !== undefined) {
    const named = pools.find((p) => p.name === database.pool);
    if (!named)
      return refused('PoolNotFound', `spec.database.pool names pool ${database.pool}, which does not exist`);
    const why = whyNot(named, facts);
    if (why) return refused(why.reason, `spec.database.pool names pool ${named.name}, but ${why.message}`);
    return shared(named, 'Requested', `spec.database.pool names pool ${named.name}`);
  }
  const candidates = pools.filter((p) => whyNot(p, facts) === undefined).sort(byPreference);
  if (asksShared) {
    // A pool that is not ready yet is waited for, as a named one is: the spec asked for Shared.
    const [first] = candidates;
    if (first)
      return shared(
        first,
        'Requested',
        `spec.database.tier is Shared: pool ${first.name} serves the Territory`,
      );
    return refused(
      'NoPoolServes',
      `spec.database.tier is Shared, but no pool takes the Territory: ${whyNone(facts)}`,
    );
  }

  // 3. Automatic.
  const { profile } = facts;
  if (DEFAULT_TIERS[profile] === 'Dedicated') {
    return dedicated('ProfileDefault', `the ${profile} profile has a cluster of its own by default`);
  }
  const needs = ownClusterFields(territory);
  if (needs.length > 0) {
    return dedicated(
      'NeedsOwnCluster',
      `the ${profile} profile shares a pool by default, but the Territory asks for what only a cluster of its own gives (${needs.join(', ')})`,
    );
  }
  const ready = candidates.find((p) => p.ready);
  if (ready) {
    return shared(
      ready,
      'ProfileDefault',
      `the ${profile} profile shares a pool by default: pool ${ready.name} serves the Territory`,
    );
  }
  // A pool that would take it is only not ready yet (being created, failing over): wait for it. Going
  // Dedicated now would be for good (rule 1 keeps a database where it is) for a passing state.
  const [coming] = candidates;
  if (coming) {
    return refused(
      'PoolNotReady',
      `the ${profile} profile shares a pool by default, and pool ${coming.name} serves the Territory but is not ready yet: the database is created once it is`,
    );
  }
  return dedicated(
    'NoPoolAvailable',
    `the ${profile} profile shares a pool by default, but no ready pool takes the Territory: ${whyNone(facts)}`,
  );
}

/** Why no pool takes the Territory, pool by pool (for a person reading the condition). */
function whyNone(facts: TierFacts): string {
  if (facts.pools.length === 0) return 'no DatabasePool exists';
  return [...facts.pools]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((pool) => {
      const why = whyNot(pool, facts);
      if (why) return why.message;
      return `pool ${pool.name} is not ready`;
    })
    .join('; ');
}

/**
 * What the builders get for a Shared database (BuildContext.databasePool): the pool, and its server CA once
 * the reconciler has read it (`ca.crt` of CloudNativePG's `<pool>-ca` Secret in the pool's namespace).
 */
export function poolPlacement(pool: PoolFacts, serverCa?: string): DatabasePoolPlacement {
  return {
    name: pool.name,
    namespace: pool.spec.namespace,
    spec: pool.spec,
    ...(serverCa !== undefined ? { serverCa } : {}),
  };
}
