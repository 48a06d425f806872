// Network isolation of a Territory: deny everything in and out, then open only what the stack needs:
// DNS, traffic inside the namespace, the CloudNativePG operator reaching its instances, instances
// reaching the API server, and HTTPS to the backup destination when its CIDRs are known. A Territory whose
// database is in a pool has no instances: it reaches its pool's, on PostgreSQL's port, instead. The
// building blocks serve the pools' namespaces too (pool.ts).
//
// The wider openings select Pods by labels a tenant cannot put on its own Pods: CloudNativePG's
// `cnpg.io/` keys and the platform's `sovereign.dev/` keys are reserved by the chart's admission policy
// (a tenant's Pod, Deployment, Job… carrying one is refused), so an application Pod cannot dress up as
// a database instance to reach the API server or the object store.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { BuildContext, Owned } from './context.ts';
import { LABELS, ownedMeta } from './context.ts';
import { CLUSTER_NAME } from './database.ts';
import { poolClusterName } from './database-names.ts';

const NS_NAME_LABEL = 'kubernetes.io/metadata.name';

/** The Pods of a CloudNativePG Cluster: its instances and its initdb/join Job Pods (which also read the API). */
export function clusterPods(cluster: string) {
  return { matchLabels: { 'cnpg.io/cluster': cluster } };
}

/** The database's Pods, in a Territory's own cluster. */
const DATABASE_PODS = clusterPods(CLUSTER_NAME);

/** The logical-backup CronJob's Pods (labels set in backup.ts). */
export function backupPodLabels(ctx: BuildContext): Record<string, string> {
  return { [LABELS.territory]: ctx.territory.metadata.name, [LABELS.component]: 'backup' };
}

/**
 * Ports the API server listens on, as published in the `kubernetes` Service's EndpointSlices; when
 * nothing is published, the two ports API servers use in practice.
 */
export function apiServerPorts(ctx: ApiServerFacts): number[] {
  return ctx.apiServerPorts?.length ? ctx.apiServerPorts : [443, 6443];
}

/** A NetworkPolicy named `name` with the metadata `meta` gives it (a Territory's, or a pool's). */
function networkPolicy(meta: PolicyMeta, name: string, spec: Record<string, unknown>): Owned {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(name),
    spec: { podSelector: {}, ...spec },
  };
}

export type PolicyMeta = (name: string) => V1ObjectMeta;

/** What the API server's policy needs to know of it: the configured CIDRs, or its published addresses and ports. */
export type ApiServerFacts = Pick<BuildContext, 'config' | 'apiServerAddresses' | 'apiServerPorts'>;

/**
 * The policies every namespace holding the operator's workloads starts from: deny everything in and out,
 * then DNS and traffic inside the namespace.
 */
export function baselinePolicies(meta: PolicyMeta): Owned[] {
  return [
    networkPolicy(meta, 'default-deny', { policyTypes: ['Ingress', 'Egress'] }),
    networkPolicy(meta, 'allow-dns', {
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: 'kube-system' } } }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    }),
    networkPolicy(meta, 'allow-same-namespace', {
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
    }),
  ];
}

/** The CloudNativePG operator reaching a Cluster's instances: their status endpoint and PostgreSQL. */
export function cnpgOperatorPolicy(meta: PolicyMeta, cnpgNamespace: string, pods: object): Owned {
  return networkPolicy(meta, 'allow-cnpg-operator', {
    podSelector: pods,
    policyTypes: ['Ingress'],
    ingress: [
      {
        from: [{ namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: cnpgNamespace } } }],
        ports: [
          { protocol: 'TCP', port: 8000 },
          { protocol: 'TCP', port: 5432 },
        ],
      },
    ],
  });
}

/** A Cluster's instances reaching the API server (CloudNativePG's instance manager), when its addresses are known. */
export function apiServerPolicy(meta: PolicyMeta, facts: ApiServerFacts, pods: object): Owned | undefined {
  const cidrs = apiServerCidrs(facts);
  if (cidrs.length === 0) return undefined;
  return networkPolicy(meta, 'allow-api-server', {
    podSelector: pods,
    policyTypes: ['Egress'],
    egress: [
      {
        to: cidrs.map((cidr) => ({ ipBlock: { cidr } })),
        ports: apiServerPorts(facts).map((port) => ({ protocol: 'TCP', port })),
      },
    ],
  });
}

function backupHost(ctx: BuildContext): string | undefined {
  try {
    return new URL(ctx.territory.spec.backup.destination.endpoint).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The port backups connect to: the endpoint's own, else HTTPS's. */
function backupPort(ctx: BuildContext): number {
  try {
    return Number(new URL(ctx.territory.spec.backup.destination.endpoint).port || 443);
  } catch {
    return 443;
  }
}

/**
 * Where CloudNativePG's instance managers reach the API server: the configured CIDRs, else the
 * addresses the cluster itself publishes for the `kubernetes` Service. Policies are enforced after
 * the Service's DNAT, so these are the API server's real addresses, not the ClusterIP.
 */
export function apiServerCidrs(ctx: ApiServerFacts): string[] {
  if (ctx.config.apiServerCidrs.length > 0) return ctx.config.apiServerCidrs;
  return (ctx.apiServerAddresses ?? []).map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`));
}

/** The configured CIDRs of the backup destination's host: where backup Pods may open HTTPS. */
export function backupEgressCidrs(ctx: BuildContext): string[] {
  const host = backupHost(ctx);
  return ctx.config.backupEgress.filter((e) => e.host.toLowerCase() === host).flatMap((e) => e.cidrs);
}

export function buildNetworkPolicies(ctx: BuildContext): Owned[] {
  const meta: PolicyMeta = (name) => ownedMeta(ctx, name, 'network');
  const pool = ctx.databasePool;
  const policies: Owned[] = baselinePolicies(meta);
  if (pool) {
    // No database here: the Territory's Pods reach its pool's instances, on PostgreSQL's port only (the
    // pool's namespace lets in the namespaces labelled for it: pool.ts).
    policies.push(
      networkPolicy(meta, 'allow-database-pool', {
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: pool.namespace } },
                podSelector: clusterPods(poolClusterName(pool)),
              },
            ],
            ports: [{ protocol: 'TCP', port: 5432 }],
          },
        ],
      }),
    );
  } else {
    policies.push(cnpgOperatorPolicy(meta, ctx.config.cnpgNamespace, DATABASE_PODS));
    const apiServer = apiServerPolicy(meta, ctx, DATABASE_PODS);
    if (apiServer) policies.push(apiServer);
  }
  const cidrs = backupEgressCidrs(ctx);
  if (cidrs.length > 0) {
    const egress = [
      {
        to: cidrs.map((cidr) => ({ ipBlock: { cidr } })),
        ports: [{ protocol: 'TCP', port: backupPort(ctx) }],
      },
    ];
    // Logical backups run in the CronJob's Pods; physical backups and the WAL archive in the instances (a
    // pool's are the platform's). Application Pods get no way out to the object store.
    policies.push(
      networkPolicy(meta, 'allow-backup-destination', {
        podSelector: { matchLabels: backupPodLabels(ctx) },
        policyTypes: ['Egress'],
        egress,
      }),
    );
    if (!pool) {
      policies.push(
        networkPolicy(meta, 'allow-database-backup-destination', {
          podSelector: DATABASE_PODS,
          policyTypes: ['Egress'],
          egress,
        }),
      );
    }
  }
  return policies;
}
