// A DatabasePool's own objects: its namespace, its CloudNativePG Cluster and the namespace's NetworkPolicies.
// The Territories' databases and roles in it are theirs (shared-database.ts). Pure.
//
// The Cluster is the dedicated tier's, hardened for tenants that must not see each other:
//   - TLS only, TLS 1.3, SCRAM passwords, no superuser reachable from the network (as a dedicated cluster);
//   - a static pg_hba: every non-TLS connection refused first, then `hostssl samerole all all
//     scram-sha-256` (a role connects only to the database named after a role it is a member of: its
//     Territory's group, shared-database.ts), then everything else refused, so that CloudNativePG's
//     trailing `host all all all <method>` is never reached. Static: no line per tenant, so no list that
//     two Territories' reconciles would write over each other;
//   - the memory parameters of a dedicated cluster (database-sizing.ts), for the pool's memory limit and
//     max_connections, and the pool's timeouts as server defaults.
//
// Ownership: none of these objects carries an owner reference to the DatabasePool. Garbage collection
// would delete the Cluster, every tenant's data with it, and the NetworkPolicies, opening the namespace,
// the moment the DatabasePool were deleted with the operator away; the operator finds them by their
// labels and decides what a pool's deletion does (not built yet: a pool with tenants must refuse it).
import type { DatabasePool } from '../api/pool.ts';
import { defaultMaxConnections } from '../api/pool.ts';
import { admittedQuantityValue } from '../api/quantity.ts';
import type { OperatorConfig } from '../config/operator-config.ts';
import type { Owned } from './context.ts';
import { LABELS, MANAGED_BY, regionAffinity } from './context.ts';
import { poolClusterName } from './database-names.ts';
import { type ClusterSizing, type DatabaseSize, resolveClusterSizing } from './database-sizing.ts';
import { sharedPoolSize } from './database-tier.ts';
import { POD_SECURITY_LABELS } from './namespace.ts';
import {
  apiServerPolicy,
  baselinePolicies,
  clusterPods,
  cnpgOperatorPolicy,
  type PolicyMeta,
} from './network.ts';

/** What the pool's builders receive: the pool, configuration, and the facts the reconciler read. */
export interface PoolBuildContext {
  /** The parsed DatabasePool (defaults applied). */
  pool: DatabasePool;
  config: OperatorConfig;
  /** Regions the pool's instances may run in: the sovereignty verdict on the pool's own hosting. */
  allowedRegions: string[];
  /** The API server's addresses and ports, as for a Territory (BuildContext). */
  apiServerAddresses?: string[];
  apiServerPorts?: number[];
  /** The live Cluster's volume size: volumes never shrink (maxTenants lowered, spec.storage.size removed). */
  liveStorage?: string;
}

/** The value of the part-of label on a pool's objects (a Territory's say `territory`). */
export const POOL_PART_OF = 'database-pool';

export function poolLabels(pctx: PoolBuildContext, component: string): Record<string, string> {
  return {
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.partOf]: POOL_PART_OF,
    [LABELS.pool]: pctx.pool.metadata.name,
    [LABELS.component]: component,
  };
}

function poolMeta(
  pctx: PoolBuildContext,
  name: string,
  component: string,
  labels: Record<string, string> = {},
) {
  return {
    name,
    namespace: pctx.pool.spec.namespace,
    labels: { ...poolLabels(pctx, component), ...labels },
  };
}

/**
 * The pool's namespace: created by the operator (its admission policy lets it write only in the namespaces
 * it manages), Pod Security `restricted` like a Territory's, and never a Territory's.
 */
export function buildPoolNamespace(pctx: PoolBuildContext): Owned {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: pctx.pool.spec.namespace,
      labels: { ...poolLabels(pctx, 'namespace'), ...POD_SECURITY_LABELS },
    },
  };
}

const CPU_LIMIT_PER_REQUEST = 4;

/** The default size of a pool: sharedPoolSize(maxTenants), a memory limit equal to its request, CPU ×4. */
export function defaultPoolSize(pool: DatabasePool): DatabaseSize {
  const size = sharedPoolSize(pool.spec.maxTenants);
  const cpuMillicores = Math.round(admittedQuantityValue(size.requests.cpu) * 1000);
  return {
    instances: pool.spec.instances,
    storage: size.storage,
    requests: size.requests,
    // Memory reserved in full, as for a dedicated cluster; CPU may burst to four times its request, the
    // dedicated profiles' ratio.
    limits: { cpu: `${cpuMillicores * CPU_LIMIT_PER_REQUEST}m`, memory: size.requests.memory },
    maxConnections: pool.spec.maxConnections ?? defaultMaxConnections(pool.spec.maxTenants),
  };
}

/** The pool's size: the default from maxTenants, then each field of spec.resources and spec.storage. */
export function poolSizing(pctx: PoolBuildContext): ClusterSizing {
  const { spec } = pctx.pool;
  return resolveClusterSizing(
    defaultPoolSize(pctx.pool),
    {
      ...(spec.resources ? { resources: spec.resources } : {}),
      ...(spec.storage ? { storage: spec.storage } : {}),
    },
    pctx.liveStorage,
  );
}

/**
 * pg_hba, after CloudNativePG's own fixed rules (local peer access for its instance manager and exporter,
 * certificate access for streaming_replica and its poolers) and before its trailing catch-all.
 */
export const POOL_PG_HBA = [
  // `host` matches plain-text connections too: only an explicit reject, first, makes TLS mandatory.
  'hostnossl all all all reject',
  // A role reaches only the database named after a role it is a member of: its Territory's group.
  'hostssl samerole all all scram-sha-256',
  // Everything else (any other database, another tenant's included), refused here rather than by the
  // password method CloudNativePG appends (`host all all all scram-sha-256`), which would let any role
  // with a password try any database whose CONNECT privilege PUBLIC still has.
  'host all all all reject',
];

export function buildPoolCluster(pctx: PoolBuildContext): Owned {
  const { pool, config } = pctx;
  const sizing = poolSizing(pctx);
  const { limits } = pool.spec;
  const storageClass = pool.spec.storage?.storageClass;
  return {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: poolMeta(pctx, poolClusterName(pool.metadata), 'database'),
    spec: {
      instances: sizing.instances,
      imageName: `${config.postgresImage}:${pool.spec.postgresVersion}`,
      enableSuperuserAccess: false,
      storage: { size: sizing.storage, ...(storageClass ? { storageClass } : {}) },
      resources: sizing.resources,
      affinity: {
        nodeAffinity: regionAffinity(pctx),
        enablePodAntiAffinity: true,
        topologyKey: 'topology.kubernetes.io/zone',
      },
      // CloudNativePG always creates an application database and its owner (`app`, its password in
      // `<pool>-app`): the platform's, in the pool's namespace; no Territory is a member of `app`, so
      // pg_hba keeps every tenant out of it.
      bootstrap: { initdb: { dataChecksums: true } },
      postgresql: {
        parameters: {
          ssl_min_protocol_version: 'TLSv1.3',
          password_encryption: 'scram-sha-256',
          ...sizing.parameters,
          // Server defaults: a session may change them (SET), so they bound what a tenant's application
          // forgets, not what a tenant decides. The hard bounds are the connection limits and the
          // instances' CPU and memory (docs/shared-tier.md).
          statement_timeout: limits.statementTimeout,
          idle_in_transaction_session_timeout: limits.idleInTransactionSessionTimeout,
          idle_session_timeout: limits.idleSessionTimeout,
        },
        pg_hba: POOL_PG_HBA,
      },
    },
  };
}

/**
 * The pool namespace's NetworkPolicies: deny everything, then DNS and traffic between its own Pods (the
 * instances replicate), the CloudNativePG operator, the instances reaching the API server, and PostgreSQL's
 * port from the namespaces labelled sovereign.dev/pool=<pool>: its tenants' (the operator labels them, and a
 * tenant cannot label its own namespace). No other namespace, another pool's tenants included.
 */
export function buildPoolNetworkPolicies(pctx: PoolBuildContext): Owned[] {
  const meta: PolicyMeta = (name) => poolMeta(pctx, name, 'network');
  const pods = clusterPods(poolClusterName(pctx.pool.metadata));
  const policies = [
    ...baselinePolicies(meta),
    cnpgOperatorPolicy(meta, pctx.config.cnpgNamespace, pods),
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('allow-tenants'),
      spec: {
        podSelector: pods,
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { [LABELS.pool]: pctx.pool.metadata.name } } }],
            ports: [{ protocol: 'TCP', port: 5432 }],
          },
        ],
      },
    },
  ];
  const apiServer = apiServerPolicy(meta, pctx, pods);
  if (apiServer) policies.push(apiServer);
  return policies;
}

/** Everything of the pool, in the order it is applied: namespace, isolation, then the Cluster. */
export function buildPool(pctx: PoolBuildContext): { namespace: Owned; network: Owned[]; cluster: Owned } {
  return {
    namespace: buildPoolNamespace(pctx),
    network: buildPoolNetworkPolicies(pctx),
    cluster: buildPoolCluster(pctx),
  };
}
