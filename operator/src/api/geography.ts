// Official French geography (découpage administratif, INSEE + BANATIC data as shipped by
// @etalab/decoupage-administratif): does an authority code exist, and what is its official name,
// département, région, population and SIREN?
//
// The JSON files are read directly (the package's index.js resolves paths from the working
// directory and breaks elsewhere), once, on first use, and indexed in Maps: ~35,000 communes take
// a few hundred milliseconds to load, which an operator pays once and a CLI only when it asks.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { AUTHORITY_CODE_PATTERNS, type AuthorityKind } from './patterns.ts';

export type AuthorityFound = {
  found: true;
  kind: AuthorityKind;
  code: string;
  officialName: string;
  departement?: string;
  region?: string;
  population?: number;
  siren?: string;
  /** Set when the answer is weaker than an official list match (syndicats). */
  note?: string;
};

export type AuthorityNotFound = {
  found: false;
  reason: 'InvalidCode' | 'UnknownCode' | 'InvalidSiren' | 'NameRequired';
  message: string;
};

export type AuthorityLookup = AuthorityFound | AuthorityNotFound;

type CommuneRecord = {
  code: string;
  nom: string;
  type: string;
  departement?: string;
  region?: string;
  siren?: string;
  population?: number;
};
type EpciRecord = { code: string; nom: string; populationTotale?: number; membres: { code: string }[] };
type DepartementRecord = { code: string; nom: string; region?: string; zone?: string };
type RegionRecord = { code: string; nom: string; zone?: string };

type Entry = Omit<AuthorityFound, 'found' | 'kind' | 'note'>;

type Geography = {
  communes: Map<string, Entry>;
  epcis: Map<string, Entry>;
  departements: Map<string, Entry>;
  regions: Map<string, Entry>;
};

let geography: Geography | undefined;

function readData<T>(file: string): T[] {
  // createRequire rather than import.meta.resolve: it also works under the test runner's loader.
  const path = createRequire(import.meta.url).resolve(`@etalab/decoupage-administratif/data/${file}`);
  return JSON.parse(readFileSync(path, 'utf8')) as T[];
}

function load(): Geography {
  // Only current communes: merged-away (déléguée, associée) ones and Paris/Lyon/Marseille
  // arrondissements are not local authorities of their own.
  const communeRecords = readData<CommuneRecord>('communes.json').filter(
    (c) => c.type === 'commune-actuelle',
  );
  const communes = new Map<string, Entry>();
  const populationByDepartement = new Map<string, number>();
  const populationByRegion = new Map<string, number>();
  for (const c of communeRecords) {
    communes.set(c.code, {
      code: c.code,
      officialName: c.nom,
      ...(c.departement === undefined ? {} : { departement: c.departement }),
      ...(c.region === undefined ? {} : { region: c.region }),
      ...(c.population === undefined ? {} : { population: c.population }),
      ...(c.siren === undefined ? {} : { siren: c.siren }),
    });
    const population = c.population ?? 0;
    if (c.departement !== undefined) {
      populationByDepartement.set(
        c.departement,
        (populationByDepartement.get(c.departement) ?? 0) + population,
      );
    }
    if (c.region !== undefined) {
      populationByRegion.set(c.region, (populationByRegion.get(c.region) ?? 0) + population);
    }
  }

  const epcis = new Map<string, Entry>();
  for (const e of readData<EpciRecord>('epci.json')) {
    const home = homeOf(e, communes);
    epcis.set(e.code, {
      code: e.code,
      officialName: e.nom,
      siren: e.code,
      ...(e.populationTotale === undefined ? {} : { population: e.populationTotale }),
      ...home,
    });
  }

  // Overseas collectivities (zone "com": Saint-Pierre-et-Miquelon, Polynésie...) are listed with
  // département- and région-like codes but are neither: they are not accepted as such.
  const departements = new Map<string, Entry>();
  for (const d of readData<DepartementRecord>('departements.json')) {
    if (d.zone === 'com') continue;
    departements.set(d.code, {
      code: d.code,
      officialName: d.nom,
      departement: d.code,
      ...(d.region === undefined ? {} : { region: d.region }),
      ...populationOf(populationByDepartement.get(d.code)),
    });
  }
  const regions = new Map<string, Entry>();
  for (const r of readData<RegionRecord>('regions.json')) {
    if (r.zone === 'com') continue;
    regions.set(r.code, {
      code: r.code,
      officialName: r.nom,
      region: r.code,
      ...populationOf(populationByRegion.get(r.code)),
    });
  }
  return { communes, epcis, departements, regions };
}

function populationOf(population: number | undefined): { population?: number } {
  return population === undefined ? {} : { population };
}

/**
 * An EPCI's département and région are not in the data: take those of the member communes that
 * hold most of its population (an EPCI may straddle two départements, rarely two régions).
 */
function homeOf(epci: EpciRecord, communes: Map<string, Entry>): { departement?: string; region?: string } {
  const weightByDepartement = new Map<string, { weight: number; region?: string }>();
  for (const member of epci.membres) {
    const commune = communes.get(member.code);
    if (commune?.departement === undefined) continue;
    const current = weightByDepartement.get(commune.departement) ?? { weight: 0 };
    weightByDepartement.set(commune.departement, {
      weight: current.weight + (commune.population ?? 0) + 1,
      ...(commune.region === undefined ? {} : { region: commune.region }),
    });
  }
  let best: { departement: string; region?: string } | undefined;
  let bestWeight = -1;
  for (const [departement, { weight, region }] of weightByDepartement) {
    if (weight > bestWeight) {
      bestWeight = weight;
      best = { departement, ...(region === undefined ? {} : { region }) };
    }
  }
  return best ?? {};
}

function data(): Geography {
  geography ??= load();
  return geography;
}

/**
 * SIREN numbers end with a Luhn check digit, so a mistyped SIREN is caught even where there is no
 * official list to look it up in (syndicats).
 */
export function isValidSiren(siren: string): boolean {
  if (!/^[0-9]{9}$/.test(siren)) return false;
  let sum = 0;
  for (let index = 0; index < 9; index++) {
    let digit = Number(siren[8 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

const KIND_LABELS: Record<AuthorityKind, string> = {
  commune: 'commune',
  epci: 'EPCI',
  departement: 'département',
  region: 'région',
  syndicat: 'syndicat',
};

/**
 * Look an authority up in the official geography. For a syndicat there is no official list in this
 * data: any SIREN with a valid check digit is accepted, named by `displayName`, with a note saying so.
 */
export function lookupAuthority(kind: AuthorityKind, code: string, displayName?: string): AuthorityLookup {
  if (!AUTHORITY_CODE_PATTERNS[kind].test(code)) {
    return {
      found: false,
      reason: 'InvalidCode',
      message: `${code} is not a valid code for a ${KIND_LABELS[kind]}`,
    };
  }
  if (kind === 'syndicat') {
    if (!isValidSiren(code)) {
      return {
        found: false,
        reason: 'InvalidSiren',
        message: `${code} is not a valid SIREN (wrong check digit)`,
      };
    }
    if (displayName === undefined || displayName === '') {
      return {
        found: false,
        reason: 'NameRequired',
        message:
          'a syndicat needs spec.authority.displayName: there is no official list to take its name from',
      };
    }
    return {
      found: true,
      kind,
      code,
      officialName: displayName,
      siren: code,
      note: 'syndicats are not in the official geography data: only the SIREN check digit was verified',
    };
  }
  const geo = data();
  const index = {
    commune: geo.communes,
    epci: geo.epcis,
    departement: geo.departements,
    region: geo.regions,
  }[kind];
  const entry = index.get(code);
  if (entry === undefined) {
    return {
      found: false,
      reason: 'UnknownCode',
      message: `no ${KIND_LABELS[kind]} with code ${code} in the official geography (découpage administratif)`,
    };
  }
  return { found: true, kind, ...entry };
}
