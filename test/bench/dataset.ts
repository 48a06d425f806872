// The Territories a bench run creates: real authorities from the official geography
// (@etalab/decoupage-administratif), one manifest each, as a platform team would declare them.
// Pure apart from reading the shipped JSON once.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { lookupAuthority } from '../../operator/src/api/geography.ts';
import { API_VERSION, KIND } from '../../operator/src/api/territory.ts';

/** A bench size: all EPCIs, the first N EPCIs, or the first N current communes (file order). */
export interface SizeSpec {
  /** As given on the command line: `epci`, `epci:200`, `1000`. */
  label: string;
  kind: 'commune' | 'epci';
  count: number;
}

export const EPCI_COUNT_HINT = 1255;

/**
 * `--size 100,1000,epci` → one size per token. A bare number means the first N communes (the issue's
 * "first N communes"); `epci` means every EPCI of France; `epci:N` the first N EPCIs.
 */
export function parseSizes(text: string): SizeSpec[] {
  return text
    .split(',')
    .map((token) => token.trim())
    .filter(Boolean)
    .map((token): SizeSpec => {
      const epci = /^epci(?::(\d+))?$/.exec(token);
      if (epci) {
        const n = epci[1] === undefined ? Number.POSITIVE_INFINITY : Number(epci[1]);
        return { label: token, kind: 'epci', count: n };
      }
      if (/^\d+$/.test(token) && Number(token) > 0)
        return { label: token, kind: 'commune', count: Number(token) };
      throw new Error(`--size: "${token}" is neither a number of communes, "epci" nor "epci:N"`);
    });
}

interface CommuneRecord {
  code: string;
  nom: string;
  type: string;
}
interface EpciRecord {
  code: string;
  nom: string;
}

function readData<T>(file: string): T[] {
  const path = createRequire(import.meta.url).resolve(`@etalab/decoupage-administratif/data/${file}`);
  return JSON.parse(readFileSync(path, 'utf8')) as T[];
}

export interface Authority {
  kind: 'commune' | 'epci';
  code: string;
  name: string;
}

/** The authorities of one size, in the data's own order (deterministic across runs). */
export function authoritiesFor(size: SizeSpec): Authority[] {
  if (size.kind === 'epci') {
    const all = readData<EpciRecord>('epci.json');
    return all
      .slice(0, Math.min(size.count, all.length))
      .map((e) => ({ kind: 'epci', code: e.code, name: e.nom }));
  }
  const communes = readData<CommuneRecord>('communes.json').filter((c) => c.type === 'commune-actuelle');
  if (size.count > communes.length) {
    throw new Error(`--size ${size.label}: France has only ${communes.length} current communes`);
  }
  return communes.slice(0, size.count).map((c) => ({ kind: 'commune', code: c.code, name: c.nom }));
}

/** Territory name = namespace name: `epci-243500139`, `commune-2a004` (a DNS label, unique). */
export function territoryName(a: Authority): string {
  return `${a.kind}-${a.code.toLowerCase()}`;
}

/**
 * Where the run's Territories keep their database: a cluster of their own each (`dedicated`, the default), or
 * a database each in their département's DatabasePool (`shared`).
 */
export type BenchTier = 'dedicated' | 'shared';

/** Bench Territories carry this label so every object of a run can be found (and only those). */
export const BENCH_LABEL = 'bench.sovereign.dev/run';

/**
 * A realistic Territory: SecNumCloud hosting in the attested Outscale region, two GDPR purposes
 * (so two purpose roles and credential Secrets), admin and reader groups, backups to Outscale.
 */
export function territoryManifest(
  a: Authority,
  runId: string,
  tier: BenchTier = 'dedicated',
): Record<string, unknown> & { metadata: { name: string; labels: Record<string, string> } } {
  const name = territoryName(a);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, labels: { [BENCH_LABEL]: runId } },
    spec: {
      authority: { kind: a.kind, code: a.code },
      controller: {
        contactEmail: `contact@${name}.example.fr`,
        dpo: { email: `dpo@${name}.example.fr` },
        purposes: [
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['residents'], retentionDays: 365 },
          { name: 'waste', dataCategories: ['collection'], dataSubjects: ['households'], retentionDays: 730 },
        ],
      },
      hosting: { level: 'secnumcloud', regions: ['cloudgouv-eu-west-1'] },
      // The Shared tier asked for explicitly, whatever the authority's size: each lands in its département's pool.
      ...(tier === 'shared' ? { database: { tier: 'Shared' } } : {}),
      access: { adminGroups: [`${name}:admins`], readerGroups: [`${name}:auditors`] },
      backup: {
        destination: {
          endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
          bucket: `${name}-backups`,
          credentialsSecret: { name: 'backup-credentials' },
        },
      },
    },
  };
}

/** The département an authority's Territory is served by (its official one), for the pools of a run. */
export function departementOf(a: Authority): string {
  const found = lookupAuthority(a.kind, a.code);
  if (!found.found || !found.departement) throw new Error(`${a.kind} ${a.code}: no official département`);
  return found.departement;
}

/** The DatabasePool of one département in a Shared-tier run: its namespace is `db-pool-<département>`. */
export function poolName(departement: string): string {
  return `pool-${departement.toLowerCase()}`;
}

/**
 * One DatabasePool per département of the run's authorities, as a platform team would declare them for the
 * Shared tier: the Territories' hosting (SecNumCloud, the attested region), room for every authority of the
 * département, the default size from it.
 */
export function poolManifests(
  authorities: Authority[],
  runId: string,
): (Record<string, unknown> & { metadata: { name: string }; spec: { namespace: string } })[] {
  const counts = new Map<string, number>();
  for (const a of authorities) {
    const d = departementOf(a);
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  return [...counts].map(([departement, count]) => ({
    apiVersion: API_VERSION,
    kind: 'DatabasePool',
    metadata: { name: poolName(departement), labels: { [BENCH_LABEL]: runId } },
    spec: {
      namespace: `db-${poolName(departement)}`,
      maxTenants: Math.min(2000, count),
      serves: { departements: [departement] },
      hosting: { level: 'secnumcloud', regions: ['cloudgouv-eu-west-1'] },
    },
  }));
}
