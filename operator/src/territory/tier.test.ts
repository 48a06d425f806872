import { describe, expect, it } from 'vitest';
import { parseDatabasePool } from '../api/pool.ts';
import type { Territory } from '../api/territory.ts';
import { territory as fixture } from '../builders/fixtures.test-helpers.ts';
import type { QuotaProfileName } from '../builders/profile.ts';
import {
  decideTier,
  hostingMismatch,
  ownClusterFields,
  type PoolFacts,
  poolPlacement,
  poolServes,
  type TierFacts,
} from './tier.ts';

/** A small commune of Ille-et-Vilaine, hosted at the standard level anywhere in France. */
function commune(spec: Record<string, unknown> = {}, labels?: Record<string, string>): Territory {
  const t = fixture({
    name: 'acigne',
    spec: {
      authority: { kind: 'commune', code: '35001' },
      hosting: { level: 'standard' },
      ...spec,
    },
  });
  return labels ? { ...t, metadata: { ...t.metadata, labels } } : t;
}

function pool(
  name: string,
  spec: Record<string, unknown> = {},
  facts: { ready?: boolean; tenants?: number } = {},
): PoolFacts {
  const parsed = parseDatabasePool({
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'DatabasePool',
    metadata: { name },
    spec: { namespace: `db-${name}`, maxTenants: 10, serves: { departements: ['35'] }, ...spec },
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return { name, spec: parsed.pool.spec, ready: facts.ready ?? true, tenants: facts.tenants ?? 0 };
}

function decide(over: Partial<TierFacts> & { territory?: Territory; profile?: QuotaProfileName } = {}) {
  return decideTier({
    territory: commune(),
    departement: '35',
    profile: 'small',
    dedicatedClusterExists: false,
    pools: [pool('pool-35')],
    ...over,
  });
}

const summary = (d: ReturnType<typeof decideTier>) => ({
  tier: d.tier,
  reason: d.reason,
  ...(d.tier === 'Shared' ? { pool: d.pool.name } : {}),
});

describe('decideTier: a database never moves by itself', () => {
  it('keeps a database in the cluster it has, whatever the profile and the pools', () => {
    expect(summary(decide({ dedicatedClusterExists: true }))).toEqual({
      tier: 'Dedicated',
      reason: 'DedicatedClusterExists',
    });
  });

  it('says, without acting, that a spec asking for Shared would move a database that has its own cluster', () => {
    for (const database of [{ tier: 'Shared' }, { pool: 'pool-35' }]) {
      const decision = decide({ territory: commune({ database }), dedicatedClusterExists: true });
      expect(summary(decision)).toEqual({ tier: 'Dedicated', reason: 'MoveNotSupported' });
      expect(decision.message).toContain('not supported yet');
    }
  });

  it('keeps a database in its pool, full, not ready, or no longer serving its département', () => {
    for (const current of [
      pool('pool-35', {}, { tenants: 10 }),
      pool('pool-35', {}, { ready: false }),
      pool('pool-35', { serves: { departements: ['29'] } }),
    ]) {
      expect(summary(decide({ currentPool: 'pool-35', pools: [current, pool('pool-35b')] }))).toEqual({
        tier: 'Shared',
        reason: 'InPool',
        pool: 'pool-35',
      });
    }
    const named = decide({ territory: commune({ database: { pool: 'pool-35' } }), currentPool: 'pool-35' });
    expect(summary(named)).toEqual({ tier: 'Shared', reason: 'InPool', pool: 'pool-35' });
  });

  it('says, without acting, that a spec asking for another tier or pool would move a database in a pool', () => {
    for (const database of [{ tier: 'Dedicated' }, { pool: 'pool-35b' }]) {
      const decision = decide({
        territory: commune({ database }),
        currentPool: 'pool-35',
        pools: [pool('pool-35'), pool('pool-35b')],
      });
      expect(summary(decision)).toEqual({ tier: 'Shared', reason: 'MoveNotSupported', pool: 'pool-35' });
    }
  });

  it('builds nothing when the pool holding the database is gone or no longer meets its hosting', () => {
    expect(summary(decide({ currentPool: 'pool-35', pools: [] }))).toEqual({
      tier: null,
      reason: 'PoolNotFound',
    });
    const stricter = decide({
      territory: commune({ hosting: { level: 'secnumcloud' } }),
      currentPool: 'pool-35',
    });
    expect(summary(stricter)).toEqual({ tier: null, reason: 'PoolHostingMismatch' });
    expect(stricter.message).toBe(
      'the database is in pool pool-35, but pool pool-35 is hosted at level standard, and the Territory requires secnumcloud',
    );
  });

  it('keeps its own cluster over a pool while both exist (a move half done)', () => {
    expect(summary(decide({ dedicatedClusterExists: true, currentPool: 'pool-35' })).tier).toBe('Dedicated');
  });
});

describe('decideTier: what the spec names is honoured or refused', () => {
  const inRegion = { hosting: { regions: ['cloudgouv-eu-west-1'] } };

  it('gives a cluster of its own to a Territory that asks for one, whatever its profile', () => {
    expect(summary(decide({ territory: commune({ database: { tier: 'Dedicated' } }) }))).toEqual({
      tier: 'Dedicated',
      reason: 'Requested',
    });
  });

  it('puts the database in the pool named, even before the pool is ready and whatever the profile', () => {
    const decision = decide({
      territory: commune({ database: { pool: 'pool-35' } }),
      profile: 'large',
      pools: [pool('pool-35', {}, { ready: false })],
    });
    expect(summary(decision)).toEqual({ tier: 'Shared', reason: 'Requested', pool: 'pool-35' });
  });

  it.each<[string, PoolFacts[], string, string]>([
    ['does not exist', [], 'PoolNotFound', 'spec.database.pool names pool pool-35, which does not exist'],
    [
      'does not serve it',
      [pool('pool-35', { serves: { departements: ['29'] }, ...inRegion })],
      'PoolDoesNotServe',
      'spec.database.pool names pool pool-35, but pool pool-35 does not serve the Territory (département 35, and its territorySelector does not select it)',
    ],
    [
      'is full',
      [pool('pool-35', inRegion, { tenants: 10 })],
      'PoolFull',
      'spec.database.pool names pool pool-35, but pool pool-35 is full (10 of 10 tenants)',
    ],
    [
      'may run outside its regions',
      [pool('pool-35', { hosting: { regions: ['fr-par'] } })],
      'PoolHostingMismatch',
      "spec.database.pool names pool pool-35, but pool pool-35 may run in fr-par, outside the Territory's regions (cloudgouv-eu-west-1)",
    ],
  ])('refuses a named pool that %s, and builds nothing', (_what, pools, reason, message) => {
    const territory = commune({
      database: { pool: 'pool-35' },
      hosting: { regions: ['cloudgouv-eu-west-1'] },
    });
    const decision = decide({ territory, pools });
    expect(decision).toEqual({ tier: null, reason, message });
  });

  it('picks, for tier Shared, a ready pool first, then by name', () => {
    const territory = commune({ database: { tier: 'Shared' } });
    const pools = [
      pool('pool-a', {}, { ready: false }),
      pool('pool-c'),
      pool('pool-b'),
      pool('pool-0', {}, { tenants: 10 }),
    ];
    expect(summary(decide({ territory, pools }))).toEqual({
      tier: 'Shared',
      reason: 'Requested',
      pool: 'pool-b',
    });
    // Only pools not ready yet: the spec asked for Shared, so it waits for one.
    const waiting = decide({ territory, pools: [pool('pool-b', {}, { ready: false })] });
    expect(summary(waiting)).toEqual({ tier: 'Shared', reason: 'Requested', pool: 'pool-b' });
  });

  it('refuses tier Shared when no pool takes the Territory, saying why for each pool', () => {
    const decision = decide({
      territory: commune({ database: { tier: 'Shared' } }),
      pools: [pool('pool-29', { serves: { departements: ['29'] } }), pool('pool-35', {}, { tenants: 10 })],
    });
    expect(decision).toEqual({
      tier: null,
      reason: 'NoPoolServes',
      message:
        'spec.database.tier is Shared, but no pool takes the Territory: pool pool-29 does not serve the Territory ' +
        '(département 35, and its territorySelector does not select it); pool pool-35 is full (10 of 10 tenants)',
    });
  });
});

describe('decideTier: automatic', () => {
  it('gives the profiles that do not share a cluster of their own, pools or not', () => {
    for (const profile of ['medium', 'large', 'xlarge'] as const) {
      expect(summary(decide({ profile }))).toEqual({ tier: 'Dedicated', reason: 'ProfileDefault' });
    }
  });

  it('shares a small authority in a ready pool that serves its département', () => {
    const decision = decide();
    expect(summary(decision)).toEqual({ tier: 'Shared', reason: 'ProfileDefault', pool: 'pool-35' });
    expect(decision.message).toBe(
      'the small profile shares a pool by default: pool pool-35 serves the Territory',
    );
  });

  it('gives a cluster of its own to a small authority asking for what a pool cannot give', () => {
    const territory = commune({
      database: { instances: 2 },
      backup: {
        physical: { enabled: true, encryption: 'ProviderManaged' },
        destination: {
          endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
          bucket: 'acigne-backups',
          credentialsSecret: { name: 'backup-credentials' },
        },
      },
    });
    const decision = decide({ territory });
    expect(summary(decision)).toEqual({ tier: 'Dedicated', reason: 'NeedsOwnCluster' });
    expect(decision.message).toContain('(spec.backup.physical.enabled, spec.database.instances)');
  });

  it.each<[string, PoolFacts[], string]>([
    ['no pool exists', [], 'no DatabasePool exists'],
    ['the pool is full', [pool('pool-35', {}, { tenants: 10 })], 'pool pool-35 is full (10 of 10 tenants)'],
    [
      'the pool serves another département',
      [pool('pool-29', { serves: { departements: ['29'] } })],
      'pool pool-29 does not serve the Territory',
    ],
  ])('gives a small authority a cluster of its own when %s', (_what, pools, why) => {
    const decision = decide({ pools });
    expect(summary(decision)).toEqual({ tier: 'Dedicated', reason: 'NoPoolAvailable' });
    expect(decision.message).toContain(why);
  });

  it('waits for a pool that would take a small authority but is not ready yet, rather than going Dedicated for good', () => {
    const decision = decide({ pools: [pool('pool-35', {}, { ready: false })] });
    expect(summary(decision)).toEqual({ tier: null, reason: 'PoolNotReady' });
    expect(decision.message).toContain('pool pool-35 serves the Territory but is not ready yet');
    // A ready one is taken at once, a full one is no reason to wait.
    expect(summary(decide({ pools: [pool('pool-a', {}, { ready: false }), pool('pool-b')] }))).toMatchObject({
      tier: 'Shared',
      pool: 'pool-b',
    });
    expect(summary(decide({ pools: [pool('pool-a', {}, { ready: false, tenants: 10 })] }))).toEqual({
      tier: 'Dedicated',
      reason: 'NoPoolAvailable',
    });
  });

  it('shares a Territory a pool selects by label, with or without a département', () => {
    const pools = [
      pool('pilots', {
        serves: { departements: ['29'], territorySelector: { matchLabels: { pilot: 'true' } } },
      }),
    ];
    const labelled = commune({}, { pilot: 'true' });
    expect(summary(decide({ territory: labelled, pools }))).toMatchObject({ tier: 'Shared', pool: 'pilots' });
    expect(summary(decide({ territory: labelled, departement: undefined, pools }))).toMatchObject({
      pool: 'pilots',
    });
    expect(summary(decide({ territory: commune(), pools })).tier).toBe('Dedicated');
  });
});

describe('the pool’s hosting against the Territory’s', () => {
  const territory = (hosting: Record<string, unknown>) => commune({ hosting });

  it('puts a secnumcloud Territory only in a secnumcloud pool; a standard one anywhere', () => {
    const secnum = pool('p', { hosting: { level: 'secnumcloud' } });
    const standard = pool('p');
    expect(hostingMismatch(territory({ level: 'secnumcloud' }), secnum)).toBeUndefined();
    expect(hostingMismatch(territory({ level: 'secnumcloud' }), standard)).toContain('requires secnumcloud');
    expect(hostingMismatch(territory({ level: 'standard' }), secnum)).toBeUndefined();
  });

  it('puts a Territory naming regions only in a pool whose regions are all among them', () => {
    const t = territory({ regions: ['a', 'b'] });
    expect(hostingMismatch(t, pool('p', { hosting: { regions: ['a'] } }))).toBeUndefined();
    expect(hostingMismatch(t, pool('p', { hosting: { regions: ['a', 'b'] } }))).toBeUndefined();
    expect(hostingMismatch(t, pool('p', { hosting: { regions: ['a', 'c'] } }))).toContain('may run in c');
    expect(hostingMismatch(t, pool('p'))).toContain('may run in any French region');
    expect(hostingMismatch(territory({}), pool('p', { hosting: { regions: ['c'] } }))).toBeUndefined();
  });
});

describe('poolServes', () => {
  it('takes the listed départements, and what the selector matches (either is enough)', () => {
    const both = pool('p', {
      serves: { departements: ['35'], territorySelector: { matchLabels: { x: 'y' } } },
    });
    expect(poolServes(both, commune(), '35')).toBe(true);
    expect(poolServes(both, commune({}, { x: 'y' }), '29')).toBe(true);
    expect(poolServes(both, commune(), '29')).toBe(false);
    expect(poolServes(both, commune(), undefined)).toBe(false);
  });
});

describe('ownClusterFields', () => {
  it('is empty for a Territory a pool can hold', () => {
    expect(ownClusterFields(commune())).toEqual([]);
  });
});

describe('poolPlacement', () => {
  it('gives the builders the pool, its namespace and its CA once read', () => {
    const p = pool('pool-35');
    expect(poolPlacement(p)).toEqual({ name: 'pool-35', namespace: 'db-pool-35', spec: p.spec });
    expect(poolPlacement(p, 'PEM').serverCa).toBe('PEM');
  });
});
