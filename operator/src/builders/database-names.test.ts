import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BACKUP_ROLE,
  backupRole,
  databaseName,
  IDENTIFIER_MAX,
  ownerRole,
  purposeRole,
  sharedNames,
  tenantKey,
} from './database-names.ts';
import { context, inPool, territory } from './fixtures.test-helpers.ts';

/** Every name a Territory with these purposes has in a pool. */
const namesOf = (territoryName: string, purposes: string[]) => {
  const names = sharedNames(territoryName);
  return [names.database, names.owner, names.backup, ...purposes.map((p) => names.purpose(p))];
};

/** What PostgreSQL takes unquoted, and keeps whole. */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** Territory names (DNS labels, at most 63 characters), `--` included. */
const territoryName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
const purposeName = fc.stringMatching(/^[a-z]([a-z0-9-]{0,29}[a-z0-9])?$/);

describe('the names of a Territory in its own cluster', () => {
  it('are the names every live database has', () => {
    const ctx = context(territory());
    expect(databaseName(ctx)).toBe('rennes_metropole');
    expect(ownerRole(ctx)).toBe('rennes_metropole_owner');
    expect(purposeRole(ctx, 'waste-collection')).toBe('purpose_waste_collection');
    expect(backupRole(ctx)).toBe(BACKUP_ROLE);
    expect(BACKUP_ROLE).toBe('territory_backup');
  });
});

describe('the names of a Territory in a pool', () => {
  it('carry the Territory, with the kind after a double underscore', () => {
    const ctx = inPool(context(territory()));
    expect(databaseName(ctx)).toBe('t_rennes_metropole');
    expect(ownerRole(ctx)).toBe('t_rennes_metropole__owner');
    expect(purposeRole(ctx, 'waste-collection')).toBe('t_rennes_metropole__p_waste_collection');
    expect(backupRole(ctx)).toBe('t_rennes_metropole__backup');
  });

  it('never give one Territory a name of another, where a single separator would', () => {
    // With `_owner` as the suffix, Territory x-owner's database would be Territory x's owner role.
    expect(namesOf('x', ['b'])).not.toContain(sharedNames('x-owner').database);
    expect(sharedNames('x').owner).toBe('t_x__owner');
    expect(sharedNames('x-owner').database).toBe('t_x_owner');
    // Nor can a purpose of one be another's role.
    expect(namesOf('a', ['p-b'])).not.toContain(sharedNames('a-p').purpose('b'));
  });

  it('fit in 63 bytes as unquoted identifiers, however long the names', () => {
    const long = `${'saint-remy-en-bouzemont-saint-genest-et-isson-'.repeat(2)}`
      .slice(0, 63)
      .replace(/-$/, 'x');
    const purposes = ['a'.repeat(31), `b${'-c'.repeat(15)}`, 'mobility'];
    for (const name of [long, 'a', 'x--y', `${'a'.repeat(40)}`, `${'a'.repeat(41)}`]) {
      for (const role of namesOf(name, purposes)) {
        expect(role.length, role).toBeLessThanOrEqual(IDENTIFIER_MAX);
        expect(role, role).toMatch(IDENTIFIER);
      }
    }
    expect(tenantKey('a'.repeat(40))).toBe('a'.repeat(40));
    expect(tenantKey('a'.repeat(41))).toMatch(/^a{27}_[0-9a-f]{12}$/);
    expect(tenantKey('x--y')).toMatch(/^x_y_[0-9a-f]{12}$/);
  });

  it('keep apart long names that share their first characters', () => {
    const prefix = 'communaute-de-communes-du-pays-de-';
    expect(tenantKey(`${prefix}chateaugiron`)).not.toBe(tenantKey(`${prefix}chateaubourg`));
    const names = sharedNames('acigne');
    const long = (suffix: string) => `${'x'.repeat(28)}-${suffix}`;
    expect(names.purpose(long('one'))).not.toBe(names.purpose(long('two')));
  });

  it('are valid identifiers of at most 63 bytes for any Territory and purpose', () => {
    fc.assert(
      fc.property(territoryName, fc.array(purposeName, { maxLength: 5 }), (name, purposes) => {
        for (const role of namesOf(name, purposes)) {
          expect(role.length).toBeLessThanOrEqual(IDENTIFIER_MAX);
          expect(role).toMatch(IDENTIFIER);
        }
      }),
    );
  });

  it('cut back into the Territory and the kind: two Territories never share a name', () => {
    fc.assert(
      fc.property(
        territoryName,
        territoryName,
        fc.array(purposeName, { maxLength: 4 }),
        fc.array(purposeName, { maxLength: 4 }),
        (a, b, purposesOfA, purposesOfB) => {
          fc.pre(a !== b);
          const ofA = new Set(namesOf(a, purposesOfA));
          expect(namesOf(b, purposesOfB).filter((n) => ofA.has(n))).toEqual([]);
        },
      ),
    );
  });

  it('name the group role exactly like the database, and no other role without a double underscore', () => {
    fc.assert(
      fc.property(territoryName, purposeName, (name, purpose) => {
        const names = sharedNames(name);
        expect(names.database.includes('__')).toBe(false);
        for (const role of [names.owner, names.backup, names.purpose(purpose)]) {
          expect(role.startsWith(`${names.database}__`)).toBe(true);
        }
      }),
    );
  });
});
