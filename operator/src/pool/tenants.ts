// A pool's tenants are its Database objects: one per Territory whose database it holds, in the pool's
// namespace, labelled sovereign.dev/pool=<pool> and sovereign.dev/territory=<territory> by the Territory
// side. A Database being deleted still counts: its data is there until CloudNativePG has dropped it.
// Pure.

import { LABELS } from '../builders/context.ts';
import type { KubeObject } from '../runtime/types.ts';
import { labelledIdentityForCache } from '../territory/cache-shape.ts';
import { POOL_READY_REASONS, type PoolOutcome } from './status.ts';

export interface Tenants {
  /** Database objects labelled for the pool. */
  count: number;
  /** Their Territories (the sovereign.dev/territory label, else the object's name), sorted, distinct. */
  territories: string[];
}

/** A Database as the pool's cache keeps it: who it is and its labels (its spec is the Territory's). */
export const tenantForCache = labelledIdentityForCache;

/** The tenants of `pool` among the Database objects of its namespace. */
export function tenantsOf(databases: readonly KubeObject[], pool: string): Tenants {
  const mine = databases.filter((d) => d.metadata.labels?.[LABELS.pool] === pool);
  const territories = new Set(
    mine.map((d) => d.metadata.labels?.[LABELS.territory] ?? d.metadata.name ?? ''),
  );
  return { count: mine.length, territories: [...territories].filter(Boolean).sort() };
}

const NAMED = 5;

/** Why a deleted pool is kept: whose databases it still holds, and what to do about them. */
export function deletionBlocked(pool: string, namespace: string, tenants: Tenants): PoolOutcome {
  const shown = tenants.territories.slice(0, NAMED);
  const more = tenants.territories.length - shown.length;
  const names = `${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  const count = tenants.count === 1 ? '1 Territory' : `${tenants.count} Territories`;
  return {
    ready: false,
    reason: POOL_READY_REASONS.deletionBlocked,
    message:
      `DatabasePool ${pool} is deleted but still holds the databases of ${count} (${names}): nothing is ` +
      `deleted while it does. Move them to another pool or delete them first (their Database objects in ` +
      `namespace ${namespace}); the pool's Cluster and namespace are then deleted.`,
  };
}
