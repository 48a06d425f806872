// The default tiers and the national plan's arithmetic, on inputs small enough to check by hand.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TIERS,
  type PlannedAuthority,
  planFootprint,
  SHARED_POOL,
  sharedPoolSize,
} from './database-tier.ts';

const Mi = 2 ** 20;
const Gi = 2 ** 30;

describe('the default tiers', () => {
  it('share the small authorities only', () => {
    expect(DEFAULT_TIERS).toEqual({
      small: 'Shared',
      medium: 'Dedicated',
      large: 'Dedicated',
      xlarge: 'Dedicated',
    });
  });
});

describe('sharedPoolSize', () => {
  it('grows from its base by a share per tenant, in whole units', () => {
    expect(sharedPoolSize(0)).toEqual({
      instances: 2,
      storage: '10Gi',
      requests: { cpu: '500m', memory: '1024Mi' },
    });
    expect(sharedPoolSize(100)).toEqual({
      instances: 2,
      storage: '110Gi',
      requests: { cpu: '1000m', memory: '2624Mi' },
    });
    expect(SHARED_POOL.instances).toBe(2);
  });
});

describe('planFootprint', () => {
  const authorities: PlannedAuthority[] = [
    { kind: 'commune', code: '35001', population: 800, departement: '35' }, // small
    { kind: 'commune', code: '35002', population: 5_000, departement: '35' }, // small
    { kind: 'commune', code: '35003', population: 20_000, departement: '35' }, // medium
    { kind: 'commune', code: '29001', population: 300, departement: '29' }, // small
    { kind: 'epci', code: '243500139', population: 150_000, departement: '35' }, // large
    { kind: 'departement', code: '35', population: 1_100_000, departement: '35' }, // xlarge
    { kind: 'region', code: '53', population: 3_400_000 }, // xlarge
  ];
  const plan = planFootprint(authorities);

  it('puts the small authorities in one pool per département, each pool sized by its tenants', () => {
    // Pool 35: 2 tenants, 2 instances of 510m, 1056Mi, 12Gi. Pool 29: 1 tenant, 2 of 505m, 1040Mi, 11Gi.
    expect(plan.tiers.Shared).toEqual({
      authorities: 3,
      clusters: 2,
      pods: 4,
      cpuMillicores: 2 * 510 + 2 * 505,
      memoryBytes: 2 * 1056 * Mi + 2 * 1040 * Mi,
      storageBytes: 2 * 12 * Gi + 2 * 11 * Gi,
    });
    expect(plan.pools).toEqual({ count: 2, largest: { pool: '35', tenants: 2 } });
    // Instead of 1 × (250m, 512Mi, 5Gi) each.
    expect(plan.sharedAsDedicated).toEqual({
      authorities: 3,
      clusters: 3,
      pods: 3,
      cpuMillicores: 3 * 250,
      memoryBytes: 3 * 512 * Mi,
      storageBytes: 3 * 5 * Gi,
    });
  });

  it('gives every other authority its own cluster, sized by its profile', () => {
    // Medium 1 × (500m, 2Gi, 20Gi); large 2 × (1, 4Gi, 100Gi); two xlarge 3 × (2, 8Gi, 500Gi).
    expect(plan.tiers.Dedicated).toEqual({
      authorities: 4,
      clusters: 4,
      pods: 1 + 2 + 3 + 3,
      cpuMillicores: 500 + 2 * 1000 + 2 * 3 * 2000,
      memoryBytes: (2 + 2 * 4 + 2 * 3 * 8) * Gi,
      storageBytes: (20 + 2 * 100 + 2 * 3 * 500) * Gi,
    });
  });

  it('adds the tiers up, and compares with a dedicated cluster for everyone', () => {
    expect(plan.total).toEqual({
      authorities: 7,
      clusters: 6,
      pods: 13,
      cpuMillicores: 2030 + 14_500,
      memoryBytes: 4192 * Mi + 58 * Gi,
      storageBytes: 46 * Gi + 3220 * Gi,
    });
    // The three small ones with 1 × (250m, 512Mi, 5Gi) each instead of the pools.
    expect(plan.dedicatedOnly).toEqual({
      authorities: 7,
      clusters: 7,
      pods: 12,
      cpuMillicores: 14_500 + 3 * 250,
      memoryBytes: 58 * Gi + 3 * 512 * Mi,
      storageBytes: (3220 + 3 * 5) * Gi,
    });
  });

  it('counts each profile with its tier', () => {
    expect(plan.profiles).toEqual({
      small: { authorities: 3, tier: 'Shared' },
      medium: { authorities: 1, tier: 'Dedicated' },
      large: { authorities: 1, tier: 'Dedicated' },
      xlarge: { authorities: 2, tier: 'Dedicated' },
    });
  });

  it('plans nothing for no authority', () => {
    const empty = planFootprint([]);
    expect(empty.total).toEqual(empty.dedicatedOnly);
    expect(empty.total.pods).toBe(0);
    expect(empty.pools).toEqual({ count: 0 });
  });
});
