// Runs on the real official data shipped by @etalab/decoupage-administratif, read here
// independently of geography.ts so the test does not check the module against itself.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidSiren, listAuthorities, lookupAuthority } from './geography.ts';
import { AUTHORITY_CODE_PATTERNS } from './territory.ts';

type Raw = { code: string; nom: string; type?: string; zone?: string; siren?: string; population?: number };

function raw(file: string): Raw[] {
  const path = createRequire(import.meta.url).resolve(`@etalab/decoupage-administratif/data/${file}`);
  return JSON.parse(readFileSync(path, 'utf8')) as Raw[];
}

const communes = raw('communes.json').filter((c) => c.type === 'commune-actuelle');
const epcis = raw('epci.json');
const departements = raw('departements.json').filter((d) => d.zone !== 'com');
const regions = raw('regions.json').filter((r) => r.zone !== 'com');

describe('listAuthorities', () => {
  const listed = listAuthorities();

  it('lists every current commune, EPCI, département and région once', () => {
    const count = (kind: string) => listed.filter((a) => a.kind === kind).length;
    expect([count('commune'), count('epci'), count('departement'), count('region')]).toEqual([
      communes.length,
      epcis.length,
      departements.length,
      regions.length,
    ]);
    expect(new Set(listed.map((a) => `${a.kind} ${a.code}`)).size).toBe(listed.length);
  });

  it('says of each what lookupAuthority says: population and département', () => {
    const sample = listed.filter((_, index) => index % 97 === 0);
    for (const a of sample) {
      const found = lookupAuthority(a.kind, a.code);
      if (!found.found) expect.fail(`${a.kind} ${a.code} is not found`);
      expect({ population: a.population, departement: a.departement }, `${a.kind} ${a.code}`).toEqual({
        population: found.population,
        departement: found.departement,
      });
    }
    expect(listed.find((a) => a.kind === 'epci' && a.code === '243500139')).toMatchObject({
      departement: '35',
    });
    expect(listed.find((a) => a.kind === 'region' && a.code === '53')?.departement).toBeUndefined();
  });

  it('gives every EPCI a home département', () => {
    expect(listed.filter((a) => a.kind === 'epci' && a.departement === undefined)).toEqual([]);
  });
});

describe('lookupAuthority on the official data', () => {
  it('has the sizes the official data announces', () => {
    expect(communes.length).toBe(34969);
    expect(epcis.length).toBe(1255);
    expect(departements.length).toBe(101);
    expect(regions.length).toBe(18);
  });

  it('resolves every EPCI SIREN to its official name and population', () => {
    for (const epci of epcis) {
      const found = lookupAuthority('epci', epci.code);
      expect(found, epci.code).toMatchObject({ found: true, officialName: epci.nom, siren: epci.code });
      if (found.found) expect(found.departement, epci.code).toMatch(AUTHORITY_CODE_PATTERNS.departement);
    }
  });

  it('resolves every current commune, and every commune code matches the schema pattern', () => {
    for (const commune of communes) {
      expect(commune.code).toMatch(AUTHORITY_CODE_PATTERNS.commune);
      const found = lookupAuthority('commune', commune.code);
      if (!found.found || found.officialName !== commune.nom || found.siren !== commune.siren) {
        expect.fail(`commune ${commune.code} (${commune.nom}) resolved to ${JSON.stringify(found)}`);
      }
    }
  });

  it('resolves the 101 départements and 18 régions', () => {
    for (const d of departements) {
      expect(d.code).toMatch(AUTHORITY_CODE_PATTERNS.departement);
      expect(lookupAuthority('departement', d.code)).toMatchObject({ found: true, officialName: d.nom });
    }
    for (const r of regions) {
      expect(r.code).toMatch(AUTHORITY_CODE_PATTERNS.region);
      expect(lookupAuthority('region', r.code)).toMatchObject({ found: true, officialName: r.nom });
    }
  });

  it('gives Rennes Métropole its département, région and population', () => {
    expect(lookupAuthority('epci', '243500139')).toEqual({
      found: true,
      kind: 'epci',
      code: '243500139',
      officialName: 'Rennes Métropole',
      siren: '243500139',
      departement: '35',
      region: '53',
      population: expect.any(Number),
    });
    const bretagne = lookupAuthority('region', '53');
    const ille = lookupAuthority('departement', '35');
    if (!bretagne.found || !ille.found) throw new Error('Bretagne and Ille-et-Vilaine must exist');
    expect(ille.population).toBeGreaterThan(1_000_000);
    expect(bretagne.population).toBeGreaterThan(ille.population ?? 0);
  });

  it('finds no made-up commune or EPCI code', () => {
    const communeCodes = new Set(communes.map((c) => c.code));
    const epciCodes = new Set(epcis.map((e) => e.code));
    fc.assert(
      fc.property(fc.stringMatching(/^([0-9]{2}|2A|2B)[0-9]{3}$/), (code) => {
        expect(lookupAuthority('commune', code).found).toBe(communeCodes.has(code));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{9}$/), (code) => {
        expect(lookupAuthority('epci', code).found).toBe(epciCodes.has(code));
      }),
      { numRuns: 2000 },
    );
    expect(lookupAuthority('commune', '35999')).toMatchObject({ found: false, reason: 'UnknownCode' });
    expect(lookupAuthority('departement', '20')).toMatchObject({ found: false, reason: 'UnknownCode' });
    expect(lookupAuthority('region', '99')).toMatchObject({ found: false, reason: 'UnknownCode' });
  });

  it('refuses overseas collectivities as départements and codes of the wrong shape', () => {
    expect(lookupAuthority('departement', '975')).toMatchObject({ found: false, reason: 'UnknownCode' });
    expect(lookupAuthority('departement', '988')).toMatchObject({ found: false, reason: 'InvalidCode' });
    expect(lookupAuthority('commune', '243500139')).toMatchObject({ found: false, reason: 'InvalidCode' });
  });
});

describe('syndicats', () => {
  it('accepts a SIREN with a valid check digit, named by displayName, with a note', () => {
    const found = lookupAuthority('syndicat', '253514491', 'Syndicat mixte de test');
    expect(found).toMatchObject({ found: true, officialName: 'Syndicat mixte de test', siren: '253514491' });
    if (found.found) expect(found.note).toMatch(/not in the official geography/);
  });

  it('rejects a wrong check digit and a missing name', () => {
    expect(lookupAuthority('syndicat', '253514492', 'X')).toMatchObject({
      found: false,
      reason: 'InvalidSiren',
    });
    expect(lookupAuthority('syndicat', '253514491')).toMatchObject({ found: false, reason: 'NameRequired' });
  });

  it('SIREN check digits: every official EPCI and commune SIREN passes, one changed digit fails', () => {
    for (const siren of [
      ...epcis.map((e) => e.code),
      ...communes.flatMap((c) => (c.siren ? [c.siren] : [])),
    ]) {
      if (!isValidSiren(siren)) expect.fail(`official SIREN ${siren} fails the check digit`);
    }
    fc.assert(
      fc.property(
        fc.constantFrom(...epcis.map((e) => e.code)),
        fc.nat(8),
        fc.integer({ min: 1, max: 9 }),
        (siren, at, add) => {
          const changed = siren.slice(0, at) + String((Number(siren[at]) + add) % 10) + siren.slice(at + 1);
          expect(isValidSiren(changed)).toBe(false);
        },
      ),
    );
  });
});
