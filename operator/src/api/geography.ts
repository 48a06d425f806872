// Official French geography (découpage administratif, INSEE + BANATIC data as shipped by
// @etalab/decoupage-administratif): does an authority code exist, and what is its official name,
// département, région, population and SIREN?
//
// The JSON files are read directly (the package's index.js resolves paths from the working
// directory and breaks elsewhere), on first use, and only those the asked kind needs (every kind
// needs the communes: they give EPCIs their home and départements and régions their population).
// JSON.parse of the whole files and one object per commune raised the operator's peak RSS by
// 55-75 MB; instead the files are streamed (json-records.ts) and only the answered fields are
// kept, as UTF-8 bytes in one column per field, outside the JS heap: all kinds loaded cost ~7 MB
// of peak RSS and keep under 4 MB.

import { createRequire } from 'node:module';
import { type RecordView, sameBytes, scanFileRecords } from './json-records.ts';
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

type Entry = Omit<AuthorityFound, 'found' | 'kind' | 'note'>;

/**
 * Strings stored end to end as UTF-8 in one growing buffer, for a column of 35,000 names: no string
 * object per row, outside the JS heap, decoded only for the row a lookup answers.
 */
class TextColumn {
  #bytes = Buffer.alloc(16 * 1024);
  #used = 0;
  /** Where each row's value ends in #bytes; ~end (negative) for a row without a value. */
  #ends = new Int32Array(1024);
  #rows = 0;
  #slots: Int32Array | undefined;
  #scratch = Buffer.alloc(16);

  /** Appends the record's `field`, copied as bytes: no string is made while loading. */
  pushField(record: RecordView, field: string): void {
    const room = record.byteLength(field);
    if (room >= 0) {
      this.#reserve(room);
      this.#used += record.copyString(field, this.#bytes, this.#used);
    }
    this.#end(room >= 0);
  }

  push(value: string | undefined): void {
    if (value !== undefined) {
      this.#reserve(Buffer.byteLength(value));
      this.#used += this.#bytes.write(value, this.#used, 'utf8');
    }
    this.#end(value !== undefined);
  }

  get size(): number {
    return this.#rows;
  }

  get(row: number): string | undefined {
    if (row >= this.#rows || (this.#ends[row] ?? -1) < 0) return undefined;
    return this.#bytes.toString('utf8', this.#start(row), this.#ends[row]);
  }

  /** The row holding `value` (the last one if several do), or undefined. */
  rowOfText(value: string): number | undefined {
    const length = Buffer.byteLength(value);
    if (length > this.#scratch.length) this.#scratch = Buffer.alloc(length);
    this.#scratch.write(value, 0, 'utf8');
    return this.rowOf(this.#scratch, 0, length);
  }

  /**
   * The row holding the UTF-8 value bytes[start, end), or undefined. Instead of a Map with a
   * string key per row, an open-addressing hash table of row numbers over the bytes already
   * stored, built on first use after loading.
   */
  rowOf(bytes: Buffer, start: number, end: number): number | undefined {
    this.#slots ??= this.#index();
    const slots = this.#slots;
    for (let slot = this.#hash(bytes, start, end) & (slots.length - 1); ; ) {
      const row = (slots[slot] ?? 0) - 1;
      if (row < 0) return undefined;
      if (this.#equals(row, bytes, start, end)) return row;
      slot = (slot + 1) & (slots.length - 1);
    }
  }

  /** Row + 1 per slot, 0 when empty; at most half full so that probes stay short. */
  #index(): Int32Array {
    let size = 16;
    while (size < this.#rows * 2) size *= 2;
    const slots = new Int32Array(size);
    for (let row = 0; row < this.#rows; row++) {
      const end = this.#ends[row] ?? -1;
      if (end < 0) continue;
      const start = this.#start(row);
      for (let slot = this.#hash(this.#bytes, start, end) & (size - 1); ; slot = (slot + 1) & (size - 1)) {
        const other = (slots[slot] ?? 0) - 1;
        if (other < 0 || this.#equals(other, this.#bytes, start, end)) {
          slots[slot] = row + 1;
          break;
        }
      }
    }
    return slots;
  }

  /** FNV-1a. */
  #hash(bytes: Buffer, start: number, end: number): number {
    let hash = 0x811c9dc5;
    for (let at = start; at < end; at++) hash = Math.imul(hash ^ (bytes[at] ?? 0), 0x01000193);
    return hash >>> 0;
  }

  #equals(row: number, bytes: Buffer, start: number, end: number): boolean {
    return sameBytes(this.#bytes, this.#start(row), this.#ends[row] ?? 0, bytes, start, end);
  }

  #start(row: number): number {
    const previous = row === 0 ? 0 : (this.#ends[row - 1] ?? 0);
    return previous < 0 ? ~previous : previous;
  }

  #reserve(bytes: number): void {
    if (this.#used + bytes <= this.#bytes.length) return;
    const larger = Buffer.alloc(Math.max(this.#bytes.length * 2, this.#used + bytes));
    this.#bytes.copy(larger, 0, 0, this.#used);
    this.#bytes = larger;
  }

  #end(present: boolean): void {
    if (this.#rows === this.#ends.length) {
      const larger = new Int32Array(this.#ends.length * 2);
      larger.set(this.#ends);
      this.#ends = larger;
    }
    this.#ends[this.#rows++] = present ? this.#used : ~this.#used;
    this.#slots = undefined;
  }
}

/**
 * Few distinct values over many rows (département and région codes): each row holds the index of
 * its value in a short list, so reading one back, 35,000 times for the EPCIs' homes, makes nothing.
 */
class CodeColumn {
  readonly #values: string[] = [];
  readonly #ids = new Map<string, number>();
  /** Index in #values + 1 per row, 0 for a row without a value. */
  #rows = new Int32Array(1024);
  #size = 0;

  pushField(record: RecordView, field: string): void {
    let id = 0;
    if (record.byteLength(field) >= 0) {
      // Communes come by département: the previous row's value is compared as bytes, and a string
      // is made only when the value changes.
      const previous = this.#size > 0 ? (this.#rows[this.#size - 1] ?? 0) : 0;
      const same = previous > 0 && record.is(field, this.#values[previous - 1] ?? '');
      id = same ? previous : this.#idOf(record.string(field) ?? '');
    }
    this.#push(id);
  }

  push(value: string | undefined): void {
    this.#push(value === undefined ? 0 : this.#idOf(value));
  }

  get(row: number): string | undefined {
    const id = row < this.#size ? (this.#rows[row] ?? 0) : 0;
    return id > 0 ? this.#values[id - 1] : undefined;
  }

  #idOf(value: string): number {
    let id = this.#ids.get(value);
    if (id === undefined) {
      id = this.#values.push(value);
      this.#ids.set(value, id);
    }
    return id;
  }

  #push(id: number): void {
    if (this.#size === this.#rows.length) {
      const larger = new Int32Array(this.#rows.length * 2);
      larger.set(this.#rows);
      this.#rows = larger;
    }
    this.#rows[this.#size++] = id;
  }
}

/** Numbers in a Float64Array, NaN for a row without one. */
class NumberColumn {
  #values = new Float64Array(1024);
  #rows = 0;

  push(value: number | undefined): void {
    if (this.#rows === this.#values.length) {
      const larger = new Float64Array(this.#values.length * 2);
      larger.set(this.#values);
      this.#values = larger;
    }
    this.#values[this.#rows++] = value ?? Number.NaN;
  }

  get(row: number): number | undefined {
    const value = this.#values[row];
    return value === undefined || Number.isNaN(value) || row >= this.#rows ? undefined : value;
  }
}

/** Communes or EPCIs: one compact column per field, rows found by code. */
class Table {
  /** Every row has one; a code listed twice answers with its last row, as a Map of records did. */
  readonly codes = new TextColumn();
  readonly names = new TextColumn();
  readonly departements = new CodeColumn();
  readonly regions = new CodeColumn();
  readonly populations = new NumberColumn();
  readonly sirens = new TextColumn();

  get size(): number {
    return this.codes.size;
  }
}

function scanData(file: string, fields: readonly string[], onRecord: (record: RecordView) => void): void {
  // createRequire rather than import.meta.resolve: it also works under the test runner's loader.
  const path = createRequire(import.meta.url).resolve(`@etalab/decoupage-administratif/data/${file}`);
  scanFileRecords(path, fields, onRecord);
}

let communes: Table | undefined;
let epcis: Table | undefined;
let departements: Map<string, Entry> | undefined;
let regions: Map<string, Entry> | undefined;

function communeTable(): Table {
  communes ??= loadCommunes();
  return communes;
}

function loadCommunes(): Table {
  const table = new Table();
  const fields = ['code', 'nom', 'type', 'departement', 'region', 'siren', 'population'];
  scanData('communes.json', fields, (c) => {
    // Only current communes: merged-away (déléguée, associée) ones and Paris/Lyon/Marseille
    // arrondissements are not local authorities of their own.
    if (!c.is('type', 'commune-actuelle')) return;
    if (c.byteLength('code') < 0 || c.byteLength('nom') < 0) return;
    table.codes.pushField(c, 'code');
    table.names.pushField(c, 'nom');
    table.departements.pushField(c, 'departement');
    table.regions.pushField(c, 'region');
    table.populations.push(c.number('population'));
    table.sirens.pushField(c, 'siren');
  });
  return table;
}

/** EPCIs need the communes too: their département and région come from their members'. */
function loadEpcis(): Table {
  const communes = communeTable();
  const table = new Table();
  scanData('epci.json', ['code', 'nom', 'populationTotale', 'membres.code'], (e) => {
    if (e.byteLength('code') < 0 || e.byteLength('nom') < 0) return;
    const home = homeOf(e, communes);
    table.codes.pushField(e, 'code');
    table.names.pushField(e, 'nom');
    table.departements.push(home?.departement);
    table.regions.push(home?.region);
    // No SIREN column: an EPCI's SIREN is its code.
    table.populations.push(e.number('populationTotale'));
  });
  return table;
}

/** Sums the population of the current communes by département or région (absent: counted 0). */
function populationBy(column: 'departements' | 'regions'): Map<string, number> {
  const table = communeTable();
  const sums = new Map<string, number>();
  for (let row = 0; row < table.size; row++) {
    const key = table[column].get(row);
    if (key !== undefined) sums.set(key, (sums.get(key) ?? 0) + (table.populations.get(row) ?? 0));
  }
  return sums;
}

// Overseas collectivities (zone "com": Saint-Pierre-et-Miquelon, Polynésie...) are listed with
// département- and région-like codes but are neither: they are not accepted as such.

function loadDepartements(): Map<string, Entry> {
  const populationByDepartement = populationBy('departements');
  const entries = new Map<string, Entry>();
  scanData('departements.json', ['code', 'nom', 'region', 'zone'], (d) => {
    const code = d.string('code');
    const officialName = d.string('nom');
    if (d.is('zone', 'com') || code === undefined || officialName === undefined) return;
    const region = d.string('region');
    entries.set(code, {
      code,
      officialName,
      departement: code,
      ...(region === undefined ? {} : { region }),
      ...populationOf(populationByDepartement.get(code)),
    });
  });
  return entries;
}

function loadRegions(): Map<string, Entry> {
  const populationByRegion = populationBy('regions');
  const entries = new Map<string, Entry>();
  scanData('regions.json', ['code', 'nom', 'zone'], (r) => {
    const code = r.string('code');
    const officialName = r.string('nom');
    if (r.is('zone', 'com') || code === undefined || officialName === undefined) return;
    entries.set(code, { code, officialName, region: code, ...populationOf(populationByRegion.get(code)) });
  });
  return entries;
}

function populationOf(population: number | undefined): { population?: number } {
  return population === undefined ? {} : { population };
}

/**
 * An EPCI's département and région are not in the data: take those of the member communes that
 * hold most of its population (an EPCI may straddle two départements, rarely two régions).
 */
function homeOf(epci: RecordView, communes: Table): { departement: string; region?: string } | undefined {
  const weightByDepartement = new Map<string, { weight: number; region: string | undefined }>();
  epci.eachString('membres.code', (bytes, start, end) => {
    const row = communes.codes.rowOf(bytes, start, end);
    if (row === undefined) return;
    const departement = communes.departements.get(row);
    if (departement === undefined) return;
    // The région is the last member's in that département, as it always was.
    const region = communes.regions.get(row);
    const weight = (communes.populations.get(row) ?? 0) + 1;
    const current = weightByDepartement.get(departement);
    if (current === undefined) weightByDepartement.set(departement, { weight, region });
    else {
      current.weight += weight;
      current.region = region;
    }
  });
  let best: { departement: string; region?: string } | undefined;
  let bestWeight = -1;
  for (const [departement, { weight, region }] of weightByDepartement) {
    if (weight > bestWeight) {
      bestWeight = weight;
      best = { departement, ...(region === undefined ? {} : { region }) };
    }
  }
  return best;
}

/** Builds an answer only when asked, with the key order the former one-object-per-entry maps had. */
function find(kind: Exclude<AuthorityKind, 'syndicat'>, code: string): Entry | undefined {
  switch (kind) {
    case 'commune': {
      const table = communeTable();
      const row = table.codes.rowOfText(code);
      if (row === undefined) return undefined;
      const departement = table.departements.get(row);
      const region = table.regions.get(row);
      const population = table.populations.get(row);
      const siren = table.sirens.get(row);
      return {
        code,
        officialName: table.names.get(row) ?? '',
        ...(departement === undefined ? {} : { departement }),
        ...(region === undefined ? {} : { region }),
        ...(population === undefined ? {} : { population }),
        ...(siren === undefined ? {} : { siren }),
      };
    }
    case 'epci': {
      epcis ??= loadEpcis();
      const row = epcis.codes.rowOfText(code);
      if (row === undefined) return undefined;
      const population = epcis.populations.get(row);
      const departement = epcis.departements.get(row);
      const region = epcis.regions.get(row);
      return {
        code,
        officialName: epcis.names.get(row) ?? '',
        siren: code,
        ...(population === undefined ? {} : { population }),
        ...(departement === undefined ? {} : { departement }),
        ...(region === undefined ? {} : { region }),
      };
    }
    case 'departement':
      departements ??= loadDepartements();
      return departements.get(code);
    case 'region':
      regions ??= loadRegions();
      return regions.get(code);
  }
}

/** An authority of the official lists, as a plan for all of them counts it. */
export interface ListedAuthority {
  kind: Exclude<AuthorityKind, 'syndicat'>;
  code: string;
  population?: number;
  /** A commune's, an EPCI's home (where most of its population lives), a département's own. */
  departement?: string;
}

/**
 * Every current commune, EPCI, département and région of the official geography (syndicats have no
 * official list in this data), each once, as lookupAuthority answers for its code. One object per
 * authority, ~37,000: for a command that plans for all of them at once (`territoryctl plan`), not for
 * the operator, which only ever looks its Territories up.
 */
export function listAuthorities(): ListedAuthority[] {
  const listed: ListedAuthority[] = [];
  const fromTable = (kind: 'commune' | 'epci', table: Table) => {
    for (let row = 0; row < table.size; row++) {
      const code = table.codes.get(row);
      // A code listed twice is answered with its last row: counted once, there.
      if (code === undefined || table.codes.rowOfText(code) !== row) continue;
      const population = table.populations.get(row);
      const departement = table.departements.get(row);
      listed.push({
        kind,
        code,
        ...(population === undefined ? {} : { population }),
        ...(departement === undefined ? {} : { departement }),
      });
    }
  };
  fromTable('commune', communeTable());
  epcis ??= loadEpcis();
  fromTable('epci', epcis);
  departements ??= loadDepartements();
  regions ??= loadRegions();
  for (const [kind, entries] of [
    ['departement', departements],
    ['region', regions],
  ] as const) {
    for (const { code, population, departement } of entries.values()) {
      listed.push({
        kind,
        code,
        ...(population === undefined ? {} : { population }),
        ...(departement === undefined ? {} : { departement }),
      });
    }
  }
  return listed;
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
  const entry = find(kind, code);
  if (entry === undefined) {
    return {
      found: false,
      reason: 'UnknownCode',
      message: `no ${KIND_LABELS[kind]} with code ${code} in the official geography (découpage administratif)`,
    };
  }
  return { found: true, kind, ...entry };
}
