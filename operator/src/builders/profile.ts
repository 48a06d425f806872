// How big an authority is: the size profile (small, medium, large, xlarge) every per-Territory default is
// read from: the namespace's quota (quota.ts), its database's size (database-sizing.ts) and its database
// tier (database-tier.ts). Its own module so that those three read it without importing each other.

import type { AuthorityKind } from '../api/patterns.ts';
import type { Territory } from '../api/territory.ts';

export type QuotaProfileName = 'small' | 'medium' | 'large' | 'xlarge';

export const PROFILE_NAMES: readonly QuotaProfileName[] = ['small', 'medium', 'large', 'xlarge'];

/**
 * The profile of an authority of this kind and official population (thresholds follow INSEE's usual
 * size bands for communes and EPCIs): départements are large (xlarge past a million inhabitants),
 * régions xlarge, other bodies small.
 */
export function autoProfile(kind: AuthorityKind, population: number | undefined): QuotaProfileName {
  const pop = population ?? 0;
  switch (kind) {
    case 'region':
      return 'xlarge';
    case 'departement':
      return pop >= 1_000_000 ? 'xlarge' : 'large';
    case 'commune':
    case 'epci':
      if (pop >= 500_000) return 'xlarge';
      if (pop >= 100_000) return 'large';
      if (pop >= 10_000) return 'medium';
      return 'small';
    default:
      return 'small';
  }
}

/** spec.quota.profile, or with `auto` the profile of the authority's kind and official population. */
export function chooseProfile(t: Territory, population: number | undefined): QuotaProfileName {
  const asked = t.spec.quota.profile;
  return asked === 'auto' ? autoProfile(t.spec.authority.kind, population) : asked;
}
