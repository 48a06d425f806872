// Shared fixtures for builder unit tests: a parsed Territory (defaults applied) and a build context.
import { type DatabasePool, parseDatabasePool } from '../api/pool.ts';
import { parseTerritory, type Territory } from '../api/territory.ts';
import { parseOperatorConfig } from '../config/operator-config.ts';
import type { BuildContext } from './context.ts';

export function territory(overrides: { spec?: Record<string, unknown>; name?: string } = {}): Territory {
  const raw = {
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'Territory',
    metadata: {
      name: overrides.name ?? 'rennes-metropole',
      uid: '7c3e1d2a-0000-4000-8000-000000000001',
      generation: 1,
    },
    spec: {
      authority: { kind: 'epci', code: '243500139' },
      controller: {
        contactEmail: 'contact@rennesmetropole.fr',
        dpo: { email: 'dpo@rennesmetropole.fr' },
        purposes: [
          { name: 'mobility', dataCategories: ['trips'], dataSubjects: ['residents'], retentionDays: 365 },
          { name: 'waste', dataCategories: ['collection'], dataSubjects: ['households'], retentionDays: 730 },
        ],
      },
      hosting: { level: 'secnumcloud', regions: ['cloudgouv-eu-west-1'] },
      access: { adminGroups: ['rennes:admins'], readerGroups: ['rennes:auditors'] },
      backup: {
        destination: {
          endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
          bucket: 'rennes-backups',
          credentialsSecret: { name: 'backup-credentials' },
        },
      },
      ...overrides.spec,
    },
  };
  const parsed = parseTerritory(raw);
  if (!parsed.ok) throw new Error(`fixture does not parse: ${parsed.errors.join('; ')}`);
  return parsed.territory;
}

/**
 * The fixture below the SecNumCloud level (which refuses them) with physical backups on, saying that the
 * storage provider can read them; `destination` replaces the fixture's own.
 */
export function withPhysicalBackups(destination?: Record<string, unknown>, name?: string): Territory {
  return territory({
    ...(name ? { name } : {}),
    spec: {
      hosting: { level: 'standard', regions: ['cloudgouv-eu-west-1'] },
      backup: {
        physical: { enabled: true, encryption: 'ProviderManaged' },
        destination: destination ?? {
          endpoint: 'https://oos.cloudgouv-eu-west-1.outscale.com',
          bucket: 'rennes-backups',
          credentialsSecret: { name: 'backup-credentials' },
        },
      },
    },
  });
}

export function context(t: Territory = territory(), over: Partial<BuildContext> = {}): BuildContext {
  return {
    territory: t,
    authority: { officialName: 'Rennes Métropole', departement: '35', region: '53', population: 470_000 },
    config: parseOperatorConfig({
      backupEgress: [{ host: 'oos.cloudgouv-eu-west-1.outscale.com', cidrs: ['171.33.64.0/20'] }],
    }),
    allowedRegions: ['cloudgouv-eu-west-1'],
    backupAllowed: true,
    barmanCloudPlugin: true,
    ...over,
  };
}

/** A DatabasePool serving Ille-et-Vilaine (parsed, defaults applied); `spec` is merged over its own. */
export function databasePool(name = 'pool-35', spec: Record<string, unknown> = {}): DatabasePool {
  const parsed = parseDatabasePool({
    apiVersion: 'sovereign.dev/v1alpha1',
    kind: 'DatabasePool',
    metadata: { name, uid: '7c3e1d2a-0000-4000-8000-0000000000ff' },
    spec: { namespace: `db-${name}`, maxTenants: 100, serves: { departements: ['35'] }, ...spec },
  });
  if (!parsed.ok) throw new Error(`pool fixture does not parse: ${parsed.errors.join('; ')}`);
  return parsed.pool;
}

/** A fake CA certificate, shaped like the pool's (PEM), for the db-ca copy. */
export const POOL_CA_PEM = '-----BEGIN CERTIFICATE-----\nTUlJQmZha2VDQQ==\n-----END CERTIFICATE-----\n';

/** The context of a Territory whose database lives in `pool` (the Shared tier); `serverCa: null`: not read yet. */
export function inPool(
  ctx: BuildContext = context(),
  opts: { pool?: DatabasePool; serverCa?: string | null } = {},
): BuildContext {
  const pool = opts.pool ?? databasePool();
  const serverCa = opts.serverCa === undefined ? POOL_CA_PEM : opts.serverCa;
  return {
    ...ctx,
    databasePool: {
      name: pool.metadata.name,
      namespace: pool.spec.namespace,
      spec: pool.spec,
      ...(serverCa !== null ? { serverCa } : {}),
    },
  };
}
