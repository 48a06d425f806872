import { describe, expect, it } from 'vitest';
import { parseOperatorConfig } from '../config/operator-config.ts';
import { LABELS, type Owned } from './context.ts';
import { postgresParameters } from './database-sizing.ts';
import { sharedPoolSize } from './database-tier.ts';
import { databasePool } from './fixtures.test-helpers.ts';
import {
  buildPool,
  buildPoolCluster,
  buildPoolNamespace,
  buildPoolNetworkPolicies,
  POOL_PG_HBA,
  type PoolBuildContext,
  poolSizing,
} from './pool.ts';

function poolContext(
  spec: Record<string, unknown> = {},
  over: Partial<PoolBuildContext> = {},
): PoolBuildContext {
  return {
    pool: databasePool('pool-35', spec),
    config: parseOperatorConfig({}),
    allowedRegions: ['cloudgouv-eu-west-1'],
    ...over,
  };
}

const spec = (o: Owned) => o.spec as Record<string, unknown>;
const clusterSpec = (pctx: PoolBuildContext) =>
  spec(buildPoolCluster(pctx)) as {
    postgresql: { parameters: Record<string, string>; pg_hba: string[] };
    [key: string]: unknown;
  };

describe('the pool’s Cluster', () => {
  it('is named after the pool, in its namespace, sized from maxTenants by default', () => {
    const cluster = buildPoolCluster(poolContext());
    const size = sharedPoolSize(100);
    expect(cluster).toMatchObject({
      apiVersion: 'postgresql.cnpg.io/v1',
      kind: 'Cluster',
      metadata: { name: 'pool-35', namespace: 'db-pool-35' },
      spec: {
        instances: 2,
        imageName: 'ghcr.io/cloudnative-pg/postgresql:17',
        enableSuperuserAccess: false,
        storage: { size: size.storage },
        resources: {
          requests: { cpu: '1000m', memory: '2624Mi' },
          limits: { cpu: '4000m', memory: '2624Mi' },
        },
        bootstrap: { initdb: { dataChecksums: true } },
      },
    });
    expect(size).toMatchObject({ storage: '110Gi', requests: { cpu: '1000m', memory: '2624Mi' } });
  });

  it('stays in the regions the sovereignty gate allowed the pool, one instance per zone', () => {
    expect(spec(buildPoolCluster(poolContext())).affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'topology.kubernetes.io/region', operator: 'In', values: ['cloudgouv-eu-west-1'] },
              ],
            },
          ],
        },
      },
      enablePodAntiAffinity: true,
      topologyKey: 'topology.kubernetes.io/zone',
    });
  });

  it('takes TLS 1.3 and SCRAM only, the memory parameters of its limit, and the pool’s timeouts', () => {
    const { parameters } = clusterSpec(poolContext()).postgresql;
    expect(parameters).toEqual({
      ssl_min_protocol_version: 'TLSv1.3',
      password_encryption: 'scram-sha-256',
      ...postgresParameters('2624Mi', 200),
      statement_timeout: '30s',
      idle_in_transaction_session_timeout: '60s',
      idle_session_timeout: '10min',
    });
    expect(parameters.max_connections).toBe('200');
    expect(parameters.shared_buffers).toBe('656MB');
  });

  it('lets a role reach only its own Territory’s database, over TLS, and refuses the rest before CloudNativePG’s catch-all', () => {
    const { pg_hba } = clusterSpec(poolContext()).postgresql;
    expect(pg_hba).toEqual([
      'hostnossl all all all reject',
      'hostssl samerole all all scram-sha-256',
      'host all all all reject',
    ]);
    expect(pg_hba).toBe(POOL_PG_HBA);
  });

  it('takes the size the pool gives, field by field, and the timeouts and connections it says', () => {
    const pctx = poolContext({
      instances: 3,
      maxConnections: 400,
      resources: { limits: { memory: '8Gi' } },
      storage: { size: '500Gi', storageClass: 'fast-ssd' },
      limits: { statementTimeout: '5min', idleSessionTimeout: '0' },
    });
    const cluster = clusterSpec(pctx);
    expect(cluster).toMatchObject({
      instances: 3,
      storage: { size: '500Gi', storageClass: 'fast-ssd' },
      resources: { requests: { cpu: '1000m', memory: '8Gi' }, limits: { cpu: '4000m', memory: '8Gi' } },
    });
    expect(cluster.postgresql.parameters).toMatchObject({
      ...postgresParameters('8Gi', 400),
      statement_timeout: '5min',
      idle_session_timeout: '0',
    });
  });

  it('never shrinks the live volume', () => {
    expect(poolSizing(poolContext({}, { liveStorage: '300Gi' })).storage).toBe('300Gi');
    expect(poolSizing(poolContext({}, { liveStorage: '50Gi' })).storage).toBe('110Gi');
  });
});

describe('the pool’s namespace', () => {
  it('is the operator’s, Pod Security restricted, labelled for the pool', () => {
    expect(buildPoolNamespace(poolContext())).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'db-pool-35',
        labels: {
          [LABELS.managedBy]: 'territory-operator',
          [LABELS.partOf]: 'database-pool',
          [LABELS.pool]: 'pool-35',
          [LABELS.component]: 'namespace',
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/audit': 'restricted',
          'pod-security.kubernetes.io/warn': 'restricted',
        },
      },
    });
  });
});

describe('the pool’s NetworkPolicies', () => {
  const byName = (policies: Owned[]) => new Map(policies.map((p) => [p.metadata?.name, spec(p)]));

  it('deny everything, then open DNS, the namespace itself, CloudNativePG, and PostgreSQL to its tenants only', () => {
    const policies = byName(buildPoolNetworkPolicies(poolContext()));
    expect([...policies.keys()]).toEqual([
      'default-deny',
      'allow-dns',
      'allow-same-namespace',
      'allow-cnpg-operator',
      'allow-tenants',
    ]);
    expect(policies.get('allow-tenants')).toEqual({
      podSelector: { matchLabels: { 'cnpg.io/cluster': 'pool-35' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'sovereign.dev/pool': 'pool-35' } } }],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
      ],
    });
    expect(policies.get('allow-cnpg-operator')).toMatchObject({
      podSelector: { matchLabels: { 'cnpg.io/cluster': 'pool-35' } },
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'cnpg-system' } } }] },
      ],
    });
  });

  it('let the instances reach the API server once its addresses are known', () => {
    const policies = byName(
      buildPoolNetworkPolicies(poolContext({}, { apiServerAddresses: ['10.0.0.1'], apiServerPorts: [6443] })),
    );
    expect(policies.get('allow-api-server')).toEqual({
      podSelector: { matchLabels: { 'cnpg.io/cluster': 'pool-35' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.1/32' } }], ports: [{ protocol: 'TCP', port: 6443 }] }],
    });
  });
});

describe('buildPool', () => {
  it('builds every object in the pool’s namespace, none owned by the DatabasePool (its deletion deletes no data)', () => {
    const { namespace, network, cluster } = buildPool(poolContext());
    for (const o of [...network, cluster]) {
      expect(o.metadata?.namespace).toBe('db-pool-35');
      expect(o.metadata?.labels).toMatchObject({
        [LABELS.managedBy]: 'territory-operator',
        [LABELS.pool]: 'pool-35',
      });
      expect(o.metadata?.labels?.[LABELS.territory]).toBeUndefined();
    }
    for (const o of [namespace, ...network, cluster]) expect(o.metadata?.ownerReferences).toBeUndefined();
  });

  it('is deterministic', () => {
    expect(buildPool(poolContext())).toEqual(buildPool(poolContext()));
  });
});
