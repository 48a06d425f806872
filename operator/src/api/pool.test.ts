import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DATABASE_POOL_CRD, openApiSchemaOf } from './crd.ts';
import { defaultMaxConnections, PG_DURATION, parseDatabasePool } from './pool.ts';
import { EXAMPLES_DIR, type JsonObject, mergePatch } from './test-fixtures.ts';

function pool(patch: JsonObject = {}): JsonObject {
  return mergePatch(
    {
      apiVersion: 'sovereign.dev/v1alpha1',
      kind: 'DatabasePool',
      metadata: { name: 'pool-35' },
      spec: { namespace: 'db-pool-35', maxTenants: 100, serves: { departements: ['35'] } },
    },
    patch,
  ) as JsonObject;
}

const errorsOf = (patch: JsonObject) => {
  const result = parseDatabasePool(pool(patch));
  return result.ok ? [] : result.errors;
};

describe('parseDatabasePool', () => {
  it('fills in every default of a minimal pool', () => {
    const result = parseDatabasePool(pool());
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.pool.spec).toEqual({
      namespace: 'db-pool-35',
      instances: 2,
      postgresVersion: '17',
      hosting: { level: 'standard' },
      maxTenants: 100,
      serves: { departements: ['35'] },
      limits: {
        connectionsPerTenant: 20,
        statementTimeout: '30s',
        idleInTransactionSessionTimeout: '60s',
        idleSessionTimeout: '10min',
      },
    });
  });

  it('accepts the example pool', () => {
    const manifest = parse(readFileSync(`${EXAMPLES_DIR}pools/ille-et-vilaine.yaml`, 'utf8'));
    const result = parseDatabasePool(manifest);
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it('takes a selector instead of départements, or both', () => {
    const selector = {
      matchLabels: { 'sovereign.dev/pilot': 'true' },
      matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }],
    };
    expect(errorsOf({ spec: { serves: { departements: null, territorySelector: selector } } })).toEqual([]);
    expect(errorsOf({ spec: { serves: { territorySelector: {} } } })).toEqual([]);
  });

  it.each([
    [
      'a name CloudNativePG refuses for a Cluster (a digit first)',
      { metadata: { name: '35-pool' } },
      'metadata.name',
    ],
    ['a name over 50 characters', { metadata: { name: `p${'o'.repeat(50)}` } }, 'metadata.name'],
    ['no namespace', { spec: { namespace: null } }, 'spec.namespace'],
    ['a namespace Kubernetes keeps', { spec: { namespace: 'kube-system' } }, 'spec.namespace'],
    ['no maxTenants', { spec: { maxTenants: null } }, 'spec.maxTenants'],
    ['maxTenants of 0', { spec: { maxTenants: 0 } }, 'spec.maxTenants'],
    ['serving nothing', { spec: { serves: { departements: null } } }, 'spec.serves'],
    ['an empty list of départements', { spec: { serves: { departements: [] } } }, 'spec.serves.departements'],
    [
      'a département code that is not one',
      { spec: { serves: { departements: ['350'] } } },
      'spec.serves.departements[0]',
    ],
    [
      'a département twice',
      { spec: { serves: { departements: ['35', '35'] } } },
      'spec.serves.departements[1]',
    ],
    [
      'In without values',
      { spec: { serves: { territorySelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } } } },
      'spec.serves.territorySelector.matchExpressions[0].values',
    ],
    [
      'Exists with values',
      {
        spec: {
          serves: {
            territorySelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
          },
        },
      },
      'spec.serves.territorySelector.matchExpressions[0].values',
    ],
    [
      'a matchLabels key that is not a label key',
      { spec: { serves: { territorySelector: { matchLabels: { 'a b': 'x' } } } } },
      'spec.serves.territorySelector.matchLabels.a b',
    ],
    ['a hosting level that does not exist', { spec: { hosting: { level: 'gold' } } }, 'spec.hosting.level'],
    ['a PostgreSQL version not offered', { spec: { postgresVersion: '14' } }, 'spec.postgresVersion'],
    [
      'a timeout with a unit PostgreSQL does not know',
      { spec: { limits: { statementTimeout: '30 seconds' } } },
      'spec.limits.statementTimeout',
    ],
    [
      'a timeout beyond what PostgreSQL takes',
      { spec: { limits: { idleSessionTimeout: '999h' } } },
      'spec.limits.idleSessionTimeout',
    ],
    [
      'a tenant allowed more than half of the connections',
      { spec: { maxConnections: 30, limits: { connectionsPerTenant: 16 } } },
      'spec.limits.connectionsPerTenant',
    ],
    [
      'a tenant allowed more than half of the default connections',
      { spec: { maxTenants: 10, limits: { connectionsPerTenant: 56 } } },
      'spec.limits.connectionsPerTenant',
    ],
    [
      'a request above its limit',
      { spec: { resources: { requests: { memory: '4Gi' }, limits: { memory: '2Gi' } } } },
      'spec.resources.requests.memory',
    ],
    ['a volume under 1Gi', { spec: { storage: { size: '512Mi' } } }, 'spec.storage.size'],
    ['an unknown field', { spec: { replicas: 3 } }, 'spec.replicas'],
  ])('refuses %s, naming the field', (_what, patch, field) => {
    const errors = errorsOf(patch as JsonObject);
    expect(
      errors.filter((e) => e.startsWith(field)),
      errors.join(' | '),
    ).not.toEqual([]);
  });

  it('says why a tenant may not take more than half of the connections', () => {
    expect(errorsOf({ spec: { maxConnections: 30, limits: { connectionsPerTenant: 16 } } })).toEqual([
      "spec.limits.connectionsPerTenant: must be at most half of the pool's max_connections (30): one tenant must never take every connection",
    ]);
  });

  it('defaults max_connections to 100 plus one per tenant', () => {
    expect(defaultMaxConnections(1)).toBe(101);
    expect(defaultMaxConnections(400)).toBe(500);
  });
});

describe('PG_DURATION', () => {
  it('takes what PostgreSQL takes for a timeout, below its 2147483647 ms', () => {
    for (const ok of [
      '0',
      '500ms',
      '999999999ms',
      '30s',
      '999999s',
      '10min',
      '9999min',
      '2h',
      '99h',
      '1d',
      '9d',
    ])
      expect(PG_DURATION.test(ok), ok).toBe(true);
    for (const bad of ['', '30', '-1s', '030s', '1.5s', '30 s', '1000000s', '10000min', '100h', '10d', '1w'])
      expect(PG_DURATION.test(bad), bad).toBe(false);
  });
});

describe('the DatabasePool CRD', () => {
  it('requires what the platform must say: namespace, maxTenants, serves', () => {
    const spec = (openApiSchemaOf(DATABASE_POOL_CRD).properties as Record<string, JsonObject>).spec;
    expect(spec?.required).toEqual(['namespace', 'maxTenants', 'serves']);
  });

  it('lists tenants, readiness and age', () => {
    const columns = DATABASE_POOL_CRD.printerColumns.map((c) => c.name);
    expect(columns).toEqual(['Namespace', 'Tenants', 'Max-Tenants', 'Level', 'Ready', 'Reason', 'Age']);
  });

  it('has the same rules as the zod schema where CEL can say them', () => {
    const text = JSON.stringify(openApiSchemaOf(DATABASE_POOL_CRD));
    for (const message of [
      'spec.serves must give departements, territorySelector or both',
      'spec.limits.connectionsPerTenant must be at most half',
      'spec.namespace is immutable',
      'metadata.name must be a DNS-1035 label',
      'values must not be empty with operator In or NotIn',
      'spec.storage.size cannot shrink',
    ])
      expect(text).toContain(message);
  });
});
